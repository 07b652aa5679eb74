"""Metering and throttling of every file system's I/O, and its ``AWS/EFS`` I/O metrics.

A component (after the file systems and the metrics). Every ``SHOAL_EFS_IO_TICK_S`` seconds
(default 1) it reads, for each file system on its own volume, the device's counters
(:mod:`shoal.filesystems.blkio`) and the metadata operations queued since the last tick
(:mod:`shoal.filesystems.metadata_ops`); meters them (:mod:`shoal.filesystems.throughput`);
advances the burst-credit balance; and sets the device's throttle to the permitted rate (reads
at three times it, shared with writes as ``throughput.split`` says). Every
``SHOAL_EFS_METRICS_S`` seconds (default 60, a minute as EFS) it publishes by ``FileSystemId``:

- ``DataReadIOBytes``, ``DataWriteIOBytes``, ``MetadataIOBytes``, ``TotalIOBytes`` (Bytes):
  statistic sets whose Sum is the bytes and SampleCount the operations (EFS's semantics:
  Average is the mean operation size; Minimum/Maximum are that mean, the device counting no
  single sizes); a minute without operations publishes nothing, as EFS;
- ``MeteredIOBytes`` (Bytes): Sum of the metered bytes (reads at a third in bursting and
  provisioned modes);
- ``PermittedThroughput`` (Bytes/Second), ``BurstCreditBalance`` (Bytes), ``PercentIOLimit``
  (Percent, generalPurpose file systems only): one sample a tick, so a minute's Minimum,
  Maximum and Average are those of its seconds.

An interval under 60 s (tests, the example) also keeps one-second data points (``Period=1``),
so that a scenario can be followed second by second.

Credits are persisted (store kind ``fscredits``) on every tick that changed the balance (and
once a minute when it did not), before the throttle follows them; a restart finds them, and
earns for the time it was down. A file system not on its own volume (before it has one) is
neither metered nor throttled: its balance and permitted throughput are still published, from
its size.

Two server settings make the seed's scenario reproducible in seconds; a real deployment needs
neither: ``SHOAL_EFS_BURST_CREDITS`` (bytes) is a new file system's starting balance instead of
EFS's 2.1 TiB, and ``SHOAL_EFS_CREDIT_CLOCK`` multiplies the rate credits are earned at.

State: ``_state`` maps a file-system id to its :class:`FsIo`, touched only on the event loop
(the tick, :meth:`IoMetrics.forget`); the file-system service calls ``forget`` before it
deletes a file system, so its throttle is gone before its device is.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shoal.filesystems import blkio, throughput
from shoal.filesystems.metadata_ops import MetadataCounter
from shoal.filesystems.models import FileSystem
from shoal.filesystems.throughput import Credits
from shoal.observability.metrics import dims_key

if TYPE_CHECKING:
    from shoal.core import Shoal
    from shoal.observability.metrics import MetricService

log = logging.getLogger("shoal.filesystems")

NAMESPACE = "AWS/EFS"
KIND = "fscredits"
ELASTIC_REPORTED = float(throughput.GiB)  # PermittedThroughput of an elastic file system
# A balance that did not move (capped, or idle at zero) is saved at most this often.
SAVE_IDLE_S = 60.0
# General Purpose mode's I/O limits (operations per second, read and write) by throughput
# mode, from the EFS performance table: PercentIOLimit is the nearer of the two.
IOPS_LIMITS = {"bursting": (35_000, 7_000), "provisioned": (55_000, 25_000),
               "elastic": (900_000, 500_000)}  # fmt: skip


@dataclass
class FsIo:
    """One file system's metering state (mutable; the component's alone)."""

    credits: Credits
    saved: Credits = Credits(-1.0, 0.0)  # what the store holds
    device: blkio.Device | None = None
    backing: str | None = None  # the device's backing file when attached: still the same?
    last: blkio.Counters = field(default_factory=blkio.Counters)
    meta: MetadataCounter | None = None
    limits: tuple[float, float] | None = None  # (read, write) written to the kernel
    permitted: float = 0.0
    recent: tuple[int, int] = (0, 0)  # bytes read and written in the last tick
    earlier: tuple[int, int] = (0, 0)  # and in the one before
    # Accumulated since the last publication: ios and bytes each way, metadata ops, metered
    # bytes, and the gauges' samples.
    read: tuple[int, int] = (0, 0)
    write: tuple[int, int] = (0, 0)
    meta_ops: int = 0
    metered: float = 0.0
    gauges: dict[str, list[float]] = field(default_factory=dict)

    def sample(self, name: str, value: float) -> None:
        self.gauges.setdefault(name, []).append(value)


class IoMetrics:
    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.store = shoal.store
        self.tick_s = float(os.environ.get("SHOAL_EFS_IO_TICK_S") or 1.0)
        self.publish_s = float(os.environ.get("SHOAL_EFS_METRICS_S") or 60.0)
        initial = os.environ.get("SHOAL_EFS_BURST_CREDITS")
        self.initial = float(initial) if initial else throughput.INITIAL_CREDITS
        self.clock = float(os.environ.get("SHOAL_EFS_CREDIT_CLOCK") or 1.0)
        self.throttling = blkio.available() and os.geteuid() == 0
        self._saved = {k: Credits(float(d["balance"]), float(d["at"]))
                       for k, d in self.store.load(KIND).items()}  # fmt: skip
        self._state: dict[str, FsIo] = {}
        self._task: asyncio.Task[None] | None = None
        self._published = time.time()

    async def start(self) -> None:
        if hasattr(self.shoal, "filesystems"):
            self._task = asyncio.get_running_loop().create_task(self._forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for fs_id in list(self._state):
            self._release(self._state.pop(fs_id))

    async def _forever(self) -> None:
        while True:
            try:
                self.tick()
                if time.time() - self._published >= self.publish_s:
                    self.publish()
            except Exception:
                log.exception("EFS I/O metering")
            await asyncio.sleep(self.tick_s)

    # ------------------------------------------------------------------ the tick

    def balance(self, fs_id: str) -> float | None:
        """The burst-credit balance now (bytes), as of the last tick."""
        st = self._state.get(fs_id)
        return st.credits.balance if st is not None else None

    def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        systems = self.shoal.filesystems.file_systems()
        changed: dict[str, Credits] = {}
        for fs in systems:
            st = self._state.get(fs.id)
            if st is None:
                saved = self._saved.pop(fs.id, None)
                st = self._state[fs.id] = FsIo(saved or Credits(self.initial, now))
                changed[fs.id] = st.credits
            if st.device is None:
                self._attach(fs, st)
            self._meter(fs, st, now)
            if st.credits.balance != st.saved.balance or now - st.saved.at >= SAVE_IDLE_S:
                changed[fs.id] = st.credits
        if changed:
            with self.store.transaction():
                for fs_id, c in changed.items():
                    self.store.put(KIND, fs_id, {"balance": c.balance, "at": c.at})
            for fs_id, c in changed.items():
                self._state[fs_id].saved = c
        for fs in systems:
            self._enforce(fs, self._state[fs.id])
        for fs_id in set(self._state) - {fs.id for fs in systems}:
            self._release(self._state.pop(fs_id))  # deleted without forget: still cleaned

    def _attach(self, fs: FileSystem, st: FsIo) -> None:
        root = self.shoal.filesystems.root(fs.id)
        dev = blkio.loop_device_of(root)
        if dev is None:
            return
        st.device, st.backing, st.last = dev, blkio.backing_file(dev), blkio.counters(dev)
        try:
            st.meta = MetadataCounter(root)
        except OSError as e:
            log.warning("no metadata metering for %s: %s", fs.id, e)

    def _storage(self, fs: FileSystem) -> float:
        measure = self.shoal.filesystems.meter.last(fs.id)
        return float(measure.bytes) if measure is not None else 0.0

    def _meter(self, fs: FileSystem, st: FsIo, now: float) -> None:
        delta = blkio.Counters()
        meta = 0
        if st.device is not None:
            current = blkio.counters(st.device)
            delta, st.last = current - st.last, current
            meta = st.meta.take() if st.meta is not None else 0
        mode = fs.throughput_mode
        meta_bytes = meta * throughput.METADATA_OP_BYTES
        metered = throughput.metered(mode, delta.read_bytes, delta.write_bytes, meta_bytes)
        storage = self._storage(fs)
        st.credits = st.credits.advance(now, metered, storage, self.clock)
        st.permitted = throughput.permitted(mode, fs.provisioned_throughput, storage,
                                            st.credits.balance, self.tick_s)  # fmt: skip
        st.read = (st.read[0] + delta.read_ios, st.read[1] + delta.read_bytes)
        st.write = (st.write[0] + delta.write_ios, st.write[1] + delta.write_bytes)
        st.meta_ops += meta
        st.metered += metered
        # Elastic has no limit here; EFS reports its maximum write throughput (1 GiB/s, the
        # lowest of its regional figures), and so does Shoal.
        shown = st.permitted if st.permitted != throughput.UNLIMITED else ELASTIC_REPORTED
        st.sample("PermittedThroughput", shown)
        st.sample("BurstCreditBalance", st.credits.balance)
        if fs.performance_mode == "generalPurpose":
            read_limit, write_limit = IOPS_LIMITS.get(mode, IOPS_LIMITS["bursting"])
            seconds = max(self.tick_s, 1e-3)
            used = max(delta.read_ios / read_limit, (delta.write_ios + meta) / write_limit)
            st.sample("PercentIOLimit", min(100.0, 100.0 * used / seconds))
        st.earlier, st.recent = st.recent, (delta.read_bytes, delta.write_bytes)

    def _same_device(self, st: FsIo) -> bool:
        return st.device is not None and blkio.backing_file(st.device) == st.backing

    def _enforce(self, fs: FileSystem, st: FsIo) -> None:
        if st.device is None or not self.throttling:
            return
        if not self._same_device(st):
            # Detached (and perhaps reused by someone else): not ours to throttle any more.
            self._release(st)
            st.device = st.backing = None
            return
        # A mix is what both directions carried in each of the last two ticks: the one tick
        # where a write ends and a read begins is not one (its reads would be held back).
        mixed = (min(st.recent[0], st.earlier[0]), min(st.recent[1], st.earlier[1]))
        limits = throughput.split(st.permitted, fs.throughput_mode, *mixed)
        if limits == st.limits:
            return
        if limits[0] == throughput.UNLIMITED:
            blkio.unthrottle(st.device)
        else:
            blkio.throttle(st.device, limits[0], limits[1])
        st.limits = limits

    # ------------------------------------------------------------------ lifecycle

    def forget(self, fs_id: str) -> None:
        """``fs_id`` is being deleted: its throttle, its watch and its credits go now."""
        st = self._state.pop(fs_id, None)
        if st is not None:
            self._release(st)
        self._saved.pop(fs_id, None)
        self.store.delete(KIND, fs_id)

    def _release(self, st: FsIo) -> None:
        if st.device is not None and st.limits is not None and self._same_device(st):
            blkio.unthrottle(st.device)
        st.limits = None
        if st.meta is not None:
            st.meta.close()
            st.meta = None

    # ------------------------------------------------------------------ publishing

    def publish(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._published = now
        metrics = getattr(self.shoal, "metrics", None)
        if metrics is None:
            return
        by_id = {fs.id: fs for fs in self.shoal.filesystems.file_systems()}
        for fs_id, st in self._state.items():
            fs = by_id.get(fs_id)
            if fs is not None:
                self._publish_one(metrics, fs, st, now)

    def _publish_one(self, metrics: MetricService, fs: FileSystem, st: FsIo, now: float) -> None:
        # Published faster than a minute (a demonstration's setting), the points are kept at
        # one second too, so that the scenario can be watched second by second.
        res = 1 if self.publish_s < 60 else 60

        def put(key: tuple[str, str, str, tuple[tuple[str, str], ...]], ts: float, unit: str,
                _res: int, statistics: tuple[float, float, float, float]) -> None:  # fmt: skip
            metrics.put(key, ts, unit, res, statistics=statistics)

        dims = dims_key({"FileSystemId": fs.id})
        meta_bytes = st.meta_ops * throughput.METADATA_OP_BYTES
        total = (st.read[0] + st.write[0] + st.meta_ops, st.read[1] + st.write[1] + meta_bytes)
        for name, (ops, size) in (("DataReadIOBytes", st.read), ("DataWriteIOBytes", st.write),
                                  ("MetadataIOBytes", (st.meta_ops, meta_bytes)),
                                  ("TotalIOBytes", total)):  # fmt: skip
            if ops:
                mean = size / ops
                put((fs.region, NAMESPACE, name, dims), now, "Bytes", 60,
                    statistics=(float(ops), float(size), mean, mean))  # fmt: skip
        if total[0]:
            put((fs.region, NAMESPACE, "MeteredIOBytes", dims), now, "Bytes", 60,
                statistics=(float(total[0]), st.metered, st.metered / total[0],
                            st.metered / total[0]))  # fmt: skip
        units = {"PermittedThroughput": "Bytes/Second", "BurstCreditBalance": "Bytes",
                 "PercentIOLimit": "Percent"}  # fmt: skip
        for name, samples in st.gauges.items():
            if samples:
                put((fs.region, NAMESPACE, name, dims), now, units[name], 60,
                    statistics=(float(len(samples)), sum(samples), min(samples),
                                max(samples)))  # fmt: skip
        st.read, st.write, st.meta_ops, st.metered, st.gauges = (0, 0), (0, 0), 0, 0.0, {}
