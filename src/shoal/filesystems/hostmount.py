"""Mounting a file system, or one access point with its identity enforced, on this host.

Both are kernel mounts, no FUSE: reads, writes, ``flock``/``fcntl`` locks and ``rename`` are the
same inodes the execution environments use, at native speed.

- The whole file system is a bind mount of its directory.
- An access point is an *idmapped* bind mount (Linux >= 5.12, ``mount_setattr(2)`` with
  ``MOUNT_ATTR_IDMAP``) of its root directory. The mapping pairs one host identity (root by
  default) with the access point's PosixUser, so for that host user: the files it creates are
  owned by the PosixUser on the file system, the PosixUser's files appear as its own, and
  every other identity is unmapped: it cannot chown files to them, and the kernel checks its
  access to their files as "other" (root gets no override on them). It is the host's view of
  an NFS client squashed to the access point's user, as EFS does. A mount's id map is one to
  one, so the PosixUser's secondary gids are not given to the host user.
- Without a PosixUser, where the policy withholds ``ClientRootAccess``, the mount is
  *root-squashed* (:func:`bind_root_squashed`): every id maps to itself but root, whose writes
  are stored as 65534 and who gets no override on files that root owns. Which of these a mount
  is comes from the one identity rule, :mod:`shoal.filesystems.identity`, through the server.

Every mount made here is ``nosuid,nodev`` unless asked otherwise: whoever wrote a file system's
files (a function, an NFS client, another host mount), a set-uid or set-gid bit there gives no
one that identity on this host and a device node there opens nothing. ``suid=True`` (``shoal fs
mount --suid``) lifts ``nosuid`` only; device nodes stay inert on every mount.

Must run as root (creating mounts and writing a user namespace's maps need CAP_SYS_ADMIN).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shoal.filesystems.models import NOBODY

# New-mount-API syscalls; these numbers are the same on every architecture (>= 424 are shared).
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442
OPEN_TREE_CLONE = 1
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_IDMAP = 0x00100000
CLONE_NEWUSER = 0x10000000
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class HostMountError(Exception):
    pass


def _check(result: int, what: str, path: str = "") -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise HostMountError(f"{what} {path}: {os.strerror(err)}".strip())
    return result


_LAST_ID = 4294967294  # (uid_t)-1 is no id
# Root squash as an id map ("inside outside count" lines): host root is stored as nobody, every
# other id as itself; on-disk root and host nobody are left unmapped.
ROOT_SQUASH_MAP = f"{NOBODY} 0 1\n1 1 {NOBODY - 1}\n{NOBODY + 1} {NOBODY + 1} {_LAST_ID - NOBODY}\n"


@contextmanager
def _user_namespace(uid_map: str, gid_map: str) -> Iterator[int]:
    """An fd of a user namespace with these maps (lines of "inside outside count").

    For an idmapped mount, an id stored on disk is looked up on the namespace's *inside* side
    and shown as the *host* side (and a host caller's id is stored as its inside id).
    A child process holds the namespace while the maps are written and the fd is opened.
    """
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: unshare, say so, wait to be released; never returns
        try:
            os.close(ready_r)
            os.close(done_w)
            ok = _libc.unshare(CLONE_NEWUSER) == 0
            os.write(ready_w, b"1" if ok else b"0")
            os.read(done_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    fd = -1
    try:
        if os.read(ready_r, 1) != b"1":
            raise HostMountError("cannot create a user namespace for the idmapped mount")
        with open(f"/proc/{pid}/uid_map", "w") as f:
            f.write(uid_map)
        with open(f"/proc/{pid}/gid_map", "w") as f:
            f.write(gid_map)
        fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        yield fd
    finally:
        if fd >= 0:
            os.close(fd)
        os.close(done_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def _attrs(readonly: bool, suid: bool) -> tuple[int, int]:
    """(attr_set, attr_clr) for mount_setattr: nodev always, nosuid unless ``suid``."""
    attr_set = MOUNT_ATTR_NODEV | (0 if suid else MOUNT_ATTR_NOSUID)
    if readonly:
        attr_set |= MOUNT_ATTR_RDONLY
    # A clone keeps its source's flags: under a nosuid mount (the file systems' directory is
    # one) lifting nosuid has to clear it explicitly.
    return attr_set, MOUNT_ATTR_NOSUID if suid else 0


def _attach(tree: int, target: str, attr_set: int, attr_clr: int = 0, userns_fd: int = 0,
            flags: int = 0) -> None:  # fmt: skip
    attr = struct.pack("QQQQ", attr_set, attr_clr, 0, userns_fd)
    _check(
        _libc.syscall(SYS_MOUNT_SETATTR, tree, b"", AT_EMPTY_PATH | flags, attr, len(attr)),
        "mount_setattr",
        target,
    )
    _check(
        _libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, os.fsencode(target),
                      MOVE_MOUNT_F_EMPTY_PATH),
        "move_mount", target,
    )  # fmt: skip


def _clone(source: str, recursive: bool = False) -> int:
    flags = OPEN_TREE_CLONE | os.O_CLOEXEC | (AT_RECURSIVE if recursive else 0)
    return _check(
        _libc.syscall(SYS_OPEN_TREE, AT_FDCWD, os.fsencode(source), flags), "open_tree", source
    )


def bind(source: str, target: str, *, readonly: bool = False, suid: bool = False,
         recursive: bool = False) -> None:  # fmt: skip
    """Bind-mount ``source`` at ``target`` (created if missing), ``nosuid,nodev`` unless
    ``suid``; ``recursive`` takes the mounts under ``source`` along, with the same flags."""
    os.makedirs(target, exist_ok=True)
    tree = _clone(source, recursive)
    try:
        attr_set, attr_clr = _attrs(readonly, suid)
        _attach(tree, target, attr_set, attr_clr, flags=AT_RECURSIVE if recursive else 0)
    finally:
        os.close(tree)


def bind_as(source: str, target: str, uid: int, gid: int, *, host_uid: int = 0,
            host_gid: int = 0, readonly: bool = False, suid: bool = False) -> None:  # fmt: skip
    """Idmapped bind mount: ``host_uid``/``host_gid`` act as ``uid``/``gid`` under target."""
    _bind_mapped(source, target, f"{uid} {host_uid} 1\n", f"{gid} {host_gid} 1\n", readonly,
                 suid)  # fmt: skip


def bind_root_squashed(source: str, target: str, *, readonly: bool = False,
                       suid: bool = False) -> None:  # fmt: skip
    """Idmapped bind mount where every id is itself but root, which acts as 65534."""
    _bind_mapped(source, target, ROOT_SQUASH_MAP, ROOT_SQUASH_MAP, readonly, suid)


def _bind_mapped(source: str, target: str, uid_map: str, gid_map: str, readonly: bool,
                 suid: bool) -> None:  # fmt: skip
    os.makedirs(target, exist_ok=True)
    tree = _clone(source)
    try:
        with _user_namespace(uid_map, gid_map) as userns:
            attr_set, attr_clr = _attrs(readonly, suid)
            try:
                _attach(tree, target, attr_set | MOUNT_ATTR_IDMAP, attr_clr, userns)
            except HostMountError as e:
                if "Invalid argument" in str(e) or "not supported" in str(e):
                    raise HostMountError(
                        f"{e} (the file system under {source} does not support idmapped mounts)"
                    ) from None
                raise
    finally:
        os.close(tree)


MS_SHARED = 1 << 20


def make_shared(target: str) -> None:
    """Make the mount at ``target`` shared: mounts made under it later propagate to its copies
    in other mount namespaces (the fork servers' slave copies, see shoal.runtime.rootfs)."""
    if _libc.mount(None, os.fsencode(target), None, MS_SHARED, None) != 0:
        raise HostMountError(f"make {target} shared: {os.strerror(ctypes.get_errno())}")


def unmount(target: str, *, detach: bool = False) -> None:
    """Unmount ``target``; ``detach`` (MNT_DETACH) unhooks it now even if files are open."""
    if _libc.umount2(os.fsencode(target), MNT_DETACH if detach else 0) != 0:
        err = ctypes.get_errno()
        if err == errno.EBUSY:
            raise HostMountError(f"{target} is busy (a process uses it); close it and retry")
        raise HostMountError(f"umount {target}: {os.strerror(err)}")


@dataclass(frozen=True)
class MountEntry:
    """One line of /proc/self/mountinfo (proc(5)): what is mounted where, and how."""

    mount_id: int
    parent_id: int
    device: str  # major:minor
    root: str  # the directory of the file system that is mounted (not "/" for a bind)
    point: str
    options: frozenset[str]  # the per-mount options: rw/ro, nosuid, nodev, noexec, ...

    @classmethod
    def parse(cls, line: str) -> MountEntry:
        fields = line.split(" ")
        return cls(int(fields[0]), int(fields[1]), fields[2], _unescape(fields[3]),
                   _unescape(fields[4]), frozenset(fields[5].split(",")))  # fmt: skip


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal.
    return field.encode().decode("unicode_escape") if "\\" in field else field


def mounts() -> list[MountEntry]:
    """This mount namespace's mounts, in mount order."""
    with open("/proc/self/mountinfo") as f:
        return [MountEntry.parse(line) for line in f]


def top_mount(path: str) -> MountEntry | None:
    """What ``path`` reaches when it is a mount point (the last mount stacked there), else None."""
    target = os.path.realpath(path)
    here = [m for m in mounts() if m.point == target]
    covered = {m.parent_id for m in here}
    return next((m for m in reversed(here) if m.mount_id not in covered), None)


def is_mount_point(path: str) -> bool:
    """True when ``path`` is a mount point (bind mounts included, which ismount misses)."""
    return top_mount(path) is not None
