"""Elastic volumes that never push the host's disk past the reserve (``--fs-reserve``).

EFS has no size; a volume here has one (its image), so elasticity comes from headroom: each
image is as large as the host's disk (sparse: only written blocks take host space), and a
*ballast* file in the ext4 root, outside the tree, takes every block beyond the headroom.
The ballast is ``fallocate``'d (unwritten extents: ext4 metadata only, no block of the image
is written), so it costs the host nothing; growing a volume is shortening its ballast, and
taking headroom back (when the host's disk fills from elsewhere) is lengthening it, both
online and instant. (``resize2fs`` online needs CAP_SYS_RESOURCE, which a server in a
container often lacks — this machine's among them — and cannot shrink a mounted ext4.)

The rule, applied every :data:`TICK_S` seconds and at each create: the headroom of all volumes
together (their free blocks: the most they can still take from the host) stays within the
host's free space minus the reserve, each volume getting at most :data:`HEADROOM` of it and an
equal share when that is short. A volume whose headroom is used up answers ENOSPC, as a full
disk would, while the reserve stays free for Shoal's own database, logs and queue. A block
freed inside a volume goes back to the host (``discard``) and comes back as headroom.
"""

from __future__ import annotations

import errno
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shoal.filesystems.volumes import Volumes

log = logging.getLogger("shoal.filesystems")

HEADROOM = 1 << 30  # at most this much free space per volume, given ahead of the writes
MIN_HEADROOM = 1 << 20
DEFAULT_RESERVE = 1 << 30  # or 5% of the disk, whichever is smaller
TICK_S = 0.25
BLOCK = 4096
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str, disk_bytes: int) -> int:
    """``"5%"`` (of the disk), ``"512M"``, ``"1GiB"``, ``"1048576"``: a number of bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(%|[kmgt]?)(?:i?b)?\s*", text.lower())
    if m is None:
        raise ValueError(f"not a size: {text!r} (e.g. 1GiB, 512M, 5%)")
    number, unit = float(m.group(1)), m.group(2)
    return int(disk_bytes * number / 100) if unit == "%" else int(number * _UNITS[unit])


def _statvfs(path: str | Path) -> os.statvfs_result:
    return os.statvfs(path)


class Headroom:
    """Sizes images and moves ballasts. Called from worker threads, one at a time (the
    service's ticker and its create both run under the service's volume lock)."""

    def __init__(self, volumes: Volumes, data_dir: Path, reserve: str | None) -> None:
        self.volumes = volumes
        self.data_dir = data_dir
        self._reserve_text = reserve

    def disk_bytes(self) -> int:
        st = _statvfs(self.data_dir)
        return st.f_blocks * st.f_frsize

    def reserve(self) -> int:
        disk = self.disk_bytes()
        if self._reserve_text is None:
            return min(DEFAULT_RESERVE, disk // 20)
        return parse_size(self._reserve_text, disk)

    def image_size(self) -> int:
        from shoal.filesystems.volumes import MAX_IMAGE

        return min(self.disk_bytes(), MAX_IMAGE) // BLOCK * BLOCK

    def host_free(self) -> int:
        st = _statvfs(self.data_dir)
        return st.f_bavail * st.f_frsize

    def budget(self) -> int:
        """What all volumes together may still take from the host."""
        return max(0, self.host_free() - self.reserve())

    def free(self, fs_id: str) -> int:
        st = _statvfs(self.volumes.mount_point(fs_id))
        return st.f_bavail * st.f_frsize

    def target(self) -> int:
        count = max(1, len(self.volumes.open_ids))
        return min(HEADROOM, self.budget() // count) // BLOCK * BLOCK

    def settle(self, fs_id: str, target: int | None = None) -> None:
        """Move ``fs_id``'s ballast so that its free space is the target headroom. Headroom
        is taken back at once; it is given when the volume has used a quarter of it."""
        target = self.target() if target is None else target
        free = self.free(fs_id)
        ballast = self.volumes.mount_point(fs_id) / ".ballast"
        fd = os.open(ballast, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            size = os.fstat(fd).st_size
            if free > target + max(target // 8, MIN_HEADROOM // 4):
                self._lengthen(fd, size, free - target)
            elif free < target - target // 4 and size > 0:
                os.ftruncate(fd, max(0, size - (target - free)) // BLOCK * BLOCK)
        finally:
            os.close(fd)

    @staticmethod
    def _lengthen(fd: int, size: int, grow: int) -> None:
        grow = grow // BLOCK * BLOCK
        while grow >= BLOCK:
            try:
                os.posix_fallocate(fd, size, grow)
                return
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                size = os.fstat(fd).st_size
                grow = grow // 2 // BLOCK * BLOCK  # delayed allocations hold some: take less

    def settle_all(self) -> None:
        with self.volumes.lock:
            self._settle_all()

    def _settle_all(self) -> None:
        target = self.target()
        for fs_id in sorted(self.volumes.open_ids):
            try:
                self.settle(fs_id, target)
            except OSError as e:
                log.warning("file system %s: headroom not adjusted: %s", fs_id, e)
