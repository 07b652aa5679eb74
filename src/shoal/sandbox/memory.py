"""``Max Memory Used``: an environment's peak memory during one invocation, the interpreter
included, as Lambda reports it in the REPORT line.

Why not the memory cgroup's peak alone. An environment is a fork of a fork server (or of a
snapshot template) and shares its pages copy-on-write: the interpreter, the runtime, a
template's initialised heap. The kernel charges a page to the cgroup of the process that first
touched it, so those stay charged to the fork server's cgroup; the environment's own sees only
what it allocated or copied since the fork (3-4 MB for a plain handler, whose process is
~14 MB resident with python3.11). Lambda counts the whole environment.

So, once, when the environment is ready (its init done): ``base`` = the resident size of its
biggest process (``/proc/PID/statm``: the kernel's counters, no page-table walk) less the
cgroup's usage at that moment (the part of it, and of the rest, that is charged to the
environment, and so counted by the peak below). Each invocation: the cgroup's
``memory.max_usage_in_bytes`` is reset to the current usage (cgroup v1: writing 0) before the
request goes out, and read after the reply; Max Memory Used = ``base`` + that peak. A plain
handler reports its process's resident size; one that allocates 100 MB, 100 MB more.

Limits, by design: pages that only the environment's smaller processes map and that are not
charged to it are not counted (its init's own pages are charged to it); the figure is capped at
the function's memory size, as Lambda's never exceeds it. Without a memory cgroup (RLIMIT_AS
fallback) nothing is measured and the figure is 0.

Who may call: the environment that owns the meter, on the event loop. Never raises.
"""

from __future__ import annotations

import contextlib
import os
import resource

from .cgroups import EnvCgroup

MIB = 1 << 20
_PAGE = resource.getpagesize()


class MemoryMeter:
    def __init__(self, cgroup: EnvCgroup | None, memory_mb: int) -> None:
        self._cgroup = cgroup
        self._limit_mb = memory_mb
        self._base = 0  # bytes resident in the environment but charged elsewhere (see above)
        self._peak_fd: int | None = None
        if cgroup is not None:
            with contextlib.suppress(OSError):
                self._peak_fd = os.open(
                    os.path.join(cgroup.memory_dir, "memory.max_usage_in_bytes"),
                    os.O_RDWR | os.O_CLOEXEC,
                )

    def ready(self) -> None:
        """The environment finished its init: measure what it holds that its cgroup does not
        see. Once per environment: one read of cgroup.procs, of statm per process (two), of
        the usage; ~30 µs."""
        cgroup = self._cgroup
        if cgroup is None:
            return
        resident = 0
        try:
            pids = _read(os.path.join(cgroup.memory_dir, "cgroup.procs")).split()
            for pid in pids:
                try:
                    resident = max(resident, int(_read(b"/proc/%s/statm" % pid).split()[1]))
                except (OSError, ValueError, IndexError):
                    continue  # exited meanwhile
            charged = int(_read(os.path.join(cgroup.memory_dir, "memory.usage_in_bytes")))
        except (OSError, ValueError):
            return
        self._base = max(0, resident * _PAGE - charged)

    def begin(self) -> None:
        """An invocation starts: the cgroup's peak restarts from its current usage."""
        if self._peak_fd is not None:
            with contextlib.suppress(OSError):
                os.pwrite(self._peak_fd, b"0", 0)

    def max_used_mb(self) -> int:
        """The peak since :meth:`begin`, in MB (rounded up), the shared part included."""
        if self._peak_fd is None:
            return 0
        try:
            peak = int(os.pread(self._peak_fd, 64, 0))
        except (OSError, ValueError):
            return 0
        return min(self._limit_mb, -(-(self._base + peak) // MIB))

    def close(self) -> None:
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None


def _read(path: str | bytes) -> bytes:
    """A small kernel file's contents, without a Python file object (a third of the cost)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)
