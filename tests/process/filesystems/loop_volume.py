"""The file system's own loop device, as the throughput tests use it: every file system is a
loop-backed volume of its own (shoal.filesystems.volumes), so ``os.stat(root).st_dev`` is the
device whose blkio throttle and counters the server drives. Asserts the contract, so a test
never throttles or reads a device that is not that file system's loop device."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shoal.filesystems import blkio


@contextmanager
def loop_volume(root: Path) -> Iterator[blkio.Device]:
    """``root``'s loop device for the duration of a test."""
    dev = blkio.loop_device_of(root)
    assert dev is not None, f"{root} is not on a loop device of its own"
    yield dev
