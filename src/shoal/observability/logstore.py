"""The log database: groups, streams and events in ``<data>/logs/logs.db`` (SQLite, WAL, 0600).

Why SQLite and not segment files: a filter over a day of one group, or a page of one stream,
must read only those events. Events are stored in chunks (:mod:`shoal.observability.chunks`):
a batch's events of one stream are one row, indexed by ``(stream_id, first_ts, last_ts)``,
``(stream_id, last_ts)`` and ``(group_id, first_ts, last_ts)``, so the writer does a constant
amount of SQLite work per batch per stream, not per event (three or more events per warm
invoke), and a read opens only the chunks overlapping its time range. The retention sweep
deletes the chunks past the cutoff and trims the one straddling it. Segment files would need
the same index written by hand, plus compaction for retention. The database is its own file,
apart from ``shoal.db``: a burst of log writes never holds the metadata store's lock, and a
full disk refusing a log batch changes no metadata. A database of one row per event (the
schema before chunks) is moved into chunks when it is opened, in one transaction.

Positions: an event's place in a stream or a group is ``(ts, id)`` — its timestamp, then its
id (chunk id and index: the order it was stored in) — which the API's tokens carry.

Threads: every write runs on the log service's single writer thread (so the id caches below
need no lock of their own, and batches are applied in the order they were handed over); reads
run on any thread, each with its own connection (WAL lets readers and the writer overlap).
A write SQLite cannot make is rolled back whole and raised as
:class:`shoal.store.sqlite.StoreError` (``DiskFull`` when the disk is full): no earlier event
is lost, and the batch is the caller's to retry.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from shoal.observability import chunks
from shoal.store.sqlite import StoreError, write_error

SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    retention INTEGER,
    class TEXT NOT NULL DEFAULT 'STANDARD',
    kms TEXT,
    tags TEXT NOT NULL DEFAULT '{}',
    UNIQUE (region, name)
);
CREATE TABLE IF NOT EXISTS streams (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    first_ts INTEGER,
    last_ts INTEGER,
    last_ingest INTEGER,
    bytes INTEGER NOT NULL DEFAULT 0,
    UNIQUE (group_id, name)
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    stream_id INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    count INTEGER NOT NULL,
    bytes INTEGER NOT NULL,  -- its messages' UTF-8 bytes
    skip INTEGER NOT NULL DEFAULT 0,  -- events retention trimmed from its head
    data TEXT NOT NULL  -- see shoal.observability.chunks
);
CREATE INDEX IF NOT EXISTS chunks_by_stream ON chunks (stream_id, first_ts, last_ts);
CREATE INDEX IF NOT EXISTS chunks_by_stream_end ON chunks (stream_id, last_ts);
CREATE INDEX IF NOT EXISTS chunks_by_group ON chunks (group_id, first_ts, last_ts);
"""

INSERT_CHUNK = (
    "INSERT INTO chunks (group_id, stream_id, first_ts, last_ts, count, bytes, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# A stream's first and last event times, last ingestion and stored bytes, after a batch.
UPDATE_STREAM = (
    "UPDATE streams SET first_ts = min(coalesce(first_ts, ?), ?), "
    "last_ts = max(coalesce(last_ts, ?), ?), "
    "last_ingest = max(coalesce(last_ingest, ?), ?), bytes = bytes + ? WHERE id = ?"
)


class Pending(NamedTuple):
    """One event handed to the writer: where it goes and what it says (a tuple: one is made
    for every line a function prints, on the invoke path)."""

    region: str
    group: str
    stream: str
    ts: int
    ingest: int
    message: str
    # A line Lambda's platform writes (START, END, REPORT, INIT_REPORT…), which the invoker
    # alone writes: nothing a function prints can pass for one.
    platform: bool = False


def _error(e: sqlite3.Error, path: Path) -> StoreError:
    return write_error(e, path, "the log events", "They are kept to retry")


class LogDatabase:
    """The connections and the writes; see the module docstring for the threading contract."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # private before SQLite opens it
        os.close(fd)
        os.chmod(path, 0o600)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._write_lock = threading.Lock()  # the writer thread's, and close()'s
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        # Writer thread only: (region, group) -> id, (group id, stream) -> id.
        self._group_ids: dict[tuple[str, str], int] = {}
        self._stream_ids: dict[tuple[int, str], int] = {}
        try:
            self._schema()
        except BaseException:
            self._db.close()
            raise

    def _schema(self) -> None:
        """Make the tables, and move a database of one row per event (the schema before
        chunks) into chunks: in one transaction, so a failed migration changes nothing."""
        with self.transaction() as db:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            if db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
            ).fetchone():
                _migrate(db)

    def close(self) -> None:
        with self._write_lock:
            self._db.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    # ------------------------------------------------------------------ reads

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), check_same_thread=False)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.reader().execute(sql, args).fetchall()

    # ------------------------------------------------------------------ writes

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the writer's connection, rolled back whole on failure."""
        with self._write_lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self.forget()  # ids made in the rolled-back transaction are gone
                raise _error(e, self.path) from None
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self.forget()
                raise

    def forget(self) -> None:
        """Drop the id caches (after a delete or a rollback)."""
        self._group_ids.clear()
        self._stream_ids.clear()

    def group_id(self, db: sqlite3.Connection, region: str, group: str, now: int,
                 create: bool = True) -> int | None:  # fmt: skip
        key = (region, group)
        found = self._group_ids.get(key)
        if found is None:
            row = db.execute("SELECT id FROM groups WHERE region = ? AND name = ?", key).fetchone()
            if row is None:
                if not create:
                    return None
                row = db.execute(
                    "INSERT INTO groups (region, name, created) VALUES (?, ?, ?) RETURNING id",
                    (region, group, now),
                ).fetchone()
            found = self._group_ids[key] = int(row[0])
        return found

    def stream_id(self, db: sqlite3.Connection, group_id: int, stream: str, now: int,
                  create: bool = True) -> int | None:  # fmt: skip
        key = (group_id, stream)
        found = self._stream_ids.get(key)
        if found is None:
            row = db.execute(
                "SELECT id FROM streams WHERE group_id = ? AND name = ?", key
            ).fetchone()
            if row is None:
                if not create:
                    return None
                row = db.execute(
                    "INSERT INTO streams (group_id, name, created) VALUES (?, ?, ?) RETURNING id",
                    (group_id, stream, now),
                ).fetchone()
            found = self._stream_ids[key] = int(row[0])
        return found

    def append(self, batch: Sequence[Pending], now: int) -> None:
        """Store a batch in one transaction, making the groups and streams it names (as
        Lambda's first write to a group does).

        Each stream's events of the batch become one chunk (or more, past
        :data:`~shoal.observability.chunks.CHUNK_EVENTS` or ``CHUNK_BYTES``): one row and its
        index entries per stream, whatever the batch holds. The streams' times and sizes are
        summed here too, one update per stream."""
        if not batch:
            return
        with self.transaction() as db:
            ids: dict[tuple[str, str, str], tuple[int, int]] = {}  # this batch's streams
            # stream id -> [first ts, last ts, last ingest, UTF-8 bytes] of this batch
            stats: dict[int, list[int]] = {}
            open_: dict[int, _Open] = {}  # stream id -> its chunk being filled
            rows: list[tuple[Any, ...]] = []
            for p in batch:
                key = (p.region, p.group, p.stream)
                found = ids.get(key)
                if found is None:
                    gid = self.group_id(db, p.region, p.group, p.ingest)
                    assert gid is not None
                    sid = self.stream_id(db, gid, p.stream, p.ingest)
                    assert sid is not None
                    found = ids[key] = (gid, sid)
                    stats[sid] = [p.ts, p.ts, p.ingest, 0]
                sid = found[1]
                s = stats[sid]
                ts = p.ts
                if ts < s[0]:
                    s[0] = ts
                elif ts > s[1]:
                    s[1] = ts
                if p.ingest > s[2]:
                    s[2] = p.ingest
                m = p.message
                size = len(m) if m.isascii() else len(m.encode("utf-8", "surrogatepass"))
                s[3] += size
                c = open_.get(sid)
                span = chunks.CHUNK_SPAN
                if c is not None and (ts - c.lo > span or c.hi - ts > span):
                    rows.append(open_.pop(sid).row())
                    c = None
                if c is None:
                    c = open_[sid] = _Open(found[0], sid)
                # c.add(p, size), inline: this loop runs for every line a function prints
                if ts < c.lo:
                    c.lo = ts
                if ts > c.hi:
                    c.hi = ts
                c.ts.append(ts)
                c.ingest.append(p.ingest)
                c.platform.append(1 if p.platform else 0)
                c.messages.append(m)
                c.bytes += size
                if len(c.ts) >= chunks.CHUNK_EVENTS or c.bytes >= chunks.CHUNK_BYTES:
                    rows.append(open_.pop(sid).row())
            rows += [c.row() for c in open_.values()]
            db.executemany(INSERT_CHUNK, rows)
            db.executemany(
                UPDATE_STREAM,
                [(f, f, t, t, i, i, b, sid) for sid, (f, t, i, b) in stats.items()],
            )

    def sweep(self, now_ms: int) -> int:
        """Delete the events older than their group's retention; how many went. Chunks wholly
        past the cutoff go; a chunk straddling it keeps its newer events (and their ids)."""
        deleted = 0
        with self.transaction() as db:
            groups = db.execute(
                "SELECT id, retention FROM groups WHERE retention IS NOT NULL"
            ).fetchall()
            for gid, days in groups:
                cutoff = now_ms - int(days) * 86_400_000
                gone = db.execute(
                    "DELETE FROM chunks WHERE group_id = ? AND last_ts < ? RETURNING count",
                    (gid, cutoff),
                ).fetchall()
                n = sum(r[0] for r in gone)
                straddling = db.execute(
                    "SELECT id, data FROM chunks WHERE group_id = ? AND first_ts < ?",
                    (gid, cutoff),
                ).fetchall()
                for cid, data in straddling:
                    n += _trim(db, cid, data, cutoff)
                if n:
                    deleted += n
                    db.execute(
                        "UPDATE streams SET bytes = coalesce((SELECT sum(bytes) FROM chunks "
                        "WHERE stream_id = streams.id), 0), first_ts = (SELECT min(first_ts) "
                        "FROM chunks WHERE stream_id = streams.id) WHERE group_id = ?",
                        (gid,),
                    )
        return deleted


def _migrate(db: sqlite3.Connection) -> None:
    """Rows of the old ``events`` table become chunks of their stream, in position order."""
    cur = db.execute(
        "SELECT group_id, stream_id, ts, ingest, message, platform FROM events "
        "ORDER BY stream_id, ts, id"
    )
    c: _Open | None = None
    for gid, sid, ts, ingest, message, platform in cur:
        if c is not None and (c.stream_id != sid or len(c.ts) >= chunks.CHUNK_EVENTS
                              or c.bytes >= chunks.CHUNK_BYTES
                              or ts - c.lo > chunks.CHUNK_SPAN):  # fmt: skip
            db.execute(INSERT_CHUNK, c.row())
            c = None
        if c is None:
            c = _Open(gid, sid)
        c.add(Pending("", "", "", ts, ingest, message, bool(platform)), _utf8(message))
    if c is not None:
        db.execute(INSERT_CHUNK, c.row())
    db.execute("DROP TABLE events")  # and its indexes


def _utf8(m: str) -> int:
    return len(m) if m.isascii() else len(m.encode("utf-8", "surrogatepass"))


def _trim(db: sqlite3.Connection, cid: int, data: str, cutoff: int) -> int:
    """Drop a chunk's events before ``cutoff`` (its columns are in time order); how many."""
    ts, ingest, platform, messages = json.loads(data)
    k = bisect_left(ts, cutoff)
    if k == 0:
        return 0
    rest = messages[k:]
    db.execute(
        "UPDATE chunks SET skip = skip + ?, first_ts = ?, count = ?, bytes = ?, data = ? "
        "WHERE id = ?",
        (k, ts[k], len(rest), sum(map(_utf8, rest)),
         chunks.encode(ts[k:], ingest[k:], platform[k:], rest), cid),
    )  # fmt: skip
    return k


class _Open:
    """A chunk being filled by one batch (writer thread only)."""

    __slots__ = ("bytes", "group_id", "hi", "ingest", "lo", "messages", "platform", "stream_id",
                 "ts")  # fmt: skip

    def __init__(self, group_id: int, stream_id: int) -> None:
        self.group_id, self.stream_id, self.bytes = group_id, stream_id, 0
        self.lo, self.hi = chunks.MAX_ID, -chunks.MAX_ID  # its first and last times
        self.ts: list[int] = []
        self.ingest: list[int] = []
        self.platform: list[int] = []
        self.messages: list[str] = []

    def add(self, p: Pending, size: int) -> None:
        if p.ts < self.lo:
            self.lo = p.ts
        if p.ts > self.hi:
            self.hi = p.ts
        self.ts.append(p.ts)
        self.ingest.append(p.ingest)
        self.platform.append(1 if p.platform else 0)
        self.messages.append(p.message)
        self.bytes += size

    def row(self) -> tuple[Any, ...]:
        data = chunks.encode(self.ts, self.ingest, self.platform, self.messages)
        return (self.group_id, self.stream_id, self.lo, self.hi, len(self.ts),
                self.bytes, data)  # fmt: skip
