"""Throughput modes hold every kind of client alike, not only functions (test_throughput_modes):
an NFS client of a mount target (libnfs) and a host mount made with ``shoal fs mount`` each
write 32 MiB with fsync to a provisioned 8 MiB/s file system at 8 MiB/s (±15%), as measured
where they run, and AWS/EFS's DataWriteIOBytes counts the NFS client's bytes once (writes are
metered 1:1); on an elastic file system the same writes run clearly faster.

Through boto3 (CreateFileSystem, CreateMountTarget, CloudWatch) and the CLI, against a real
server. Each new volume is synced before it is measured: its first journal commit (its
formatting metadata, some MiB) would otherwise share the 8 MiB/s with the client's writes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fs_helpers import shoal_cli
from loop_volume import loop_volume
from throughput_helpers import FAST, fs_root, stat, syncfs

from conftest import ShoalServer, module_server, wait_for
from nfs_client import NfsClient, mount_target, url
from shoal.filesystems import blkio
from shoal.filesystems.throughput import MiB

pytestmark = pytest.mark.nfs

SIZE_MIB = 32
RATE = 8  # MiB/s provisioned
# A COMMIT every 2 MiB, sent without waiting, so the server writes back while the client
# writes on (a kernel client's writeback); one WRITE at a time would make the rate libnfs's.
COMMIT_EVERY = 2 * MiB


srv = module_server("throughput-clients", FAST)


def new_fs(srv: ShoalServer, provisioned: bool) -> str:
    """A provisioned 8 MiB/s or an elastic file system, its throttle in place, synced."""
    mode = {"ThroughputMode": "provisioned", "ProvisionedThroughputInMibps": float(RATE)}
    fs_id = srv.client("efs").create_file_system(
        CreationToken=f"clients-{time.time_ns()}",
        **(mode if provisioned else {"ThroughputMode": "elastic"}),
    )["FileSystemId"]
    with loop_volume(fs_root(srv, fs_id)) as dev:
        limits = (3 * RATE * MiB, RATE * MiB) if provisioned else (None, None)
        wait_for(lambda: blkio.limits(dev) == limits, timeout=10)
    syncfs(fs_root(srv, fs_id))
    return fs_id


def nfs_write(port: int, fs_id: str, name: str) -> float:
    """MiB/s of an NFS client writing SIZE_MIB to ``name`` and COMMITting it, as it measures."""
    data = os.urandom(SIZE_MIB * MiB)
    with NfsClient(url(port, fs_id)) as nfs:
        fh = nfs.open(f"/{name}", os.O_CREAT | os.O_WRONLY)
        start = time.monotonic()
        nfs.stream(fh, 0, data, commit_every=COMMIT_EVERY)
        nfs.fsync(fh)
        elapsed = time.monotonic() - start
        nfs.close_file(fh)
    return SIZE_MIB / elapsed


def host_write(path: Path) -> float:
    """MiB/s of a host process writing SIZE_MIB to ``path`` with fsync, as it measures."""
    chunk = os.urandom(MiB)
    start = time.monotonic()
    with open(path, "wb") as f:
        for _ in range(SIZE_MIB):
            f.write(chunk)
        os.fsync(f.fileno())
    return SIZE_MIB / (time.monotonic() - start)


@contextmanager
def host_mount(srv: ShoalServer, fs_id: str, where: Path) -> Iterator[Path]:
    where.mkdir()
    run = shoal_cli(srv, "fs", "mount", fs_id, str(where))
    assert run.returncode == 0, run.stderr
    try:
        yield where
    finally:
        assert shoal_cli(srv, "fs", "unmount", str(where)).returncode == 0


IO = ("DataWriteIOBytes", "DataReadIOBytes", "MetadataIOBytes", "MeteredIOBytes")


def settled(srv: ShoalServer, fs_id: str) -> dict[str, float]:
    """The I/O metrics' Sums once they hold all the volume's data I/O so far: its device wrote
    nothing for two seconds and the data Sums did not move meanwhile (the meter ticks every
    0.5 s and publishes every second here; the metadata and metered Sums come with them)."""
    with loop_volume(fs_root(srv, fs_id)) as dev:
        seen: list[tuple[int, dict[str, float]]] = []

        def still() -> bool:
            sums = {m: stat(srv, fs_id, m, "Sum") or 0.0 for m in IO}
            seen.append((blkio.counters(dev).write_bytes, sums))
            data = [(w, s["DataWriteIOBytes"], s["DataReadIOBytes"]) for w, s in seen[-2:]]
            return len(data) == 2 and data[0] == data[1]

        wait_for(still, timeout=30, interval=2)
        return seen[-1][1]


def test_an_nfs_client_is_held_to_provisioned_throughput_and_metered(srv: ShoalServer) -> None:
    efs = srv.client("efs")
    provisioned, elastic = new_fs(srv, provisioned=True), new_fs(srv, provisioned=False)
    targets = {fs_id: mount_target(srv, fs_id) for fs_id in (provisioned, elastic)}
    before = settled(srv, provisioned)

    rate = nfs_write(targets[provisioned][1], provisioned, "nfs.bin")
    assert RATE * 0.85 <= rate <= RATE * 1.15, rate
    assert (fs_root(srv, provisioned) / "nfs.bin").stat().st_size == SIZE_MIB * MiB

    # The client's bytes, as CloudWatch shows them: written once, metered in full.
    wait_for(lambda: (stat(srv, provisioned, "DataWriteIOBytes", "Sum") or 0)
             - before["DataWriteIOBytes"] >= SIZE_MIB * MiB, timeout=15)  # fmt: skip
    after = settled(srv, provisioned)
    moved = {m: after[m] - before[m] for m in IO}
    # Beyond the data: the file's extents and inode in the journal, a few blocks.
    assert SIZE_MIB * MiB <= moved["DataWriteIOBytes"] <= SIZE_MIB * MiB * 1.03, moved
    metered = moved["DataWriteIOBytes"] + moved["DataReadIOBytes"] / 3 + moved["MetadataIOBytes"]
    assert moved["MeteredIOBytes"] == pytest.approx(metered, rel=0.01), moved
    assert moved["MetadataIOBytes"] >= 4096, moved  # the OPEN that created the file

    # Elastic: no throttle, the same client, clearly faster. Not by much more: libnfs 4.0's
    # sub-4 KiB WRITEs hold it to some 20-40 MiB/s on this machine, a per-RPC cost.
    unthrottled = nfs_write(targets[elastic][1], elastic, "nfs.bin")
    assert unthrottled > 1.5 * rate, (unthrottled, rate)
    for mt_id, _ in targets.values():
        efs.delete_mount_target(MountTargetId=mt_id)


def test_a_host_mount_is_held_to_provisioned_throughput(srv: ShoalServer, tmp_path: Path) -> None:
    provisioned, elastic = new_fs(srv, provisioned=True), new_fs(srv, provisioned=False)
    with host_mount(srv, provisioned, tmp_path / "provisioned") as where:
        rate = host_write(where / "host.bin")
    assert RATE * 0.85 <= rate <= RATE * 1.15, rate
    assert (fs_root(srv, provisioned) / "host.bin").stat().st_size == SIZE_MIB * MiB
    with host_mount(srv, elastic, tmp_path / "elastic") as where:
        unthrottled = host_write(where / "host.bin")
    assert unthrottled > 2 * rate, (unthrottled, rate)


def test_only_clients_operations_are_metered_not_the_servers_own(srv: ShoalServer) -> None:
    """Metadata I/O is a client's: the server's housekeeping in a volume (its headroom ballast,
    its size walk, both every second or faster) meters nothing, a host process's create does."""
    fs_id = srv.client("efs").create_file_system(CreationToken="housekeeping")["FileSystemId"]
    # The meter has ticked for three seconds (a PermittedThroughput sample each half second)
    # and the server measured the file system's size each second meanwhile.
    wait_for(lambda: (stat(srv, fs_id, "PermittedThroughput", "SampleCount") or 0) >= 6,
             timeout=15)  # fmt: skip
    assert stat(srv, fs_id, "MetadataIOBytes", "Sum") is None
    (fs_root(srv, fs_id) / "by-a-client").write_bytes(b"x")  # this process: create and open
    wait_for(lambda: (stat(srv, fs_id, "MetadataIOBytes", "Sum") or 0) >= 2 * 4096, timeout=10)
