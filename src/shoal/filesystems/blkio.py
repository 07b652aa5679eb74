"""The kernel side of throughput: a file system's block device, its I/O counters, and its
throttle in the root blkio cgroup (cgroup v1).

Why this facility. Each file system is its own loop-backed ext4 volume (the volumes contract:
``os.stat(FileSystemService.root(fs_id)).st_dev`` is its loop device), so everything that
reaches the file system's bytes — functions' bind mounts, host mounts, NFS-Ganesha — ends as
block I/O on that one device. A rule ``MAJ:MIN BPS`` in the *root* cgroup's
``blkio.throttle.read_bps_device``/``write_bps_device`` throttles that device for every
process at once, the kernel's buffered writeback included (the flusher threads are in the root
cgroup): measured here with 8 MiB/s, ``dd conv=fsync`` of 40 MiB took 5.1 s (8.2 MB/s), a
buffered write of 40 MiB returned at once and the ``sync`` after it took 4.9 s, an uncached read
ran at 8.4 MB/s. A per-process cgroup would miss writeback and NFS; FUSE would put a process on
the data path; device-mapper is not available. The counters of ``/sys/dev/block/MAJ:MIN/stat``
meter the same device, whoever did the I/O.

The limits: what the page cache serves is neither metered nor throttled (EFS's clients cache
too); a buffered write is throttled when it is written back, so ``write`` returns at once and
``fsync``/``sync`` waits; ext4's journal and metadata blocks count as data I/O.

Safety: this module refuses to touch any device that is not a loop device
(``/sys/dev/block/MAJ:MIN/loop`` must exist), so no mistake throttles the host's disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BLKIO_ROOT = Path("/sys/fs/cgroup/blkio")
SYS_DEV_BLOCK = Path("/sys/dev/block")
SECTOR = 512
MIN_BPS = 4096  # the smallest limit written: 0 would mean "no limit" to the kernel


class NotALoopDevice(Exception):
    """Raised instead of throttling a device that is not a loop device."""


@dataclass(frozen=True)
class Device:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}:{self.minor}"

    @property
    def sys(self) -> Path:
        return SYS_DEV_BLOCK / str(self)

    def is_loop(self) -> bool:
        return (self.sys / "loop").is_dir()


@dataclass(frozen=True)
class Counters:
    """Completed I/O of a device since it was attached: operations and bytes each way."""

    read_ios: int = 0
    read_bytes: int = 0
    write_ios: int = 0
    write_bytes: int = 0

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            max(0, self.read_ios - other.read_ios),
            max(0, self.read_bytes - other.read_bytes),
            max(0, self.write_ios - other.write_ios),
            max(0, self.write_bytes - other.write_bytes),
        )


def backing_file(dev: Device) -> str | None:
    """The file behind a loop device (None: detached, or not a loop device). A loop device's
    number is reused once detached, so a holder of rules checks it is still the same one."""
    try:
        return (dev.sys / "loop" / "backing_file").read_text().strip()
    except OSError:
        return None


def device_of(path: str | Path) -> Device:
    st = os.stat(path)
    return Device(os.major(st.st_dev), os.minor(st.st_dev))


def loop_device_of(path: str | Path) -> Device | None:
    """``path``'s device when it is a loop device (its own volume), else None."""
    try:
        dev = device_of(path)
    except OSError:
        return None
    return dev if dev.is_loop() else None


def counters(dev: Device) -> Counters:
    """The device's counters (``Documentation/block/stat.rst``: fields 1, 3, 5 and 7)."""
    fields = (dev.sys / "stat").read_text().split()
    return Counters(int(fields[0]), int(fields[2]) * SECTOR, int(fields[4]),
                    int(fields[6]) * SECTOR)  # fmt: skip


def available() -> bool:
    return (BLKIO_ROOT / "blkio.throttle.write_bps_device").exists()


def _write(name: str, dev: Device, bps: int) -> None:
    with open(BLKIO_ROOT / name, "w") as f:
        f.write(f"{dev} {bps}\n")


def throttle(dev: Device, read_bps: float | None, write_bps: float | None) -> None:
    """Hold ``dev`` to these rates (bytes/s; None: no limit that way)."""
    if not dev.is_loop():
        raise NotALoopDevice(f"{dev} is not a loop device; refusing to throttle it")
    for name, bps in (("blkio.throttle.read_bps_device", read_bps),
                      ("blkio.throttle.write_bps_device", write_bps)):  # fmt: skip
        _write(name, dev, 0 if bps is None else max(MIN_BPS, int(bps)))


def unthrottle(dev: Device) -> None:
    """Remove both rules of ``dev`` (a device already gone has none: not an error)."""
    for name in ("blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device"):
        try:
            _write(name, dev, 0)
        except OSError:
            pass  # ENODEV: detached, and the kernel dropped its rules with it


def limits(dev: Device) -> tuple[int | None, int | None]:
    """The rules in force for ``dev``: (read_bps, write_bps), None where there is none."""
    out: list[int | None] = []
    for name in ("blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device"):
        found = None
        for line in (BLKIO_ROOT / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == str(dev):
                found = int(value)
        out.append(found)
    return out[0], out[1]
