"""Micro-measurement of the sandbox (not a test): ``python -m shoal.sandbox.measure``.

Prints cold start (spawn -> ready for init, the zygote already running) p50/p99 over N spawns,
init of a trivial handler, and the warm invoke round trip as seen by the caller.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time

from .forkserver import ForkServerFactory
from .types import EnvironmentSpec, InvokeRequest

APP = "def handler(event, context):\n    return event\n"


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _line(name: str, values: list[float], unit: str = "ms", scale: float = 1.0) -> str:
    v = [x * scale for x in values]
    return (
        f"{name:<28} n={len(v):<6} p50={_pct(v, 50):8.3f} {unit}  "
        f"p99={_pct(v, 99):8.3f} {unit}  mean={statistics.mean(v):8.3f} {unit}"
    )


async def measure(runtime: str, spawns: int, invokes: int, uid: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        with open(os.path.join(tmp, "app.py"), "w") as f:
            f.write(APP)
        os.chmod(os.path.join(tmp, "app.py"), 0o644)
        factory = ForkServerFactory()
        try:
            await factory.zygote(runtime)
            cold, init, first = [], [], []
            for i in range(spawns):
                spec = EnvironmentSpec(
                    f"measure-{os.getpid()}-{i}",
                    runtime,
                    tmp,
                    "app.handler",
                    {"PATH": "/usr/bin:/bin"},
                    128,
                    64,
                    30.0,
                    uid,
                    uid,
                )
                t0 = time.perf_counter()
                env = await factory.spawn(spec, lambda e, c: None)
                t1 = time.perf_counter()
                await env.init()
                t2 = time.perf_counter()
                await env.invoke(
                    InvokeRequest("r", b"{}", "arn", "$LATEST", int(time.time() * 1000) + 30000)
                )
                t3 = time.perf_counter()
                cold.append((t1 - t0) * 1000)
                init.append((t2 - t1) * 1000)
                first.append((t3 - t0) * 1000)
                await env.destroy()
            spec = EnvironmentSpec(
                f"measure-{os.getpid()}-warm",
                runtime,
                tmp,
                "app.handler",
                {},
                128,
                64,
                30.0,
                uid,
                uid,
            )
            env = await factory.spawn(spec, lambda e, c: None)
            await env.init()
            payload = b'{"hello": "world"}'
            warm = []
            for _ in range(invokes):
                req = InvokeRequest("r", payload, "arn", "$LATEST", int(time.time() * 1000) + 30000)
                t0 = time.perf_counter()
                await env.invoke(req)
                warm.append((time.perf_counter() - t0) * 1e6)
            print(
                f"runtime {runtime} ({factory.runtimes()[runtime]}), cgroups "
                f"{'on' if factory.cgroups_available else 'off (RLIMIT_AS)'}"
            )
            print(_line("cold start (spawn->ready)", cold))
            print(_line("init (import handler)", init))
            print(_line("spawn+init+first invoke", first))
            print(_line("warm invoke round trip", warm, "us"))
        finally:
            await factory.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runtime", default="python3.11")
    parser.add_argument("--spawns", type=int, default=100)
    parser.add_argument("--invokes", type=int, default=2000)
    parser.add_argument("--uid", type=int, default=65534 - 1)
    args = parser.parse_args()
    asyncio.run(measure(args.runtime, args.spawns, args.invokes, args.uid))


if __name__ == "__main__":
    main()
