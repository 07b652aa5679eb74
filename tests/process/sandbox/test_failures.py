from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest
from sandbox_helpers import Output, make_code, make_spec, pid_exists, request, run, wait_gone

from shoal.sandbox.forkserver import ForkServerFactory
from shoal.sandbox.types import EnvironmentBusy, EnvironmentDead, SpawnError

APP = """
import ctypes, os, signal, time
def handler(event, context):
    what = event.get("do")
    if what == "sleep":
        time.sleep(event["s"])
    elif what == "exit":
        print("about to exit", flush=True)
        os._exit(3)
    elif what == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif what == "segv":
        ctypes.string_at(0)
    elif what == "alloc":
        hog = [b"x" * (1 << 20) for _ in range(event["mb"])]
        return len(hog)
    return "ok"
"""


def test_timeout_kills_and_reports(code_root: Path) -> None:
    code = make_code(code_root, APP)

    async def body(factory: ForkServerFactory) -> None:
        env = await factory.spawn(make_spec(code, timeout_s=1.0), Output())
        await env.init()
        result = await env.invoke(request(b'{"do": "sleep", "s": 30}', request_id="slow"))
        assert result.kind == "timeout"
        doc = json.loads(result.payload)
        assert doc["errorMessage"] == "RequestId: slow Error: Task timed out after 1.00 seconds"
        assert doc["errorType"] == "Sandbox.Timedout"
        assert 1000 <= result.duration_ms < 5000
        assert not env.alive and not pid_exists(env.pid)
        with pytest.raises(EnvironmentDead):
            await env.invoke(request())
        await env.destroy()

    run(body)


def test_memory_limit_gives_oom(code_root: Path) -> None:
    code = make_code(code_root, APP)

    async def body(factory: ForkServerFactory) -> None:
        assert factory.cgroups_available
        env = await factory.spawn(make_spec(code, memory_mb=64), Output())
        await env.init()
        small = await env.invoke(request(b'{"do": "alloc", "mb": 8}'))
        assert small.kind == "success" and small.max_memory_used_mb >= 8
        result = await env.invoke(request(b'{"do": "alloc", "mb": 200}', request_id="big"))
        assert result.kind == "oom", result.payload
        doc = json.loads(result.payload)
        assert doc["errorType"] == "Runtime.OutOfMemory"
        assert doc["errorMessage"] == (
            "RequestId: big Error: Runtime exited with error: signal: killed"
        )
        assert 60 <= result.max_memory_used_mb <= 64
        assert not env.alive

    run(body)


@pytest.mark.parametrize(
    ("what", "words"),
    [
        ("exit", "exit status 3"),
        ("sigkill", "signal: killed"),
        ("segv", "signal: segmentation fault"),
    ],
)
def test_crash_is_reported_without_hanging(code_root: Path, what: str, words: str) -> None:
    code = make_code(code_root, APP)
    out = Output()

    async def body(factory: ForkServerFactory) -> None:
        env = await factory.spawn(make_spec(code), out)
        await env.init()
        result = await env.invoke(request(json.dumps({"do": what}).encode(), request_id="c1"))
        assert result.kind == "crash"
        doc = json.loads(result.payload)
        assert doc == {
            "errorMessage": f"RequestId: c1 Error: Runtime exited with error: {words}",
            "errorType": "Runtime.ExitError",
        }
        assert not env.alive and not pid_exists(env.pid)
        if what == "exit":
            assert "about to exit" in out.text
        await env.destroy()

    run(body)


def test_destroy_is_idempotent_and_leaves_nothing(code_root: Path) -> None:
    child = "import subprocess\nCHILD = subprocess.Popen(['sleep', '600'])\n"
    code = make_code(code_root, APP + child)

    async def body(factory: ForkServerFactory) -> None:
        env = await factory.spawn(make_spec(code), Output())
        await env.init()
        cgroup_dir = f"/sys/fs/cgroup/memory/shoal/{env.env_id}"
        with open(os.path.join(cgroup_dir, "cgroup.procs")) as f:
            pids = [int(p) for p in f.read().split()]
        assert env.pid in pids and len(pids) == 3  # init, runtime, sleep
        await asyncio.gather(env.destroy(), env.destroy())
        await env.destroy()
        assert not env.alive
        assert not any(pid_exists(p) for p in pids)
        assert not os.path.exists(cgroup_dir)
        assert not os.path.exists(f"/sys/fs/cgroup/pids/shoal/{env.env_id}")

    run(body)


def test_destroy_after_death_is_safe(code_root: Path) -> None:
    code = make_code(code_root, APP)

    async def dead_init(factory: ForkServerFactory) -> None:
        env = await factory.spawn(make_spec(code), Output())
        os.kill(env.pid, signal.SIGKILL)
        await wait_gone(env.pid)
        init = await env.init()
        assert init.error is not None and init.error["errorType"] == "Runtime.ExitError"
        assert not env.alive
        await env.destroy()

    run(dead_init)


def test_one_invocation_at_a_time(code_root: Path) -> None:
    code = make_code(code_root, APP)

    async def body(factory: ForkServerFactory) -> None:
        env = await factory.spawn(make_spec(code), Output())
        await env.init()
        first = asyncio.ensure_future(env.invoke(request(b'{"do": "sleep", "s": 0.2}')))
        await asyncio.sleep(0)  # let the first invoke start
        with pytest.raises(EnvironmentBusy):
            await env.invoke(request())
        assert (await first).kind == "success"

    run(body)


def test_refuses_root_and_bad_specs(code_root: Path) -> None:
    code = make_code(code_root, APP)

    async def body(factory: ForkServerFactory) -> None:
        with pytest.raises(SpawnError, match="root"):
            await factory.spawn(make_spec(code, uid=0), Output())
        with pytest.raises(SpawnError, match="not available"):
            await factory.spawn(make_spec(code, runtime="python2.7"), Output())
        with pytest.raises(SpawnError, match="does not exist"):
            await factory.spawn(make_spec(code_root / "missing"), Output())

    run(body)


def test_zygote_is_restarted_after_it_dies(code_root: Path) -> None:
    code = make_code(code_root, APP)

    async def body(factory: ForkServerFactory) -> None:
        env = await factory.spawn(make_spec(code), Output())
        await env.init()
        zygote = await factory.zygote("python3.11")
        assert zygote.proc is not None
        zygote.proc.kill()
        await asyncio.to_thread(zygote.proc.wait)
        await wait_gone(env.pid)
        result = await env.invoke(request())  # the environment died with its zygote
        assert result.kind == "crash"
        assert (await factory.check()) == {"python3.11": False}
        again = await factory.spawn(make_spec(code), Output())
        assert (await again.init()).error is None
        assert (await again.invoke(request())).kind == "success"
        assert (await factory.check()) == {"python3.11": True}

    run(body)


def test_close_stops_everything(code_root: Path) -> None:
    code = make_code(code_root, APP)
    seen: dict[str, int] = {}

    async def body(factory: ForkServerFactory) -> None:
        envs = [await factory.spawn(make_spec(code), Output()) for _ in range(3)]
        zygote = await factory.zygote("python3.11")
        assert zygote.proc is not None
        seen["zygote"] = zygote.proc.pid
        for i, env in enumerate(envs):
            seen[str(i)] = env.pid

    run(body)
    assert not any(pid_exists(pid) for pid in seen.values())
