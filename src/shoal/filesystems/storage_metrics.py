"""The AWS/EFS metrics Shoal publishes: ``StorageBytes`` and ``ClientConnections``.

Every ``SHOAL_EFS_METRICS_S`` seconds (default 60) each file system is measured
(:mod:`shoal.filesystems.metering`, in a worker thread) and published by ``FileSystemId``:

- ``StorageBytes`` (Bytes) with ``StorageClass`` ``Total`` and ``Standard`` — every byte of a
  Shoal file system is in the Standard class — as EFS publishes it (the metered size);
- ``ClientConnections`` (Count): the execution environments that have it mounted now (one
  connection each, as each Lambda environment is one NFS client on EFS), the NFS clients
  connected to its mount targets and its host mounts (``shoal fs mount``), as
  :mod:`shoal.filesystems.clients` reads them from ``/proc``.

The I/O metrics (``DataReadIOBytes``…, ``BurstCreditBalance``, ``PermittedThroughput``) belong
to the metering of reads and writes, :mod:`shoal.filesystems.io_metrics`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING

from shoal.filesystems import clients

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.filesystems")

NAMESPACE = "AWS/EFS"


class StorageMetrics:
    """A component (after the invoker and the file systems, which it reads)."""

    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.interval_s = float(os.environ.get("SHOAL_EFS_METRICS_S") or 60.0)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if hasattr(self.shoal, "metrics") and hasattr(self.shoal, "filesystems"):
            self._task = asyncio.get_running_loop().create_task(self._forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _forever(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception:
                log.exception("EFS metrics")
            await asyncio.sleep(self.interval_s)

    def connections(self) -> dict[str, int]:
        """File system id -> environments that have it mounted now."""
        service = self.shoal.filesystems
        out: dict[str, int] = {}
        invoker = getattr(self.shoal, "invoker", None)
        for pool in list(invoker.pools.values()) if invoker is not None else ():
            live = sum(1 for env in pool.members if not env.dead)
            for config in pool.fn.file_system_configs:
                ap = service.access_point_by_arn(config.arn)
                if ap is not None and live:
                    out[ap.file_system_id] = out.get(ap.file_system_id, 0) + live
        return out

    async def others(self) -> dict[str, int]:
        """File system id -> NFS client connections and host mounts (read in a worker thread;
        the targets and trees are taken here, on the event loop that changes them)."""
        service = self.shoal.filesystems
        targets = [(t.file_system_id, t.ip_address, t.port) for t in service.targets.all()]
        trees = {fs.id: str(service.root(fs.id)) for fs in service.file_systems()}
        data_dir = str(self.shoal.settings.data_dir)

        def read() -> dict[str, int]:
            out = clients.nfs_connections(targets)
            for fs_id, n in clients.host_mounts(trees, data_dir).items():
                out[fs_id] = out.get(fs_id, 0) + n
            return out

        return await asyncio.to_thread(read)

    async def sample(self) -> None:
        metrics = self.shoal.metrics
        connected = self.connections()
        for fs_id, n in (await self.others()).items():
            connected[fs_id] = connected.get(fs_id, 0) + n
        for fs in self.shoal.filesystems.file_systems():
            measure = await self.shoal.filesystems.size(fs)
            region = fs.region
            for storage_class in ("Total", "Standard"):
                metrics.publish(NAMESPACE, "StorageBytes",
                                {"FileSystemId": fs.id, "StorageClass": storage_class},
                                float(measure.bytes), "Bytes", region=region)  # fmt: skip
            metrics.publish(NAMESPACE, "ClientConnections", {"FileSystemId": fs.id},
                            float(connected.get(fs.id, 0)), "Count", region=region)  # fmt: skip
