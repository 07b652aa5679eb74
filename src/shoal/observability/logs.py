"""Function logs: a log group per function (``/aws/lambda/NAME``), a stream per environment.

Events are stored as JSON lines (``{"timestamp": ms, "message": str}``, plus ``"platform": true``
for the lines Lambda's platform writes — START, END, REPORT, INIT_REPORT... — so that nothing a
function prints can pass for one) in
``<data>/logs/<region>%2F<function>/<stream>.log``, so they survive a restart; a function is its
region's, so one name in two regions has two log groups (the ``%2F``, a quoted ``/``, is in no
function name, and tells these directories from those written before regions, which are moved
into the default region's at start). Writers are the invoker (the
START/END/REPORT frame) and the environments' output pumps; both run on the event loop, so a
stream needs no lock. Writes are buffered and flushed together at most ``FLUSH_DELAY_S``
after an invocation ends (one write per stream per batch under load, not one per line);
reading the events flushes first, so a reader always sees every event written before it asked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from json.encoder import encode_basestring
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.logs")


def stream_name(version: str, env_id: str) -> str:
    """AWS's shape: ``2024/01/31/[$LATEST]<id>``."""
    return time.strftime("%Y/%m/%d/", time.gmtime()) + f"[{version}]{env_id}"


class LogStream:
    """Appends events to one stream's file. Partial lines are held until their newline."""

    def __init__(
        self,
        path: Path,
        group: str,
        name: str,
        on_dirty: Callable[[LogStream], None] | None = None,
        on_events: Callable[[LogStream, Sequence[str], int], None] | None = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.group = group
        self.name = name
        self._file = path.open("a", encoding="utf-8")
        self._partial = ""
        self._on_dirty = on_dirty
        # Called with each line of output (write's, not event's) before it is stored: False
        # drops it (ApplicationLogLevel of a JSON-format function). None keeps every line.
        self.line_filter: Callable[[str], bool] | None = None
        self._on_events = on_events  # the service's subscribers (EMF metrics), or None

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
        """Several events with one timestamp and one buffered write (the invoker's END and
        REPORT lines)."""
        self.flush_partial()
        self._emit(messages, platform)

    def _emit(self, lines: Sequence[str], platform: bool = False) -> None:
        # The file object buffers; flush() (the invoker calls it after REPORT) makes the events
        # visible, batched by the service.
        now_ms = int(time.time() * 1000)
        head = f'{{"timestamp":{now_ms},'
        head += '"platform":true,"message":' if platform else '"message":'
        if self._on_events is not None and not platform:  # a function's lines, not START/REPORT
            self._on_events(self, lines, now_ms)
        if len(lines) == 1:
            self._file.write(f"{head}{encode_basestring(lines[0])}}}\n")
        else:
            self._file.write("".join([f"{head}{encode_basestring(line)}}}\n" for line in lines]))

    def flush(self) -> None:
        """Ask for the buffered events to be written soon (now, with no service)."""
        if self._on_dirty is None:
            self.write_out()
        else:
            self._on_dirty(self)

    def write_out(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        self.flush_partial()
        self._file.close()


FLUSH_DELAY_S = 0.05


class LogService:
    def __init__(self, shoal: Shoal) -> None:
        self.root = shoal.settings.log_dir
        self.default_region = shoal.settings.region
        self._dirty: set[LogStream] = set()  # streams with buffered events; event loop only
        self._flush_handle: asyncio.TimerHandle | None = None
        # callback(group, stream, event, region) for every event appended (EMF metrics:
        # shoal.observability.emf); the CloudWatch Logs store's subscribe() replaces this.
        self._subscribers: list[Callable[..., None]] = []

    def subscribe(self, callback: Callable[..., None]) -> None:
        self._subscribers.append(callback)

    async def start(self) -> None:
        if not self.root.is_dir():
            return
        for old in self.root.iterdir():  # a function's logs from before regions
            if old.is_dir() and "%2F" not in old.name:
                new = self._dir(self.default_region, unquote(old.name))
                if new.exists():
                    log.warning("not moving %s into %s: it exists", old, new)
                else:
                    old.rename(new)

    async def stop(self) -> None:
        self.flush_all()

    def _mark_dirty(self, stream: LogStream) -> None:
        self._dirty.add(stream)
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(
                FLUSH_DELAY_S, self.flush_all
            )

    def flush_all(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        dirty, self._dirty = self._dirty, set()
        for stream in dirty:
            stream.write_out()

    def _dir(self, region: str, function_name: str) -> Path:
        return self.root / quote(f"{region}/{function_name}", safe="")

    def open_stream(self, region: str, function_name: str, version: str, env_id: str) -> LogStream:
        name = stream_name(version, env_id)
        path = self._dir(region, function_name) / (quote(name, safe="") + ".log")

        def on_events(stream: LogStream, lines: Sequence[str], ms: int) -> None:
            for line in lines:
                for callback in self._subscribers:
                    try:
                        callback(stream.group, stream.name, {"timestamp": ms, "message": line},
                                 region)  # fmt: skip
                    except Exception:  # a subscriber's bug never loses the log line
                        log.exception("log subscriber %r failed", callback)

        subscribed = on_events if self._subscribers else None
        return LogStream(path, f"/aws/lambda/{function_name}", name, self._mark_dirty, subscribed)

    def events(
        self, region: str, function_name: str, start_ms: int = 0
    ) -> Iterator[dict[str, Any]]:
        """Every event of the region's function at or after ``start_ms``, in time order."""
        self.flush_all()
        directory = self._dir(region, function_name)
        if not directory.is_dir():
            return iter(())
        found: list[dict[str, Any]] = []
        for path in directory.glob("*.log"):
            stream = unquote(path.name[: -len(".log")])
            with path.open(encoding="utf-8") as f:
                for line in f:
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue  # a line cut by a crash
                    if event["timestamp"] >= start_ms:
                        event["logStreamName"] = stream
                        found.append(event)
        found.sort(key=lambda e: e["timestamp"])
        return iter(found)
