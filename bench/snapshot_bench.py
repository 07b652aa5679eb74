"""Snapshot starts against plain fork-server starts, a fresh interpreter and re-running init.

Measured at the sandbox level (the fork-server factory, as the invoker drives it, with the
server's default network: a namespace of its own and NAT egress), so that the numbers are the
environment's own, without HTTP:

- cold start p50/p99: a plain fork-server start (spawn + init of a trivial handler) and a
  snapshot start (fork from the template + after-restore hooks) of a function whose init burns
  3 s of CPU, against ``python3 -c pass`` and against running that 3 s init again;
- scale-out: 1 -> 8 warm environments of the 3 s function, started concurrently;
- memory: PSS (``/proc/<pid>/smaps_rollup``) added by each extra environment of a function
  that holds 500 MB after init, against a fresh process holding the same 500 MB;
- the seccomp filter's share of a cold start: the one ``prctl`` that loads it (the kernel
  compiles the program then), timed in fresh forks, against the plain start.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable

from bench.common import median, pct, python_start_ms, table
from shoal.runtime import linux
from shoal.runtime.seccomp import Program
from shoal.sandbox import seccomp
from shoal.sandbox.environment import ForkServerEnvironment
from shoal.sandbox.forkserver import ForkServerFactory
from shoal.sandbox.network import EnvironmentNetwork
from shoal.sandbox.template import SnapshotTemplate
from shoal.sandbox.types import EnvironmentSpec, InvokeRequest

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
UID = 23456
TRIVIAL = "def handler(event, context):\n    return event\n"
SLOW_INIT = (
    "import time\n"
    "end = time.time() + 3.0\n"
    "while time.time() < end:\n"
    "    pass\n"
    "def handler(event, context):\n"
    "    return event\n"
)
MODEL_MB = 500
HOLDS_500MB = (
    f'MODEL = b"\\x01" * ({MODEL_MB} << 20)\ndef handler(event, context):\n    return len(MODEL)\n'
)
FRESH_500MB = (
    f'import sys\nMODEL = b"\\x01" * ({MODEL_MB} << 20)\n'
    'print("ready", flush=True)\nsys.stdin.read()\n'
)
N = 30


def _code(root: str, source: str) -> str:
    path = os.path.join(root, uuid.uuid4().hex[:8])
    os.mkdir(path)
    os.chmod(path, 0o755)
    with open(os.path.join(path, "app.py"), "w") as f:
        f.write(source)
    os.chmod(os.path.join(path, "app.py"), 0o644)
    return path


def _spec(code: str, memory_mb: int = 256) -> EnvironmentSpec:
    return EnvironmentSpec(
        f"bench-{uuid.uuid4().hex[:12]}",
        RUNTIME,
        code,
        "app.handler",
        {"PATH": "/usr/bin:/bin"},
        memory_mb,
        64,
        60.0,
        UID,
        UID,
    )


def _request() -> InvokeRequest:
    return InvokeRequest(
        str(uuid.uuid4()), b"{}", "arn", "$LATEST", int(time.time() * 1000) + 60000
    )


def _out(env_id: str, chunk: bytes) -> None:
    pass


async def plain_starts_ms(factory: ForkServerFactory, code: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        env = await factory.spawn(_spec(code), _out)
        init = await env.init()
        times.append((time.perf_counter() - t0) * 1000)
        assert init.error is None, init.error
        await env.destroy()
    return times


async def restore(
    factory: ForkServerFactory, template: SnapshotTemplate, memory_mb: int = 256
) -> ForkServerEnvironment:
    env = await factory.spawn_from(template, _spec(template.spec.code_dir, memory_mb), _out)
    init = await env.init()
    assert init.error is None, init.error
    return env


async def snapshot_starts_ms(
    factory: ForkServerFactory, template: SnapshotTemplate, n: int
) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        env = await restore(factory, template)
        times.append((time.perf_counter() - t0) * 1000)
        await env.destroy()
    return times


async def scale_out_ms(factory: ForkServerFactory, template: SnapshotTemplate) -> float:
    """1 -> 8 warm environments: one exists, seven more start concurrently and answer."""
    first = await restore(factory, template)
    t0 = time.perf_counter()
    envs = await asyncio.gather(*(restore(factory, template) for _ in range(7)))
    await asyncio.gather(*(env.invoke(_request()) for env in envs))
    elapsed = (time.perf_counter() - t0) * 1000
    await asyncio.gather(first.destroy(), *(env.destroy() for env in envs))
    return elapsed


def pss_kb(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass  # gone
    return total


def _pids(envs: Iterable[ForkServerEnvironment]) -> list[int]:
    pids: list[int] = []
    for env in envs:
        cgroup = env._cgroup  # noqa: SLF001 - the bench reads the sandbox's own accounting
        pids += cgroup.pids() if cgroup is not None else [env.pid]
    return pids


async def memory_per_env_mb(factory: ForkServerFactory, code: str, extra: int = 4) -> float:
    """PSS added per restored environment: (PSS of template + k envs) - (template alone)."""
    template = await factory.snapshot(_spec(code, 1024), _out)
    try:
        alone = pss_kb(_pids([template.env]))
        envs = [await restore(factory, template, 1024) for _ in range(extra)]
        for env in envs:
            await env.invoke(_request())  # a warm environment has served a request
        with_envs = pss_kb(_pids([template.env, *envs]))
        return (with_envs - alone) / extra / 1024
    finally:
        await factory.destroy_template(template)


def fresh_process_mb() -> float:
    proc = subprocess.Popen(
        [sys.executable, "-c", FRESH_500MB],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        return pss_kb([proc.pid]) / 1024
    finally:
        proc.communicate("")


def seccomp_load_ms(n: int = 200) -> list[float]:
    """The strict filter's load, as each environment's init does it, in ``n`` fresh forks."""
    program = Program(seccomp.programs().strict)
    times = []
    for _ in range(n):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
            t0 = time.perf_counter_ns()
            program.load()
            os.write(w, str(time.perf_counter_ns() - t0).encode())
            os._exit(0)
        os.waitpid(pid, 0)
        times.append(int(os.read(r, 64)) / 1e6)
        os.close(r)
        os.close(w)
    return times


async def measure() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as root:
        os.chmod(root, 0o755)
        trivial, slow, big = (_code(root, s) for s in (TRIVIAL, SLOW_INIT, HOLDS_500MB))
        factory = ForkServerFactory(network=EnvironmentNetwork("nat"))  # as `shoal serve`
        try:
            await factory.network.start()  # as the server starts it, before any spawn
            await factory.zygote(RUNTIME)
            plain = await plain_starts_ms(factory, trivial, N)
            rerun = await plain_starts_ms(factory, slow, 2)
            t0 = time.perf_counter()
            template = await factory.snapshot(_spec(slow), _out)
            template_ms = (time.perf_counter() - t0) * 1000
            snap = await snapshot_starts_ms(factory, template, N)
            scale = median([await scale_out_ms(factory, template) for _ in range(3)])
            await factory.destroy_template(template)
            per_env = await memory_per_env_mb(factory, big)
        finally:
            await factory.close()
    return {
        "plain": plain,
        "rerun": rerun,
        "template": template_ms,
        "snap": snap,
        "scale": scale,
        "per_env": per_env,
    }


def run() -> str:
    m = asyncio.run(measure())
    py = median(python_start_ms())
    fresh = fresh_process_mb()
    load = seccomp_load_ms()
    plain, snap, rerun = m["plain"], m["snap"], m["rerun"]
    assert isinstance(plain, list) and isinstance(snap, list) and isinstance(rerun, list)
    scale, per_env, template = m["scale"], m["per_env"], m["template"]
    assert isinstance(scale, float) and isinstance(per_env, float)
    assert isinstance(template, float)
    rows = [
        (
            "plain fork-server start + init, trivial handler, p50 / p99 (ms)",
            f"{median(plain):.2f} / {pct(plain, 99):.2f}",
            f"{py:.2f} (python3 -c pass)",
            f"{median(plain) / py:.3f}×",
            "≤ 10 ms, < 0.1×",
        ),
        (
            "seccomp filter: its one load per environment, p50 / p99 (ms)",
            f"{median(load):.2f} / {pct(load, 99):.2f}",
            f"{median(plain):.2f} (plain start p50)",
            f"{median(load) / median(plain):.3f}×",
            "small",
        ),
        (
            "snapshot start of a 3 s-init function, p50 / p99 (ms)",
            f"{median(snap):.2f} / {pct(snap, 99):.2f}",
            f"{py:.2f} (python3 -c pass)",
            f"{median(snap) / py:.3f}×",
            "≤ 50 ms",
        ),
        (
            "snapshot start vs re-running the 3 s init (ms)",
            f"{median(snap):.2f}",
            f"{median(rerun):.0f} (plain start + init)",
            f"{median(snap) / median(rerun):.4f}×",
            "",
        ),
        (
            "template: spawn + the one 3 s init + before-snapshot hooks (ms)",
            f"{template:.0f}",
            f"{median(rerun):.0f} (plain start + init)",
            f"{template / median(rerun):.2f}×",
            "once per revision",
        ),
        (
            "scale 1 → 8 warm environments, 3 s-init function (ms, total)",
            f"{scale:.1f} ({scale / 7:.1f} per extra)",
            f"{median(rerun):.0f} (one init)",
            f"{scale / median(rerun):.3f}×",
            "≪ 1 s, ≤ 50 ms each",
        ),
        (
            f"memory (PSS) per extra environment, function holding {MODEL_MB} MB (MB)",
            f"{per_env:.1f}",
            f"{fresh:.1f} (fresh process, same {MODEL_MB} MB)",
            f"{per_env / fresh:.3f}×",
            "copy-on-write",
        ),
    ]
    return table(f"Snapshot starts ({RUNTIME}, sandbox level)", rows)


if __name__ == "__main__":
    print(run())
