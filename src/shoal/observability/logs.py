"""The log service: function output becomes CloudWatch Logs events, stored in the log database.

A function's log group is ``/aws/lambda/NAME`` in its region (or its ``LoggingConfig``
group), made on its first event, as Lambda makes it; each environment writes one stream,
named as Lambda names them (``2024/01/31/[$LATEST]<32 hex>``). Writers are the invoker (the
START/END/REPORT frame) and the environments' output pumps; both run on the event loop, so a
stream needs no lock, and writing is only appending to an in-memory list: the hot path never
touches the disk. At most ``FLUSH_DELAY_S`` after an invocation the pending events are handed,
as one batch, to the service's single writer thread, which stores them in one transaction
(:mod:`shoal.observability.logstore`) and then passes each to the subscribers
(:meth:`LogService.subscribe`: Embedded Metric Format extraction plugs in there). Readers flush
first, so a reader always sees every event written before it asked.

A batch the disk refuses (full, I/O error) is kept in memory and retried with the next one (or
the next read), up to ``RETRY_LIMIT`` events (the oldest beyond it are dropped, with an error
logged): events already stored stay stored, and the invoke path never sees the error.

Upgrades: logs kept by earlier versions as JSON lines in ``<data>/logs/<region>%2F<function>/
<stream>.log`` (or ``<data>/logs/<function>/`` before regions) are moved into the database at
start, each file removed once its events are committed.

A log database SQLite cannot read is moved aside (``logs.db.damaged-<time>``) and a new one
started, with an error logged: a damaged log never keeps the server from starting.

Retention: every ``SHOAL_LOG_SWEEP_S`` seconds (an hour unless the environment says) the
events older than their group's retention are deleted; ``clock`` is the service's time source.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from shoal.errors import AwsError
from shoal.observability import events as reads
from shoal.observability import telemetry
from shoal.observability.groups import Groups
from shoal.observability.logstore import LogDatabase, Pending
from shoal.store.sqlite import StoreError

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.logs")
T = TypeVar("T")
FLUSH_DELAY_S = 0.05
RETRY_LIMIT = 100_000
MIGRATE_BATCH = 10_000
# callback(group, stream, event), on the writer thread, after the event is stored.
Subscriber = Callable[[str, str, Pending], None]


def stream_name(version: str, env_id: str) -> str:
    """AWS's shape: ``2024/01/31/[$LATEST]<id>``."""
    return time.strftime("%Y/%m/%d/", time.gmtime()) + f"[{version}]{env_id}"


def now_ms(clock: Callable[[], float] = time.time) -> int:
    return int(clock() * 1000)


class LogStream:
    """Events of one stream, handed to the service. Partial lines are held until their
    newline."""

    def __init__(self, service: LogService, region: str, group: str, name: str) -> None:
        self.region = region
        self.group = group
        self.name = name
        self._service = service
        self._partial = ""
        self._closed = not service.recording  # the bench's baseline keeps nothing
        # Called with each line of output (write's, not event's) before it is stored: False
        # drops it (ApplicationLogLevel of a JSON-format function). None keeps every line.
        self.line_filter: Callable[[str], bool] | None = None

    def write(self, text: str) -> None:
        """Write output text; each complete line becomes one event."""
        text = self._partial + text
        lines = text.split("\n")
        self._partial = lines.pop()
        if lines and self.line_filter is not None:
            lines = [line for line in lines if self.line_filter(line)]
        if lines:
            self._emit(lines)

    def flush_partial(self) -> None:
        if self._partial:
            line, self._partial = self._partial, ""
            if self.line_filter is None or self.line_filter(line):
                self._emit([line])

    def event(self, message: str, platform: bool = False) -> None:
        """One event, newlines and all (a record of the runtime's log sink, a platform line)."""
        self.flush_partial()
        self._emit([message], platform)

    def events(self, messages: Sequence[str], platform: bool = False) -> None:
        """Several events with one timestamp (the invoker's END and REPORT lines)."""
        self.flush_partial()
        self._emit(messages, platform)

    def _emit(self, lines: Sequence[str], platform: bool = False) -> None:
        if self._closed:
            return
        ts = int(self._service.clock() * 1000)
        region, group, name = self.region, self.group, self.name
        if len(lines) == 1:
            self._service.pending.append(Pending(region, group, name, ts, ts, lines[0], platform))
        else:
            self._service.pending += [
                Pending(region, group, name, ts, ts, m, platform) for m in lines
            ]

    def flush(self) -> None:
        """Ask for the pending events to be stored soon."""
        self._service.flush_soon()

    def close(self) -> None:
        self.flush_partial()
        self._closed = True
        self._service.flush_soon()


class LogService:
    def __init__(self, shoal: Shoal) -> None:
        self.root = shoal.settings.log_dir
        self.default_region = shoal.settings.region
        self.clock: Callable[[], float] = time.time
        self.sweep_interval_s = float(os.environ.get("SHOAL_LOG_SWEEP_S", "3600"))
        self.pending: list[Pending] = []  # event loop only
        self._db: LogDatabase | None = None
        self._groups: Groups | None = None
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="shoal-logs")
        self._last: Future[None] | None = None  # the latest batch handed to the writer
        # Batches the disk refused: the writer thread's (the loop only tests it is non-empty).
        self._retry: list[Pending] = []
        self._subscribers: list[Subscriber] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.recording = telemetry.recording()  # False: the bench's baseline (telemetry.py)

    @property
    def db(self) -> LogDatabase:
        if self._db is None:
            raise RuntimeError("the log service is not started")
        return self._db

    @property
    def groups(self) -> Groups:
        if self._groups is None:
            raise RuntimeError("the log service is not started")
        return self._groups

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._db = self._open(self.root / "logs.db")
        self._groups = Groups(self._db)
        await asyncio.get_running_loop().run_in_executor(self._writer, self._migrate)
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    def _open(self, path: Path) -> LogDatabase:
        """The log database; one SQLite cannot read (damaged) is moved aside, not fatal: logs
        are not metadata, and a server that cannot start would lose the new ones too."""
        try:
            return LogDatabase(path)
        except sqlite3.DatabaseError as e:
            aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
            log.error("the log database %s is damaged (%s): moved to %s, starting a new one",
                      path, e, aside)  # fmt: skip
            path.rename(aside)
            for suffix in ("-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            return LogDatabase(path)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.flush_all()
        if self._last is not None:
            await asyncio.wrap_future(self._last)
        self._writer.shutdown(wait=True)
        if self._db is not None:
            self._db.close()

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(group, stream, event)`` for every event stored from now on (function
        output and PutLogEvents alike), on the writer thread, after its batch is committed:
        off the invoke path, in the order events were stored. It must be quick and must not
        block; an exception it raises is logged and ignored."""
        self._subscribers.append(callback)

    # ------------------------------------------------------------------ writing

    def open_stream(self, region: str, function_name: str, version: str, env_id: str,
                    group: str | None = None) -> LogStream:  # fmt: skip
        name = stream_name(version, env_id)
        return LogStream(self, region, group or f"/aws/lambda/{function_name}", name)

    def flush_soon(self) -> None:
        if self._flush_handle is None and self.pending:
            self._flush_handle = asyncio.get_running_loop().call_later(
                FLUSH_DELAY_S, self.flush_all
            )

    def flush_all(self) -> Future[None] | None:
        """Hand every pending event to the writer; the future of their batch."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        # Events the disk refused are retried too (a read after space came back sees them).
        if self.pending or self._retry:
            batch, self.pending = self.pending, []
            self._last = self._writer.submit(self._store, batch)
        return self._last

    def _store(self, batch: list[Pending]) -> None:
        """Writer thread: store the batch (and any the disk refused before), then publish."""
        if self._retry:
            batch, self._retry = self._retry + batch, []
        try:
            self.db.append(batch, now_ms(self.clock))
        except StoreError as e:
            if len(batch) > RETRY_LIMIT:
                log.error("dropping %d log events the disk refused", len(batch) - RETRY_LIMIT)
                batch = batch[-RETRY_LIMIT:]
            self._retry = batch
            log.error("log events not stored yet (%d kept to retry): %s", len(batch), e)
            return
        self._publish(batch)

    def _publish(self, batch: Sequence[Pending]) -> None:
        for callback in self._subscribers:
            for event in batch:
                if event.platform:  # START/REPORT…: no subscriber's business (EMF reads output)
                    continue
                try:
                    callback(event.group, event.stream, event)
                except Exception:
                    log.exception("log subscriber %r failed", callback)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a change on the writer thread (after the events handed to it before)."""
        self.flush_all()
        return await asyncio.wrap_future(self._writer.submit(fn, *args))

    def put(self, batch: list[Pending]) -> None:
        """Writer thread: store events given through the API (errors are the caller's)."""
        self.db.append(batch, now_ms(self.clock))
        self._publish(batch)

    # ------------------------------------------------------------------ reading

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a read in a thread, after every event written before it is stored."""
        last = self.flush_all()
        if last is not None:
            await asyncio.wrap_future(last)
        return await asyncio.to_thread(fn, *args)

    def sync(self) -> None:
        """Block until every event written so far is stored (the synchronous readers')."""
        last = self.flush_all()
        if last is not None:
            last.result()

    def events(
        self, region: str, function_name: str, start_ms: int = 0, limit: int = 10_000,
        group_name: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Events of the region's function (of ``group_name``, its LoggingConfig's group, if
        given) at or after ``start_ms``, in time order."""
        self.sync()
        try:
            group = self.groups.get(region, group_name or f"/aws/lambda/{function_name}")
        except AwsError:
            return iter(())
        names = self.groups.stream_ids(group, None, None)
        found: list[reads.Event] = []
        token: str | None = None
        while len(found) < limit:
            page = reads.filter_group(
                self.db, group, None, start_ms, None, None, token, limit - len(found)
            )
            found += page.events
            token = page.next_token
            if token is None:
                break
        return iter(
            {"timestamp": e.ts, "message": e.message, "logStreamName": names[e.stream_id]}
            | ({"platform": True} if e.platform else {})
            for e in found
        )

    # ------------------------------------------------------------------ retention

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            try:
                deleted = await self.write(self.sweep_now)
            except StoreError as e:
                log.error("log retention sweep failed: %s", e)
                continue
            if deleted:
                log.info("retention: %d log events deleted", deleted)

    def sweep_now(self) -> int:
        return self.db.sweep(now_ms(self.clock))

    # ------------------------------------------------------------------ upgrades

    def _migrate(self) -> None:
        """Writer thread, at start: old JSON-lines files into the database."""
        for old in list(self.root.iterdir()):
            if not old.is_dir():
                continue
            if "%2F" not in old.name:  # a function's logs from before regions
                region, function = self.default_region, unquote(old.name)
            else:
                region, _, function = unquote(old.name).partition("/")
            for path in sorted(old.glob("*.log")):
                self._migrate_file(path, region, f"/aws/lambda/{function}")
            try:
                old.rmdir()
            except OSError:
                log.warning("left %s in place: it holds files that are not logs", old)

    def _migrate_file(self, path: Path, region: str, group: str) -> None:
        stream = unquote(path.name[: -len(".log")])
        batch: list[Pending] = []
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    doc = json.loads(line)
                    ts, message = int(doc["timestamp"]), str(doc["message"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut by a crash
                batch.append(Pending(region, group, stream, ts, ts, message))
                if len(batch) >= MIGRATE_BATCH:
                    self.db.append(batch, 0)
                    batch = []
        self.db.append(batch, 0)
        path.unlink()  # only once all its events are committed
        log.info("moved %s into the log database", path)
