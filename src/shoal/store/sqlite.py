"""Metadata persistence on SQLite (WAL).

The store is a durable mirror, never the source of truth for the hot path: each service loads
its resources once at start, keeps them in memory, and writes through on every change. A
resource is a JSON document under ``(kind, region, key)``; ``kind`` is a noun owned by one
service (``function``, ``version``, ``alias``, ``filesystem``...). ``region`` is the AWS region
that scopes a resource known by a name (functions, layers: the same name in two regions is two
resources), or ``''`` for a kind whose keys are unique everywhere (``fs-…``, ``vpc-…`` ids: the
region is then in the document).

A database from before regions (no ``region`` column) is migrated when opened: its rows keep
their kind, key and document, with region ``''``; the service owning a regional kind then
:meth:`Store.claim`s those rows for the server's default region, where they were made.

Thread-safe: one connection guarded by a lock (writes are rare and small).

Writes fail loudly and change nothing: a write SQLite cannot make (a full disk, an I/O error)
is rolled back and raised as :class:`StoreError` (:class:`DiskFull` when the disk is full), so
a service that writes before it changes its memory stays as it was. Several writes that must
stand or fall together run in :meth:`Store.transaction`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    region TEXT NOT NULL DEFAULT '',
    key TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, region, key)
);
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    doc TEXT NOT NULL
);
"""


class StoreError(Exception):
    """A write the store could not make; nothing of it was kept. ``str()`` says why."""


class DiskFull(StoreError):
    """The disk under the data directory is full."""


def write_error(e: sqlite3.Error, path: Path, what: str = "the change",
                outcome: str = "Nothing was changed") -> StoreError:  # fmt: skip
    """A failed SQLite write as the store's error: :class:`DiskFull` when the disk is full.
    ``what`` could not be saved; ``outcome`` says what that left (the caller's words)."""
    if getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return DiskFull(
            f"The server's disk is full: Shoal could not save {what} ({e}). {outcome}; free "
            f"space under {path.parent} and retry."
        )
    return StoreError(f"Shoal could not save {what} ({e}). {outcome}.")


class Store:
    """Key/document store; see the module docstring for the contract."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # Reentrant: the writes inside transaction() take it again.
        self._lock = threading.RLock()
        self._migrate()
        self._db.executescript(SCHEMA)

    def _migrate(self) -> None:
        """Give a database from before regions its ``region`` column, in one transaction (a
        crash leaves the old table whole). SQLite cannot change a primary key in place, so the
        table is copied: every row kept, with region ''."""
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(resources)")]
        if not columns or "region" in columns:
            return
        with self.transaction():
            self._db.execute("ALTER TABLE resources RENAME TO resources_before_regions")
            self._db.execute(SCHEMA.split(";")[0])  # executescript() would commit here
            self._db.execute(
                "INSERT INTO resources(kind, region, key, doc) "
                "SELECT kind, '', key, doc FROM resources_before_regions"
            )
            self._db.execute("DROP TABLE resources_before_regions")

    def _write(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._db.execute(sql, args)
            except sqlite3.Error as e:
                # In autocommit SQLite has already rolled the statement back; inside a
                # transaction(), the transaction rolls back as the error leaves it.
                raise write_error(e, self.path) from e

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes in the block are kept together or not at all (then StoreError is raised)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield
                self._db.execute("COMMIT")
            except BaseException as e:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise write_error(e, self.path) from e
                raise

    def put(self, kind: str, key: str, doc: dict[str, Any], region: str = "") -> None:
        data = json.dumps(doc, separators=(",", ":"))
        self._write(
            "INSERT INTO resources(kind, region, key, doc) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(kind, region, key) DO UPDATE SET doc = excluded.doc",
            (kind, region, key, data),
        )

    def delete(self, kind: str, key: str, region: str = "") -> None:
        self._write(
            "DELETE FROM resources WHERE kind = ? AND region = ? AND key = ?", (kind, region, key)
        )

    def get(self, kind: str, key: str, region: str = "") -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT doc FROM resources WHERE kind = ? AND region = ? AND key = ?",
                (kind, region, key),
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def load(self, kind: str) -> dict[str, dict[str, Any]]:
        """The documents of a kind kept without a region, by key."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, doc FROM resources WHERE kind = ? AND region = '' ORDER BY key",
                (kind,),
            ).fetchall()
        return {key: json.loads(doc) for key, doc in rows}

    def load_regional(self, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
        """The documents of a regional kind, by (region, key), every region's."""
        with self._lock:
            rows = self._db.execute(
                "SELECT region, key, doc FROM resources WHERE kind = ? AND region != '' "
                "ORDER BY region, key",
                (kind,),
            ).fetchall()
        return {(region, key): json.loads(doc) for region, key, doc in rows}

    def claim(self, kind: str, region: str) -> None:
        """Put the rows of ``kind`` written before regions (region '') in ``region``: the
        server's default region, the one every resource was made in then."""
        self._write(
            "UPDATE resources SET region = ? WHERE kind = ? AND region = ''", (region, kind)
        )

    # A durable FIFO for async invocations: an item is committed (synchronous=FULL for the
    # transaction) before enqueue() returns, and stays until ack() removes it.
    def enqueue(self, topic: str, doc: dict[str, Any]) -> int:
        data = json.dumps(doc, separators=(",", ":"))
        with self._lock:
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                cur = self._write("INSERT INTO queue(topic, doc) VALUES (?, ?)", (topic, data))
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")
        return int(cur.lastrowid or 0)

    def ack(self, seq: int) -> None:
        self._write("DELETE FROM queue WHERE seq = ?", (seq,))

    def pending(self, topic: str) -> Iterator[tuple[int, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, doc FROM queue WHERE topic = ? ORDER BY seq", (topic,)
            ).fetchall()
        for seq, doc in rows:
            yield seq, json.loads(doc)

    def close(self) -> None:
        with self._lock:
            self._db.close()
