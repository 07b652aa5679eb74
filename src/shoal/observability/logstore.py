"""The log database: groups, streams and events in ``<data>/logs/logs.db`` (SQLite, WAL, 0600).

Why SQLite and not segment files: a filter over a day of one group, or a page of one stream,
must read only those events. Two indexes give exactly that — ``events(stream_id, ts, id)`` for
GetLogEvents and ``events(group_id, ts, id)`` for FilterLogEvents — and the retention sweep is
one indexed ``DELETE`` per group. Appends are batched (one transaction per flush, see
:mod:`shoal.observability.logs`), which SQLite does at well over 100,000 events a second;
segment files would need the same index written by hand, plus compaction for retention.
The database is its own file, apart from ``shoal.db``: a burst of log writes never holds the
metadata store's lock, and a full disk refusing a log batch changes no metadata.

Positions: an event's place in a stream or a group is ``(ts, id)`` — its timestamp, then its
row id (the order it was stored in) — which the API's tokens carry.

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

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
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    stream_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    ingest INTEGER NOT NULL,
    message TEXT NOT NULL,
    platform INTEGER NOT NULL DEFAULT 0  -- START/END/REPORT…: the invoker's, never output
);
CREATE INDEX IF NOT EXISTS events_by_stream ON events (stream_id, ts, id);
CREATE INDEX IF NOT EXISTS events_by_group ON events (group_id, ts, id);
"""

# Rows of the events table as reads return them.
EVENT_COLUMNS = (
    "events.id, events.ts, events.ingest, events.message, events.stream_id, events.platform"
)


BATCH_TEXT_LIMIT = 64 << 20  # characters of one batch's JSON document, at most
INSERT_ROW = (
    "INSERT INTO events (group_id, stream_id, ts, ingest, message, platform) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
# A batch's rows, a JSON array of [group id, stream id, ts, ingest, message, platform]: one
# statement, and so one release of the interpreter lock, for all of them.
INSERT_BATCH = (
    "INSERT INTO events (group_id, stream_id, ts, ingest, message, platform) "
    "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 "
    "FROM json_each(?)"
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


@dataclass(frozen=True)
class Event:
    """One stored event."""

    id: int
    ts: int
    ingest: int
    message: str
    stream_id: int
    platform: int = 0


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
        self._db.executescript(SCHEMA)
        self._write_lock = threading.Lock()  # the writer thread's, and close()'s
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        # Writer thread only: (region, group) -> id, (group id, stream) -> id.
        self._group_ids: dict[tuple[str, str], int] = {}
        self._stream_ids: dict[tuple[int, str], int] = {}

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
            row = db.execute(
                "SELECT id FROM groups WHERE region = ? AND name = ?", key
            ).fetchone()
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

        The rows go to SQLite as one JSON document and are inserted by one statement (see
        :data:`INSERT_BATCH`): the interpreter lock is released once for the whole batch's
        B-tree work, not once per row as ``executemany`` does, so a batch of function logs
        being stored barely slows the event loop that runs every invocation. The streams'
        times and sizes are summed here, one update per stream (cheaper than SQLite reading
        them back out of the JSON)."""
        if not batch:
            return
        with self.transaction() as db:
            rows = []
            ids: dict[tuple[str, str, str], tuple[int, int]] = {}  # this batch's streams
            # stream id -> [first ts, last ts, last ingest, UTF-8 bytes] of this batch
            stats: dict[int, list[int]] = {}
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
                rows.append((*found, p.ts, p.ingest, p.message, p.platform))
                s = stats[found[1]]
                ts = p.ts
                if ts < s[0]:
                    s[0] = ts
                elif ts > s[1]:
                    s[1] = ts
                if p.ingest > s[2]:
                    s[2] = p.ingest
                m = p.message
                s[3] += len(m) if m.isascii() else len(m.encode("utf-8", "surrogatepass"))
            # Not ASCII-escaped: a lone surrogate fails to bind here as it would in a row.
            doc = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
            # Row by row when SQLite's JSON would cut a message at a NUL, or the document is
            # too long for one string (SQLite's limit is 1e9 bytes; a retried batch can be big).
            if len(doc) > BATCH_TEXT_LIMIT or "\\u0000" in doc:
                db.executemany(INSERT_ROW, rows)
            else:
                db.execute(INSERT_BATCH, (doc,))
            db.executemany(
                UPDATE_STREAM,
                [(f, f, t, t, i, i, b, sid) for sid, (f, t, i, b) in stats.items()],
            )

    def sweep(self, now_ms: int) -> int:
        """Delete the events older than their group's retention; how many went."""
        deleted = 0
        with self.transaction() as db:
            groups = db.execute(
                "SELECT id, retention FROM groups WHERE retention IS NOT NULL"
            ).fetchall()
            for gid, days in groups:
                cutoff = now_ms - int(days) * 86_400_000
                cur = db.execute("DELETE FROM events WHERE group_id = ? AND ts < ?", (gid, cutoff))
                if cur.rowcount:
                    deleted += cur.rowcount
                    db.execute(
                        "UPDATE streams SET bytes = coalesce((SELECT sum(length(CAST(message AS "
                        "BLOB))) FROM events WHERE stream_id = streams.id), 0), first_ts = "
                        "(SELECT min(ts) FROM events WHERE stream_id = streams.id) "
                        "WHERE group_id = ?",
                        (gid,),
                    )
        return deleted
