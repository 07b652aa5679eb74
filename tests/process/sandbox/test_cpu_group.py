"""Every environment, plain or restored, runs in the one shared cpu cgroup, whose weight leaves
the single-threaded server a core of its own (see :mod:`shoal.sandbox.cgroups`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sandbox_helpers import Output, make_code, make_spec, request, run

from shoal.sandbox.forkserver import ForkServerFactory

APP = "def handler(event, context):\n    return open('/proc/self/cgroup').read()\n"


def _cpu_path(cgroups: str) -> str:
    for line in cgroups.splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return path
    raise AssertionError(f"no cpu controller in {cgroups!r}")


def test_plain_and_restored_environments_share_the_cpu_group(code_root: Path) -> None:
    code = make_code(code_root, APP)

    async def body(factory: ForkServerFactory) -> list[str]:
        out = []
        plain = await factory.spawn(make_spec(code), Output())
        await plain.init()
        template = await factory.snapshot(make_spec(code), Output())
        restored = await factory.spawn_from(template, make_spec(code), Output())
        await restored.init()
        for env in (plain, restored):
            result = await env.invoke(request(b"{}"))
            assert result.kind == "success", result.payload
            out.append(result.payload.decode())
        return out

    plain, restored = run(body)
    assert _cpu_path(json.loads(plain)) == _cpu_path(json.loads(restored)) == "/shoal"
    with open("/sys/fs/cgroup/cpu/shoal/cpu.shares") as f:
        assert int(f.read()) == 1024 * max(1, (os.cpu_count() or 1) - 1)
