"""What ``/proc/PID/cmdline`` and ``/proc/PID/environ`` show of an environment's processes.

Every environment process is a fork of the fork server, so without this the kernel would show
the fork server's argv (the host interpreter, ``-c`` and the host path of this package) and the
environment it was started with, to anything inside reading ``/proc/1/cmdline`` or
``/proc/self/environ``. The kernel reads those files from the address range recorded in the
process's ``mm`` (``arg_start``..``arg_end``, ``env_start``..``env_end``), which
``prctl(PR_SET_MM, ...)`` can point elsewhere (it needs CAP_SYS_RESOURCE: the init does it
while still root). Forks inherit both the ranges and the memory they point to, so doing it once
in the init covers its worker and every process a snapshot template forks.
"""

from __future__ import annotations

import ctypes

from . import linux

# Lambda's own init is /var/rapid/init, its runtime /var/runtime/bootstrap.
INIT_ARGV = b"/var/runtime/bootstrap\0"

PR_SET_MM_MAP = 14
EXE_FD_UNCHANGED = 0xFFFFFFFF

_kept: list[ctypes.Array[ctypes.c_char]] = []  # the new areas: alive as long as the process


class _MmMap(ctypes.Structure):
    """struct prctl_mm_map (linux/prctl.h)."""

    _fields_ = [
        ("start_code", ctypes.c_uint64),
        ("end_code", ctypes.c_uint64),
        ("start_data", ctypes.c_uint64),
        ("end_data", ctypes.c_uint64),
        ("start_brk", ctypes.c_uint64),
        ("brk", ctypes.c_uint64),
        ("start_stack", ctypes.c_uint64),
        ("arg_start", ctypes.c_uint64),
        ("arg_end", ctypes.c_uint64),
        ("env_start", ctypes.c_uint64),
        ("env_end", ctypes.c_uint64),
        ("auxv", ctypes.c_void_p),
        ("auxv_size", ctypes.c_uint32),
        ("exe_fd", ctypes.c_uint32),
    ]


def _current_map() -> _MmMap:
    """This process's layout, from /proc/self/stat (fields 26-28 and 45-51) and brk."""
    with open("/proc/self/stat", "rb") as f:
        stat = f.read()
    fields = [int(x) for x in stat[stat.rindex(b")") + 2 :].split()[23:49]]  # fields 26..51

    def field(n: int) -> int:
        return fields[n - 26]

    libc = ctypes.CDLL(None)
    libc.sbrk.restype = ctypes.c_void_p
    libc.sbrk.argtypes = [ctypes.c_long]
    return _MmMap(
        start_code=field(26),
        end_code=field(27),
        start_data=field(45),
        end_data=field(46),
        start_brk=field(47),
        brk=libc.sbrk(0) or field(47),
        start_stack=field(28),
        arg_start=field(48),
        arg_end=field(49),
        env_start=field(50),
        env_end=field(51),
        auxv=None,
        auxv_size=0,  # the auxiliary vector stays as it is
        exe_fd=EXE_FD_UNCHANGED,
    )


def neutralise(argv: bytes = INIT_ARGV, environ: bytes = b"") -> None:
    """Make this process (and every later fork of it) show ``argv`` (NUL-separated, ending in
    NUL) as its command line and ``environ`` as its environment. One PR_SET_MM_MAP call, which
    needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE (the single-field PR_SET_MM_ARG_START needs
    CAP_SYS_RESOURCE, which hosts running Shoal in a container may not grant even to root)."""
    arg_area = ctypes.create_string_buffer(argv, len(argv))
    env_area = ctypes.create_string_buffer(environ, max(len(environ), 1))
    _kept.extend((arg_area, env_area))
    mm = _current_map()
    mm.arg_start = ctypes.addressof(arg_area)
    mm.arg_end = mm.arg_start + len(argv)
    mm.env_start = ctypes.addressof(env_area)
    mm.env_end = mm.env_start + len(environ)
    linux.prctl(linux.PR_SET_MM, PR_SET_MM_MAP, ctypes.addressof(mm), ctypes.sizeof(mm))
