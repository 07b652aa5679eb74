"""Each file system is a volume of its own: a sparse image file, formatted ext4, on a loop device.

Layout (``<data-dir>`` is root's alone, see :mod:`shoal.datadir`):

- ``<data-dir>/volumes/<fs-id>.img``: the image (0600), sparse, as large as the data
  directory's disk (a file system can never need more); ``<fs-id>.key``: its fscrypt key,
  a KMS data key kept only as its ciphertext blob (:mod:`shoal.filesystems.fskeys`), for
  ``Encrypted`` file systems. The tree is unlocked (the key added to the volume's keyring)
  through KMS when the volume is opened; a volume whose KMS key cannot be used then stays
  mounted but locked, and :meth:`Volumes.unlock` opens it at the next mount once it can.
- ``<fs_dir>/.volumes/<fs-id>/``: where the ext4 is mounted (``nosuid,nodev,discard``), under
  the host tree's ``nosuid,nodev`` mount (:mod:`shoal.filesystems.hosttree`); it holds
  ``lost+found``, the headroom ballast (:mod:`shoal.filesystems.headroom`) and ``tree/``.
- ``<fs_dir>/<fs-id>/``: ``tree/`` bind-mounted (``nosuid,nodev``): the file system as everyone
  sees it (access points, NFS exports, host mounts, functions) and what the service's
  ``root(fs_id)`` returns, as before volumes. ``lost+found`` and the ballast are outside it, and
  an fscrypt policy is set on ``tree/`` while it is empty. ``os.stat(root).st_dev`` is the
  volume's own loop device: metering and throttling go through ``/sys/dev/block/MAJ:MIN``. A
  bind mount made from it shows ``/tree/...`` as its root in mountinfo: a path inside the
  volume, never one of the host's.

Why: a volume per file system gives each one its own block device (the kernel's block layer
meters and throttles it), its own ENOSPC (the host's disk is never what fills), and ext4's
``encrypt`` feature whatever the data directory's file system is. ``--direct-io=on`` keeps the
image's pages out of the host's page cache (they are cached once, in the ext4 above it, not
twice). ``discard`` punches the blocks of deleted files out of the image, giving the host its
space back. Only an ``Encrypted`` file system's volume is formatted with ``encrypt`` (EFS fixes
encryption at creation): ext4 gives no file of a volume with that feature large folios, so its
page cache is in 4 KiB pages, a read request through the loop (128 segments) carries at most
512 KiB, and uncached sequential reads ran at half the host directory's speed; without it they
carry up to the loop's 1280 KiB and match it.

A server killed with SIGKILL leaves the loop device and the mount: :meth:`Volumes.open` finds
them (``losetup -j`` on the image, the mount's device in mountinfo) and reuses them, so
nothing stacks or leaks. Without root there is no loop device to make: the tree is then a
plain directory (same paths), and neither encryption nor the reserve is enforced.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Protocol

from shoal.errors import AwsError
from shoal.filesystems import fscrypt, headroom, hostmount, rootdir

log = logging.getLogger("shoal.filesystems")

MOUNT_OPTIONS = "nosuid,nodev,discard,noinit_itable"
MAX_IMAGE = 16 << 40
JOURNAL_MIB = 16


class VolumeError(Exception):
    """A volume could not be made or attached; the message says which step failed."""


class VolumeKeys(Protocol):
    """Where encrypted volumes' fscrypt keys come from (:class:`shoal.filesystems.fskeys.
    FileSystemKeys`): ``new_key`` makes and keeps one for a new volume and returns it,
    ``open_key`` gives it back; both raise ``AwsError`` when the key cannot be used."""

    def new_key(self, fs_id: str) -> bytes: ...

    def open_key(self, fs_id: str) -> bytes: ...


def _run(*args: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=120)
    except subprocess.CalledProcessError as e:
        raise VolumeError(f"{args[0]} failed: {(e.stderr or e.stdout).strip()}") from None
    return done.stdout.strip()


def _match_read_ahead(device: str, image: str) -> None:
    """Give the loop device the read-ahead of the disk holding its image: with direct I/O the
    loop's own (128 KiB by default) is the only one, and halves uncached sequential reads."""
    dev = os.stat(image).st_dev
    sys_dev = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}").resolve()
    for queue in (sys_dev / "queue", sys_dev.parent / "queue"):  # a disk, or a partition's
        try:
            value = (queue / "read_ahead_kb").read_text().strip()
        except OSError:
            continue
        try:
            Path(f"/sys/block/{os.path.basename(device)}/queue/read_ahead_kb").write_text(value)
        except OSError as e:
            log.warning("%s: read-ahead not set: %s", device, e)
        return


class Volumes:
    """Images, loop devices and mounts of the file systems. Each method is idempotent; the
    file-system service calls them (on its event loop, or a worker thread for the slow ones)
    and owns the order: create before the id is published, close before delete."""

    def __init__(self, data_dir: Path, fs_dir: Path, reserve: str | None,
                 keys: VolumeKeys | None = None) -> None:  # fmt: skip
        self.dir = data_dir / "volumes"
        self.keys = keys
        self.fs_dir = fs_dir
        self.enabled = os.geteuid() == 0
        self.headroom = headroom.Headroom(self, data_dir, reserve)
        self._keys: dict[str, bytes] = {}  # fs id -> fscrypt key identifier, while open
        self.open_ids: set[str] = set()  # the volumes mounted by this server
        # Held by every change to volumes and ballasts (create, open, close, the ticker).
        self.lock = threading.Lock()

    def mount_point(self, fs_id: str) -> Path:
        return self.fs_dir / ".volumes" / fs_id

    def tree(self, fs_id: str) -> Path:
        """The file system's tree: ``tree/`` of the volume, bound at ``<fs_dir>/<fs-id>``."""
        return self.fs_dir / fs_id

    def _inner_tree(self, fs_id: str) -> Path:
        return self.mount_point(fs_id) / "tree"

    def image(self, fs_id: str) -> Path:
        return self.dir / f"{fs_id}.img"

    def _prepare_dir(self) -> None:
        self.dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.dir, 0o700)

    # ------------------------------------------------------------------ lifecycle

    def create(self, fs_id: str, encrypted: bool) -> None:
        """Make, format, attach and mount a new volume with its tree (and its key); on any
        failure everything made is removed and the error is EFS's InternalServerError."""
        try:
            with self.lock:
                self._create(fs_id, encrypted)
        except (VolumeError, OSError) as e:
            log.error("file system %s: volume not created: %s", fs_id, e)
            self.delete(fs_id)
            raise AwsError("InternalServerError", f"The file system could not be created: {e}"
                           ) from None  # fmt: skip

    def _create(self, fs_id: str, encrypted: bool) -> None:
        if not self.enabled:
            rootdir.create_file_system_root(self.tree(fs_id))
            return
        self._prepare_dir()
        size = self.headroom.image_size()
        if self.headroom.budget() < headroom.MIN_HEADROOM:
            raise VolumeError("the host's disk has no room above the reserve (--fs-reserve)")
        image = self.image(fs_id)
        fd = os.open(image, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)
        journal = ["-J", f"size={JOURNAL_MIB}"] if size >= 1 << 30 else []  # else mke2fs's
        # ``encrypt`` only where it is used: it costs every file large folios (see above).
        features = ["-O", "encrypt"] if encrypted else []
        _run("mkfs.ext4", "-q", "-F", *features, "-b", "4096", "-T", "default", "-m", "0",
             *journal, "-L", fs_id[:16], str(image))  # fmt: skip
        if encrypted:
            self._key_source().new_key(fs_id)
        self._attach_and_mount(fs_id, encrypted, strict=True)
        inner = self._inner_tree(fs_id)
        rootdir.create_file_system_root(inner)
        if encrypted:
            fscrypt.set_policy(str(inner), self._keys[fs_id])
        self._bind_tree(fs_id)
        self.headroom.settle(fs_id)

    def open(self, fs_id: str, encrypted: bool) -> None:
        """Attach and mount an existing volume (at start), reusing what a killed server left."""
        if not self.enabled:
            return
        with self.lock:
            if not self.image(fs_id).exists():
                self._migrate(fs_id, encrypted)
                return
            self._attach_and_mount(fs_id, encrypted)
            self._bind_tree(fs_id)

    def _key_source(self) -> VolumeKeys:
        if self.keys is None:
            raise VolumeError("encrypted volumes need KMS (shoal.kms), which is not running")
        return self.keys

    def _attach_and_mount(self, fs_id: str, encrypted: bool, strict: bool = False) -> None:
        image, point = str(self.image(fs_id)), str(self.mount_point(fs_id))
        os.makedirs(point, mode=0o700, exist_ok=True)
        device = self.loop_of(fs_id)
        if device is None:
            device = _run("losetup", "--direct-io=on", "--show", "-f", image)
            _match_read_ahead(device, image)
        rdev = os.stat(device).st_rdev
        majmin = f"{os.major(rdev)}:{os.minor(rdev)}"
        top = hostmount.top_mount(point)
        if top is None or top.device != majmin:
            _run("mount", "-t", "ext4", "-o", MOUNT_OPTIONS, device, point)
        self.open_ids.add(fs_id)
        if encrypted:
            try:
                key = self._key_source().open_key(fs_id)
            except AwsError as e:
                if strict:
                    raise VolumeError(f"its key did not open: {e.message}") from None
                log.warning("file system %s stays locked: %s", fs_id, e.message)
                return
            self._keys[fs_id] = fscrypt.add_key(point, key)

    def unlock(self, fs_id: str) -> None:
        """Add the key of a volume left locked (see the module docstring), through KMS;
        nothing for one that is unlocked, not encrypted or not ours (AwsError when the key
        still cannot be used)."""
        if not self.enabled or fs_id in self._keys or fs_id not in self.open_ids:
            return
        if not (self.dir / f"{fs_id}.key").exists():
            return  # not encrypted
        with self.lock:
            if fs_id in self._keys:
                return
            key = self._key_source().open_key(fs_id)
            self._keys[fs_id] = fscrypt.add_key(str(self.mount_point(fs_id)), key)

    def _bind_tree(self, fs_id: str) -> None:
        """Bind ``tree/`` at the file system's path unless a previous server's bind is there."""
        target = str(self.tree(fs_id))
        os.makedirs(target, mode=0o755, exist_ok=True)
        top = hostmount.top_mount(target)
        device = os.stat(self.mount_point(fs_id)).st_dev
        if top is None or top.device != f"{os.major(device)}:{os.minor(device)}":
            hostmount.bind(str(self._inner_tree(fs_id)), target)

    def loop_of(self, fs_id: str) -> str | None:
        """The loop device attached to ``fs_id``'s image (a previous server's, say), if any."""
        out = _run("losetup", "-n", "-O", "NAME", "-j", str(self.image(fs_id)))
        return out.splitlines()[0].strip() if out else None

    def close(self, fs_id: str) -> None:
        """Remove the key, unmount and detach (lazily when still busy: the loop device then
        goes with its last user, by the kernel's autoclear)."""
        with self.lock:
            self._close(fs_id)

    def _close(self, fs_id: str) -> None:
        if not self.enabled:
            return
        self.open_ids.discard(fs_id)  # first: the ticker leaves it alone from here
        point = str(self.mount_point(fs_id))
        while hostmount.is_mount_point(str(self.tree(fs_id))):
            hostmount.unmount(str(self.tree(fs_id)), detach=True)
        identifier = self._keys.pop(fs_id, None)
        if identifier is not None and hostmount.is_mount_point(point):
            try:
                fscrypt.remove_key(point, identifier)
            except OSError as e:
                log.warning("file system %s: key not removed: %s", fs_id, e)
        while hostmount.is_mount_point(point):
            hostmount.unmount(point, detach=True)
        if self.image(fs_id).exists():
            device = self.loop_of(fs_id)
            if device is not None:
                _run("losetup", "-d", device)

    def delete(self, fs_id: str) -> None:
        """Close, then remove the image, its key and the mount point (after DeleteFileSystem
        has removed the file system from the store)."""
        with self.lock:
            try:
                self._close(fs_id)
            except (VolumeError, OSError) as e:
                log.warning("file system %s: volume not closed: %s", fs_id, e)
            self._remove(fs_id)

    def _remove(self, fs_id: str) -> None:
        for path in (self.image(fs_id), self.dir / f"{fs_id}.key"):
            path.unlink(missing_ok=True)
        tree = self.tree(fs_id)
        if not self.enabled:
            shutil.rmtree(tree, ignore_errors=True)
            return
        for path in (tree, self.mount_point(fs_id)):  # empty mount points, once unmounted
            if path.is_dir() and not hostmount.is_mount_point(str(path)):
                path.rmdir()
        try:
            self.mount_point(fs_id).parent.rmdir()  # .volumes/, when it was the last
        except OSError:
            pass  # others are in it (or it is gone): kept

    def _migrate(self, fs_id: str, encrypted: bool) -> None:
        """A file system of an older Shoal, a plain directory: its files are copied into a new
        volume (owners, modes, xattrs, links and times kept, ``cp -a``), then removed."""
        tree = self.tree(fs_id)
        old = self.fs_dir / f".migrating-{fs_id}"
        if tree.is_dir() and not hostmount.is_mount_point(str(tree)):
            os.rename(tree, old)
        self._create(fs_id, encrypted)
        if old.is_dir():
            _run("cp", "-a", "--", f"{old}/.", str(tree))
            st = old.stat()
            os.chown(tree, st.st_uid, st.st_gid)
            os.chmod(tree, st.st_mode & 0o7777)
            shutil.rmtree(old)
        log.warning("file system %s: migrated from a plain directory into a volume", fs_id)

    def close_all(self) -> None:
        for fs_id in sorted(self.open_ids):
            try:
                self.close(fs_id)
            except (VolumeError, OSError) as e:
                log.error("file system %s: volume not closed: %s", fs_id, e)
