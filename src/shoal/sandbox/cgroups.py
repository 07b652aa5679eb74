"""Per-environment cgroups (v1): ``memory`` and ``pids`` under ``<root>/<ctl>/shoal/<env_id>``,
and one ``cpu`` group, ``<root>/cpu/shoal``, for every environment together.

Why one cpu group: the server does the invoke path's work for every environment, in one
process. With each environment a scheduling entity of its own, fifty busy environments would
get fifty shares of the CPU to the server's one, and the server, which they all wait on,
would run a fiftieth of the time (measured: 50 clients ran at 8.7k invokes/s against 13k with
10; 11k with the group). In one group they weigh together as much as ``ncpu - 1`` processes
(``cpu.shares`` 1024 each, a process's weight; at least one): all the cores but the one the
single-threaded server can use, which it gets when it needs it. Among themselves they share
fairly.

Created by the server before the spawn; the environment's init joins them (writes 0 to
``cgroup.procs``) before it forks anything. When the cgroup file system is not writable the
factory falls back to RLIMIT_AS (logged once) and :class:`Cgroups.create` returns ``None``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal

log = logging.getLogger(__name__)

CGROUP_ROOT = "/sys/fs/cgroup"
PARENT = "shoal"
PIDS_MAX = 1024
MIB = 1 << 20


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _mkdir_fresh(path: str) -> None:
    """mkdir, replacing an empty leftover of a previous run with the same env id."""
    try:
        os.mkdir(path)
    except FileExistsError:
        os.rmdir(path)  # EBUSY if something still runs in it: the spawn fails, loudly
        os.mkdir(path)


class EnvCgroup:
    """One environment's cgroups. Methods never raise for a cgroup that is already gone."""

    def __init__(self, memory_dir: str, pids_dir: str | None, cpu_dir: str | None = None) -> None:
        self.memory_dir = memory_dir
        self.pids_dir = pids_dir
        self.cpu_dir = cpu_dir  # shared by every environment: never removed with one

    @property
    def procs_paths(self) -> list[str]:
        """The memory cgroup's first (:meth:`pids` reads it)."""
        dirs = [self.memory_dir] + [d for d in (self.pids_dir, self.cpu_dir) if d]
        return [os.path.join(d, "cgroup.procs") for d in dirs]

    def oom_killed(self) -> bool:
        """True when the kernel's OOM killer acted in this cgroup (or the limit was hit)."""
        try:
            for line in _read(os.path.join(self.memory_dir, "memory.oom_control")).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value) > 0
            # Kernels before 4.13 have no oom_kill counter: hitting the limit is the best hint.
            return int(_read(os.path.join(self.memory_dir, "memory.failcnt"))) > 0
        except (OSError, ValueError):
            return False

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in _read(self.procs_paths[0]).split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def remove(self) -> bool:
        """rmdir both cgroups; False while processes remain (EBUSY)."""
        done = True
        for d in (self.memory_dir, self.pids_dir):
            if d is None:
                continue
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError:
                done = False
        return done


class Cgroups:
    """Creates environment cgroups under ``<root>/{memory,pids}/<parent>``."""

    def __init__(self, root: str = CGROUP_ROOT, parent: str = PARENT) -> None:
        self.memory_parent = os.path.join(root, "memory", parent)
        pids_root = os.path.join(root, "pids")
        self.pids_parent = os.path.join(pids_root, parent) if os.path.isdir(pids_root) else None
        cpu_root = os.path.join(root, "cpu")
        shares = os.path.join(cpu_root, "cpu.shares")
        self.cpu_group = os.path.join(cpu_root, parent) if os.path.exists(shares) else None
        self.available = self._probe()

    def _probe(self) -> bool:
        v1_memory = os.path.join(os.path.dirname(self.memory_parent), "memory.limit_in_bytes")
        if not os.path.exists(v1_memory):
            log.warning(
                "no cgroup v1 memory controller at %s: environments are limited with "
                "RLIMIT_AS instead",
                os.path.dirname(self.memory_parent),
            )
            return False
        try:
            os.makedirs(self.memory_parent, exist_ok=True)
            if self.pids_parent:
                os.makedirs(self.pids_parent, exist_ok=True)
            if self.cpu_group:
                os.makedirs(self.cpu_group, exist_ok=True)
                cores = max(1, (os.cpu_count() or 1) - 1)
                _write(os.path.join(self.cpu_group, "cpu.shares"), str(1024 * cores))
        except OSError as e:
            log.warning(
                "cgroup memory controller not writable at %s (%s): environments are "
                "limited with RLIMIT_AS instead",
                self.memory_parent,
                e,
            )
            return False
        return True

    def create(self, env_id: str, memory_mb: int) -> EnvCgroup | None:
        if not self.available:
            return None
        memory_dir = os.path.join(self.memory_parent, env_id)
        pids_dir = os.path.join(self.pids_parent, env_id) if self.pids_parent else None
        cg = EnvCgroup(memory_dir, pids_dir, self.cpu_group)
        try:
            _mkdir_fresh(memory_dir)
            limit = str(memory_mb * MIB)
            _write(os.path.join(memory_dir, "memory.limit_in_bytes"), limit)
            memsw = os.path.join(memory_dir, "memory.memsw.limit_in_bytes")
            if os.path.exists(memsw):
                _write(memsw, limit)  # no swapping past the limit either
            if pids_dir:
                _mkdir_fresh(pids_dir)
                _write(os.path.join(pids_dir, "pids.max"), str(PIDS_MAX))
        except BaseException:
            cg.remove()
            raise
        return cg
