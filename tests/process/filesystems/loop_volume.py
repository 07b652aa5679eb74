"""A loop-backed ext4 volume of the test's own, mounted over a file system's tree: the volumes
contract (``os.stat(root).st_dev`` is the file system's own loop device) made by hand, so the
throughput tests run before, and independently of, the volumes work. Everything it makes it
removes — the throttle rules of its device included — also when the test fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shoal.filesystems import blkio

# The trees this module mounted a volume over (the server's own volumes are never unmounted).
_MOUNTED: set[Path] = set()


@contextmanager
def loop_volume(mountpoint: Path, image_dir: Path, size_mb: int = 256) -> Iterator[blkio.Device]:
    """The file system's own loop device: the server's, when its tree already is a volume of
    its own; else one made here and mounted over the tree."""
    own = blkio.loop_device_of(mountpoint)
    if own is not None:
        yield own
        return
    image = image_dir / f"{mountpoint.name}.img"
    with open(image, "wb") as f:
        f.truncate(size_mb << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    attach = ["losetup", "--direct-io=on", "-f", "--show", str(image)]
    dev_path = subprocess.run(attach, check=True, capture_output=True, text=True).stdout.strip()
    st = os.stat(dev_path)
    dev = blkio.Device(os.major(st.st_rdev), os.minor(st.st_rdev))
    assert dev.is_loop()
    try:
        subprocess.run(["mount", "-o", "nosuid,nodev", dev_path, str(mountpoint)], check=True)
        _MOUNTED.add(mountpoint)
        shutil.rmtree(mountpoint / "lost+found", ignore_errors=True)
        os.chmod(mountpoint, 0o755)
        yield dev
    finally:
        _MOUNTED.discard(mountpoint)
        blkio.unthrottle(dev)  # ours: whatever the server left (the test asserts it left none)
        subprocess.run(["umount", "-l", str(mountpoint)], check=False, capture_output=True)
        subprocess.run(["losetup", "-d", dev_path], check=False)
        image.unlink(missing_ok=True)


def unmount(mountpoint: Path) -> None:
    """Take this module's volume off the tree (the device stays attached until the context
    ends), so that the file system can be deleted; the server's own volume stays."""
    if mountpoint in _MOUNTED:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)
