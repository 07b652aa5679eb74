"""Loading a seccomp filter compiled by the server (:mod:`shoal.sandbox.seccomp`).

The server compiles the profile with libseccomp once and sends the BPF program's bytes to the
fork server (``{"op": "seccomp"}``); an environment's processes install it with one
``prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &sock_fprog)`` after their privileged set-up and
before any user code. Written by hand because it is one system call on bytes made elsewhere:
libseccomp is not in the environment's root, and this package is standard library only.

The kernel requires ``no_new_privs`` (or CAP_SYS_ADMIN) first; every caller has set it. A
filter, once loaded, stays for the life of the process and every process it forks, and can
only be narrowed by further filters.
"""

from __future__ import annotations

import ctypes

from . import linux

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SOCK_FILTER_SIZE = 8  # struct sock_filter: u16 code, u8 jt, u8 jf, u32 k
BPF_MAXINSNS = 4096


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Program:
    """A BPF program held in memory that stays valid for the life of the process (and of its
    forks, which inherit the memory), ready to be loaded by any of them."""

    def __init__(self, code: bytes) -> None:
        count, rest = divmod(len(code), SOCK_FILTER_SIZE)
        if rest or not 0 < count <= BPF_MAXINSNS:
            raise ValueError(f"not a BPF program: {len(code)} bytes")
        self.code = code
        self._buffer = ctypes.create_string_buffer(code, len(code))
        self._fprog = _SockFprog(count, ctypes.addressof(self._buffer))

    def load(self) -> None:
        """Install the filter on the calling thread (the only thread of every caller)."""
        linux.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(self._fprog))


class Profiles:
    """The environment's two filters: ``strict`` for every environment, ``template`` for a
    snapshot template, which must still be able to build restored environments; each of
    those stacks ``strict`` on top."""

    def __init__(self, strict: bytes, template: bytes) -> None:
        self.strict = Program(strict)
        self.template = Program(template)
