"""The Linux system calls the sandbox needs, through ctypes (``os.unshare`` is 3.12+ only).

Every wrapper checks the return value and raises ``OSError(errno, ...)`` naming the call and
its arguments; nothing is ``assert``-ed.
"""

from __future__ import annotations

import ctypes
import os
import platform
from typing import Optional

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong]
_libc.syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> None:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def _b(value: Optional[str]) -> Optional[bytes]:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare(0x%x)" % flags)


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns(%d, 0x%x)" % (fd, nstype))


def mount(source: Optional[str], target: str, fstype: Optional[str], flags: int,
          data: Optional[str] = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
           "mount(%r, %r, %r, 0x%x, %r)" % (source, target, fstype, flags, data))


def umount2(target: str, flags: int) -> None:
    _check(_libc.umount2(_b(target), flags), "umount2(%r, %d)" % (target, flags))


def pivot_root(new_root: str, put_old: str) -> None:
    nr = _SYS_PIVOT_ROOT.get(platform.machine())
    if nr is None:
        raise OSError(38, "pivot_root: unknown syscall number on %s" % platform.machine())
    _check(_libc.syscall(nr, _b(new_root), _b(put_old)),
           "pivot_root(%r, %r)" % (new_root, put_old))


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), "sethostname(%r)" % name)


def prctl(option: int, arg2: int = 0) -> None:
    _check(_libc.prctl(option, arg2, 0, 0, 0), "prctl(%d, %d)" % (option, arg2))


def bind(source: str, target: str, readonly: bool, recursive: bool = False,
         extra: int = 0) -> None:
    """Bind ``source`` at ``target``; a read-only bind needs a second, remount call."""
    mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))
    if readonly or extra:
        mount(None, target, None,
              MS_BIND | MS_REMOUNT | extra | (MS_RDONLY if readonly else 0))
