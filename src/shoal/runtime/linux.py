"""The Linux system calls the sandbox needs, through ctypes (``os.unshare`` is 3.12+ only).

Every wrapper checks the return value and raises ``OSError(errno, ...)`` naming the call and
its arguments; nothing is ``assert``-ed.
"""

from __future__ import annotations

import ctypes
import os
import platform

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000

MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_MM = 35
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]
_libc.syscall.restype = ctypes.c_long
_libc.capset.argtypes = [ctypes.c_void_p, ctypes.c_void_p]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _check(result: int, what: str) -> None:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), f"unshare(0x{flags:x})")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), f"setns({fd}, {nstype:#x})")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    _check(
        _libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
        f"mount({source!r}, {target!r}, {fstype!r}, 0x{flags:x}, {data!r})",
    )


def umount2(target: str, flags: int) -> None:
    _check(_libc.umount2(_b(target), flags), f"umount2({target!r}, {flags})")


def pivot_root(new_root: str, put_old: str) -> None:
    nr = _SYS_PIVOT_ROOT.get(platform.machine())
    if nr is None:
        raise OSError(38, f"pivot_root: unknown syscall number on {platform.machine()}")
    _check(_libc.syscall(nr, _b(new_root), _b(put_old)), f"pivot_root({new_root!r}, {put_old!r})")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), f"sethostname({name!r})")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0) -> None:
    _check(_libc.prctl(option, arg2, arg3, arg4, 0), f"prctl({option}, {arg2}, {arg3:#x})")


def open_no_symlinks(path: str) -> int:
    """An ``O_PATH`` fd of the directory ``path``, walked one component at a time from ``/``
    without following any symlink (``..`` refused). A mount source under a file system that
    functions write to must be opened this way: a component swapped for a symlink between the
    service's checks and the mount must fail the mount, not redirect it (binding
    ``/proc/self/fd/N`` then mounts exactly the directory that was opened)."""
    flags = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                raise OSError(1, f"'..' in mount source {path!r}")
            next_fd = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def bind(source: str, target: str, readonly: bool, recursive: bool = False, extra: int = 0) -> None:
    """Bind ``source`` at ``target``; a read-only bind needs a second, remount call."""
    mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))
    if readonly or extra:
        mount(None, target, None, MS_BIND | MS_REMOUNT | extra | (MS_RDONLY if readonly else 0))


def drop_capabilities() -> None:
    """Empty the effective, permitted, inheritable and ambient sets of the calling thread (the
    only thread of a freshly forked process). Needed where a uid change cannot do it: a
    process that created a user namespace holds every capability *in it* whatever its uid."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()  # version 3: two 32-bit words per set, all zero
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset(0)")
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
