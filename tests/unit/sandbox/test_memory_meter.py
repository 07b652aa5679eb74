"""The memory meter over a stand-in cgroup directory (regular files where the kernel's are):
what it reads once at ready, what it resets and reads per invocation."""

from __future__ import annotations

import os
import resource
from pathlib import Path

from shoal.sandbox.cgroups import EnvCgroup
from shoal.sandbox.memory import MIB, MemoryMeter


def cgroup(tmp_path: Path, usage: int, peak: int) -> EnvCgroup:
    (tmp_path / "cgroup.procs").write_text(f"{os.getpid()}\n")
    (tmp_path / "memory.usage_in_bytes").write_text(f"{usage}\n")
    (tmp_path / "memory.max_usage_in_bytes").write_text(f"{peak}\n")
    return EnvCgroup(str(tmp_path), None)


def resident() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def test_the_shared_part_is_measured_once_and_added_to_each_peak(tmp_path: Path) -> None:
    meter = MemoryMeter(cgroup(tmp_path, usage=3 * MIB, peak=3 * MIB), memory_mb=10240)
    assert meter.max_used_mb() == 3  # before ready: the cgroup's peak alone
    before = resident()
    meter.ready()
    base = meter.max_used_mb() - 3  # MB this process holds beyond its charge, rounded up
    assert before - 3 * MIB <= base * MIB <= resident() - 3 * MIB + MIB
    # An invocation: begin() writes the reset (the kernel's file then reads the usage);
    # here the file is stood in for, so the test writes what the kernel would report.
    meter.begin()
    assert (tmp_path / "memory.max_usage_in_bytes").read_bytes()[:1] == b"0"
    (tmp_path / "memory.max_usage_in_bytes").write_text(f"{103 * MIB}\n")
    assert meter.max_used_mb() == base + 103
    meter.close()
    assert meter.max_used_mb() == 0  # closed: nothing to read, never raises


def test_capped_at_the_memory_size_and_nothing_without_a_cgroup(tmp_path: Path) -> None:
    meter = MemoryMeter(cgroup(tmp_path, usage=0, peak=500 * MIB), memory_mb=128)
    meter.ready()
    assert meter.max_used_mb() == 128
    meter.close()
    none = MemoryMeter(None, memory_mb=128)
    none.ready()
    none.begin()
    assert none.max_used_mb() == 0
