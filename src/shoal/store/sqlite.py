"""Metadata persistence on SQLite (WAL).

The store is a durable mirror, never the source of truth for the hot path: each service loads
its resources once at start, keeps them in memory, and writes through on every change. A
resource is a JSON document under ``(kind, key)``; ``kind`` is a noun owned by one service
(``function``, ``version``, ``alias``, ``filesystem``...).

Thread-safe: one connection guarded by a lock (writes are rare and small).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    doc TEXT NOT NULL
);
"""


class Store:
    """Key/document store; see the module docstring for the contract."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        data = json.dumps(doc, separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT INTO resources(kind, key, doc) VALUES (?, ?, ?) "
                "ON CONFLICT(kind, key) DO UPDATE SET doc = excluded.doc",
                (kind, key, data),
            )

    def delete(self, kind: str, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM resources WHERE kind = ? AND key = ?", (kind, key))

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT doc FROM resources WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def load(self, kind: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, doc FROM resources WHERE kind = ? ORDER BY key", (kind,)
            ).fetchall()
        return {key: json.loads(doc) for key, doc in rows}

    # A durable FIFO for async invocations: an item is committed (synchronous=FULL for the
    # transaction) before enqueue() returns, and stays until ack() removes it.
    def enqueue(self, topic: str, doc: dict[str, Any]) -> int:
        data = json.dumps(doc, separators=(",", ":"))
        with self._lock:
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                cur = self._db.execute("INSERT INTO queue(topic, doc) VALUES (?, ?)", (topic, data))
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")
        return int(cur.lastrowid or 0)

    def ack(self, seq: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM queue WHERE seq = ?", (seq,))

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
