"""Metric data on disk: ``<data>/metrics.db`` (SQLite, WAL, 0600), apart from the metadata store.

Metric data is written often and in bulk (every flush of every series) and is worth less than
the metadata (losing the last seconds of it in a crash is acceptable; losing a function is
not), so it has its own database and its own lock: a flush never waits behind a metadata
write, nor the other way round.

Tables:

- ``series``: one row per metric (region, namespace, name, dimensions as sorted JSON pairs),
  with the time of its last datapoint (ListMetrics' ``RecentlyActive``).
- ``points``: one row per (series, resolution, bucket start, unit) — the :class:`Agg` of that
  bucket. Resolutions are CloudWatch's retention steps: 1 s (high-resolution metrics, kept 3 h),
  60 s (15 days), 300 s (63 days), 3600 s (455 days). A flushed minute is merged into its 60,
  300 and 3600 s rows at once, so a coarser row is complete as soon as its minutes are and
  nothing has to be rolled up later; :meth:`MetricStore.expire` deletes what retention ends.
- ``alarms`` / ``alarm_history``: the alarms' documents and their state changes.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from shoal.observability.stats import Agg

log = logging.getLogger("shoal.metrics")

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    region TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    dims TEXT NOT NULL,
    last_ts REAL NOT NULL,
    UNIQUE (region, namespace, name, dims)
);
CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL,
    res INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    unit TEXT NOT NULL,
    count REAL NOT NULL,
    sum REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    hist BLOB,
    PRIMARY KEY (series, res, ts, unit)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alarms (
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (region, name)
);
CREATE TABLE IF NOT EXISTS alarm_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    ts REAL NOT NULL,
    doc TEXT NOT NULL
);
"""

# Resolution (s) -> how long CloudWatch keeps data of it (s).
RETENTION = {1: 3 * 3600, 60: 15 * 86400, 300: 63 * 86400, 3600: 455 * 86400}
RESOLUTIONS = (1, 60, 300, 3600)

Dims = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, str, str, Dims]  # region, namespace, name, sorted dimensions


class MetricStore:
    """Thread-safe (one connection under one lock). At most ``max_series`` series are kept
    (``SHOAL_METRICS_MAX_SERIES``, default 100,000): a function printing EMF lines with a new
    dimension value each time cannot fill the disk; data of a series beyond it is dropped,
    and said so in the log once a flush."""

    def __init__(self, path: Path, max_series: int = 100_000) -> None:
        self.max_series = max_series
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        # series key -> id, loaded once: every flush looks its series up here.
        self._ids: dict[SeriesKey, int] = {}
        for sid, region, ns, name, dims in self._db.execute(
            "SELECT id, region, namespace, name, dims FROM series"
        ):
            self._ids[(region, ns, name, _dims(dims))] = sid

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def series_id(self, key: SeriesKey) -> int | None:
        return self._ids.get(key)

    def room_for(self, keys: Iterable[SeriesKey]) -> bool:
        """Whether the series ``keys`` fit under :attr:`max_series` (known ones always do)."""
        new = {k for k in keys if k not in self._ids}
        return len(self._ids) + len(new) <= self.max_series

    def write(self, buckets: Iterable[tuple[SeriesKey, str, int, int, Agg]]) -> None:
        """Merge ``(series, unit, resolution, bucket start, agg)`` into the stored rows, in
        one transaction; a 60 s bucket is merged into its 300 and 3600 s rows too."""
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                last: dict[int, int] = {}
                dropped = 0
                for key, unit, res, ts, agg in buckets:
                    sid = self._ids.get(key)
                    if sid is None and len(self._ids) >= self.max_series:
                        dropped += 1
                        continue
                    if sid is None:
                        region, ns, name, dims = key
                        cur = db.execute(
                            "INSERT INTO series (region, namespace, name, dims, last_ts) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (region, ns, name, json.dumps(dims), ts),
                        )
                        sid = int(cur.lastrowid or 0)
                        self._ids[key] = sid
                    last[sid] = max(last.get(sid, 0), ts)
                    for r in (res,) if res == 1 else (60, 300, 3600):
                        self._merge(sid, r, ts - ts % r, unit, agg)
                db.executemany(
                    "UPDATE series SET last_ts = max(last_ts, ?) WHERE id = ?",
                    [(ts, sid) for sid, ts in last.items()],
                )
                db.execute("COMMIT")
                if dropped:
                    log.warning("%d datapoint(s) of new metrics dropped: this server keeps at "
                                "most %d metrics", dropped, self.max_series)  # fmt: skip
            except BaseException:
                db.execute("ROLLBACK")
                # The ids of series inserted in the failed transaction are gone with it.
                self._ids = {k: v for k, v in self._ids.items() if self._exists(v)}
                raise

    def _exists(self, sid: int) -> bool:
        return self._db.execute("SELECT 1 FROM series WHERE id = ?", (sid,)).fetchone() is not None

    def _merge(self, sid: int, res: int, ts: int, unit: str, agg: Agg) -> None:
        row = self._db.execute(
            "SELECT count, sum, min, max, hist FROM points "
            "WHERE series = ? AND res = ? AND ts = ? AND unit = ?",
            (sid, res, ts, unit),
        ).fetchone()
        if row is not None:
            merged = Agg.load(*row)
            merged.merge(agg)
        else:
            merged = agg
        self._db.execute(
            "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sid, res, ts, unit, merged.count, merged.sum, merged.min, merged.max,
             merged.dump_hist()),
        )  # fmt: skip

    def points(self, sid: int, res: int, start: int, end: int, unit: str | None
               ) -> list[tuple[int, str, Agg]]:  # fmt: skip
        """The stored buckets of a series at ``res`` with ``start <= ts < end`` (of one
        unit, or all), in time order."""
        sql = (
            "SELECT ts, unit, count, sum, min, max, hist FROM points "
            "WHERE series = ? AND res = ? AND ts >= ? AND ts < ?"
        )
        args: list[Any] = [sid, res, start, end]
        if unit is not None:
            sql += " AND unit = ?"
            args.append(unit)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY ts", args).fetchall()
        return [(ts, u, Agg.load(c, s, lo, hi, h)) for ts, u, c, s, lo, hi, h in rows]

    def series(self, region: str) -> Iterator[tuple[SeriesKey, float]]:
        """Every series of a region with its last datapoint's time, ordered for paging."""
        with self._lock:
            rows = self._db.execute(
                "SELECT namespace, name, dims, last_ts FROM series WHERE region = ? "
                "ORDER BY namespace, name, dims",
                (region,),
            ).fetchall()
        for ns, name, dims, last in rows:
            yield (region, ns, name, _dims(dims)), last

    def totals(self) -> list[tuple[SeriesKey, str, float, float]]:
        """Every series' SampleCount and Sum since it began (its hourly buckets), by unit."""
        with self._lock:
            rows = self._db.execute(
                "SELECT series, unit, SUM(count), SUM(sum) FROM points WHERE res = 3600 "
                "GROUP BY series, unit"
            ).fetchall()
            keys = {sid: key for key, sid in self._ids.items()}
        return [(keys[sid], unit, c, s) for sid, unit, c, s in rows if sid in keys]

    def expire(self, now: float) -> int:
        """Delete the buckets CloudWatch no longer keeps; how many went."""
        gone = 0
        with self._lock:
            for res, keep in RETENTION.items():
                cur = self._db.execute(
                    "DELETE FROM points WHERE res = ? AND ts < ?", (res, int(now - keep))
                )
                gone += cur.rowcount
        return gone

    # -- alarms ---------------------------------------------------------------------------

    def alarms(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute("SELECT region, doc FROM alarms").fetchall()
        return [(region, json.loads(doc)) for region, doc in rows]

    def put_alarm(self, region: str, name: str, doc: dict[str, Any] | None) -> None:
        with self._lock:
            if doc is None:
                self._db.execute(
                    "DELETE FROM alarms WHERE region = ? AND name = ?", (region, name)
                )
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO alarms VALUES (?, ?, ?)",
                    (region, name, json.dumps(doc)),
                )

    def add_history(self, region: str, name: str, ts: float, doc: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO alarm_history (region, name, ts, doc) VALUES (?, ?, ?, ?)",
                (region, name, ts, json.dumps(doc)),
            )

    def history(self, region: str, name: str | None) -> list[dict[str, Any]]:
        sql = "SELECT doc FROM alarm_history WHERE region = ?"
        args: list[Any] = [region]
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq DESC", args).fetchall()
        return [json.loads(doc) for (doc,) in rows]


def _dims(text: str) -> Dims:
    return tuple((k, v) for k, v in json.loads(text))
