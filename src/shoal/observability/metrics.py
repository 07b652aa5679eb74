"""CloudWatch metrics: what components publish, aggregated per minute (per second for
high-resolution metrics), persisted in :mod:`shoal.observability.metricstore`, and read back
as CloudWatch's statistics.

Publishing is off the hot path: :meth:`MetricService.publish` and the Lambda hooks
(:mod:`shoal.observability.lambda_metrics`) append one tuple to a deque (thread-safe, no lock);
the service drains it into per-bucket :class:`~shoal.observability.stats.Agg`s and writes those
out every ``SHOAL_METRICS_FLUSH_S`` seconds (default 5). Every read (and PutMetricData, which
answers only once its data is kept, as AWS acknowledges it) flushes first, so what was
published before a read is in its answer. Nothing is lost on a clean stop (the last flush runs
in ``stop``); a crash loses at most the last interval of Shoal's own metrics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoal.observability import emf, lambda_metrics
from shoal.observability.alarms import Alarms
from shoal.observability.gateway_metrics import ApiGatewayMetrics
from shoal.observability.metricstore import RESOLUTIONS, Dims, MetricStore, SeriesKey
from shoal.observability.stats import Agg

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.metrics")

Clock = Callable[[], float]
# (series, unit, resolution 1 or 60, bucket start) -> the bucket's statistics not yet written
Pending = dict[tuple[SeriesKey, str, int, int], Agg]


def dims_key(dims: Mapping[str, str] | Iterable[tuple[str, str]]) -> Dims:
    items = dims.items() if isinstance(dims, Mapping) else dims
    return tuple(sorted((str(k), str(v)) for k, v in items))


class MetricService:
    """The component (``shoal.metrics``); usable without a server (``path``, ``clock``)."""

    def __init__(
        self, shoal: Shoal | None = None, *, path: Path | None = None,
        region: str = "us-east-1", clock: Clock = time.time, flush_s: float | None = None,
    ) -> None:  # fmt: skip
        if shoal is not None:
            path = shoal.settings.data_dir / "metrics.db"
            region = shoal.settings.region
        if path is None:
            raise ValueError("MetricService needs a Shoal or a path")
        self.path = path
        self.region = region
        self.clock = clock
        env_flush = os.environ.get("SHOAL_METRICS_FLUSH_S")
        self.flush_s = flush_s if flush_s is not None else float(env_flush or 5.0)
        self.store = MetricStore(path, int(os.environ.get("SHOAL_METRICS_MAX_SERIES") or 100_000))
        self._events: deque[tuple[Any, ...]] = deque()
        self._pending: Pending = {}
        self._lock = threading.Lock()  # _pending and the writes of a flush
        self._task: asyncio.Task[None] | None = None
        self.lambda_hooks = lambda_metrics.LambdaMetrics(self._events, clock)
        self.gateway_hooks = ApiGatewayMetrics(self._events, clock)
        # An event's kind -> the hooks that read it (shoal.observability.*_metrics).
        self._hooks: dict[str, Any] = {
            "L": self.lambda_hooks, "T": self.lambda_hooks, "C": self.lambda_hooks,
            "U": self.lambda_hooks, "G": self.gateway_hooks,
        }  # fmt: skip
        self.alarms = Alarms(self)
        if shoal is not None and hasattr(shoal, "logs"):
            emf.attach(shoal.logs, self)  # EMF lines of function logs become metrics

    async def start(self) -> None:
        self.store.expire(self.clock())
        self._task = asyncio.get_running_loop().create_task(self._flush_forever())
        self.alarms.start()

    async def stop(self) -> None:
        self.alarms.stop()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.flush()
        self.store.close()

    async def _flush_forever(self) -> None:
        last_expiry = self.clock()
        while True:
            await asyncio.sleep(self.flush_s)
            try:
                await asyncio.to_thread(self.flush)
                if self.clock() - last_expiry > 3600:
                    last_expiry = self.clock()
                    await asyncio.to_thread(self.store.expire, last_expiry)
            except Exception:
                log.exception("metrics flush failed; the data stays pending")

    # ------------------------------------------------------------------ publishing

    def publish(
        self, namespace: str, name: str, dims: Mapping[str, str] | Iterable[tuple[str, str]],
        value: float, unit: str = "None", *, region: str | None = None,
        timestamp: float | None = None, high_resolution: bool = False,
    ) -> None:  # fmt: skip
        """One value of one metric, for any component (EFS, the gateway…); cheap, any
        thread."""
        ts = self.clock() if timestamp is None else timestamp
        key = (region or self.region, namespace, name, dims_key(dims))
        self._events.append(("v", key, ts, unit, 1 if high_resolution else 60, value, 1.0))

    def publish_values(self, key: SeriesKey, ts: float, unit: str, res: int,
                       values: Iterable[float]) -> None:  # fmt: skip
        """Raw values of one series (EMF's), as :meth:`publish`: lock-free, any thread."""
        append = self._events.append
        for value in values:
            append(("v", key, ts, unit, res, value, 1.0))

    def put(self, key: SeriesKey, ts: float, unit: str, res: int,
            values: Sequence[tuple[float, float]] = (),
            statistics: tuple[float, float, float, float] | None = None) -> None:  # fmt: skip
        """PutMetricData's datum: raw (value, count) pairs, or a StatisticValues set
        (SampleCount, Sum, Minimum, Maximum)."""
        with self._lock:
            for r in (1, 60) if res == 1 else (60,):
                agg = self._bucket(key, unit, r, ts)
                if statistics is not None:
                    agg.add_set(*statistics)
                for value, count in values:
                    agg.add(value, count)

    def _bucket(self, key: SeriesKey, unit: str, res: int, ts: float) -> Agg:
        start = int(ts) - int(ts) % res
        slot = (key, unit, res, start)
        agg = self._pending.get(slot)
        if agg is None:
            agg = self._pending[slot] = Agg()
        return agg

    def _drain(self) -> None:
        """Move the published events into their buckets (under the lock). A component's
        events are aggregated per identity and minute first, then spread over their series:
        the cost per event is a few dict updates, whatever its number of dimension sets."""
        events = self._events
        hooks = self._hooks
        # (hooks, identity, minute, metric, unit, which sets) -> the minute's values
        folded: dict[tuple[Any, ...], list[float]] = {}
        while events:
            try:
                event = events.popleft()
            except IndexError:
                break
            kind = event[0]
            if kind == "v":
                _, key, ts, unit, res, value, count = event
                for r in (1, 60) if res == 1 else (60,):
                    self._bucket(key, unit, r, ts).add(value, count)
                continue
            source = hooks[kind]
            ident, ts, values = source.values(event)
            minute = int(ts) - int(ts) % 60
            for metric, value, unit, which in values:
                slot = (source, ident, minute, metric, unit, which)
                found = folded.get(slot)
                if found is None:
                    folded[slot] = [value]
                else:
                    found.append(value)
        for (source, ident, minute, metric, unit, which), found in folded.items():
            # Each distinct value added once with its count: an invocation count is one value
            # (1.0) thousands of times a minute, a concurrency a handful of values.
            agg = Agg()
            for value, times in Counter(found).items():
                agg.add(value, times)
            for region, namespace, dims in source.series(ident, which, self.region):
                self._bucket((region, namespace, metric, dims), unit, 60, minute).merge(agg)

    def flush(self) -> None:
        """Write every pending bucket out (persist first: kept in memory if the write
        fails)."""
        with self._lock:
            self._drain()
            if not self._pending:
                return
            pending = self._pending
            self.store.write((k, u, r, ts, agg) for (k, u, r, ts), agg in pending.items())
            self._pending = {}

    # ------------------------------------------------------------------ reading

    def buckets(
        self, key: SeriesKey, start: float, end: float, period: int, unit: str | None
    ) -> dict[tuple[int, str], Agg]:
        """The series' statistics per ``(period start, unit)`` for ``start <= t < end``.

        Periods are aligned on ``start`` rounded down as CloudWatch rounds it — to the second
        for a period under a minute, else to the minute, to 5 minutes past 15 days, to the hour
        past 63 days — and read from the coarsest stored resolution that divides both the
        period and that start (a day at Period 3600 from 12:32 is read from minutes, from
        12:00 from hours)."""
        self.flush()
        sid = self.store.series_id(key)
        if sid is None:
            return {}
        age = self.clock() - start
        step = 1 if period < 60 else 60 if age <= 15 * 86400 else 300 if age <= 63 * 86400 \
            else 3600  # fmt: skip
        origin = int(start) - int(start) % step
        res = max(r for r in RESOLUTIONS if period % r == 0 and origin % r == 0)
        out: dict[tuple[int, str], Agg] = {}
        for ts, u, agg in self.store.points(sid, res, origin, int(end), unit):
            slot = (origin + (ts - origin) // period * period, u)
            found = out.get(slot)
            if found is None:
                out[slot] = agg
            else:
                found.merge(agg)
        return out

    def series(self, region: str) -> list[tuple[SeriesKey, float]]:
        self.flush()
        return list(self.store.series(region))

    def totals(self) -> list[tuple[SeriesKey, str, float, float]]:
        """(series, unit, SampleCount, Sum) since each series began (Prometheus' view)."""
        self.flush()
        return self.store.totals()
