"""Snapshot templates and their environments: failures, deaths, limits, the template cache."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest
from sandbox_helpers import Output, make_code, make_spec, pid_exists, request, run, wait_gone

from shoal.sandbox.forkserver import ForkServerFactory
from shoal.sandbox.template import SnapshotFailed
from shoal.sandbox.types import SpawnError

APP = """
import os, signal, time
LOG = open("/var/task/data.txt")     # an fd opened by init: restored processes keep it
def handler(event, context):
    what = event.get("do")
    if what == "sleep":
        time.sleep(event["s"])
    elif what == "exit":
        os._exit(3)
    elif what == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif what == "alloc":
        hog = [b"x" * (1 << 20) for _ in range(event["mb"])]
        return len(hog)
    LOG.seek(0)
    return LOG.read()
"""


def _code(code_root: Path, source: str = APP) -> Path:
    return make_code(code_root, source, **{"data.txt": "data"})


def test_template_init_error_is_reported_and_leaves_nothing(code_root: Path) -> None:
    code = _code(code_root, "raise ValueError('no model')\n")

    async def body(factory: ForkServerFactory) -> SnapshotFailed:
        spec = make_spec(code)
        with pytest.raises(SnapshotFailed) as failed:
            await factory.snapshot(spec, Output())
        assert not os.path.exists(f"/sys/fs/cgroup/memory/shoal/{spec.env_id}")
        assert factory._envs == {} and factory._templates == set()  # noqa: SLF001
        return failed.value

    failed = run(body)
    assert failed.error["errorType"] == "ValueError"
    assert failed.error["errorMessage"] == "no model"


def test_hook_errors_have_lambdas_error_types(code_root: Path) -> None:
    before = _code(
        code_root,
        """
from snapshot_restore_py import register_before_snapshot
register_before_snapshot(lambda: 1 / 0)
def handler(e, c):
    return 1
""",
    )
    after = _code(
        code_root,
        """
from snapshot_restore_py import register_after_restore
@register_after_restore
def reconnect():
    raise ConnectionError("database unreachable")
def handler(e, c):
    return 1
""",
    )

    async def body(factory: ForkServerFactory) -> None:
        with pytest.raises(SnapshotFailed) as failed:
            await factory.snapshot(make_spec(before), Output())
        assert failed.value.error["errorType"] == "Runtime.BeforeSnapshotError"
        assert failed.value.error["errorMessage"] == "ZeroDivisionError: division by zero"
        template = await factory.snapshot(make_spec(after), Output())
        env = await factory.spawn_from(template, make_spec(after), Output())
        init = await env.init()
        assert init.error is not None
        assert init.error["errorType"] == "Runtime.AfterRestoreError"
        assert init.error["errorMessage"] == "ConnectionError: database unreachable"

    run(body)


def test_restored_environment_deaths_are_reported_like_any_other(code_root: Path) -> None:
    code = _code(code_root)

    async def restored(factory: ForkServerFactory, template: object, **kw: object) -> object:
        env = await factory.spawn_from(template, make_spec(code, **kw), Output())  # type: ignore[arg-type]
        assert (await env.init()).error is None
        return env

    async def body(factory: ForkServerFactory) -> None:
        template = await factory.snapshot(make_spec(code, timeout_s=1.0), Output())
        env = await restored(factory, template, timeout_s=1.0)
        assert json.loads((await env.invoke(request())).payload) == "data"  # init's fd
        result = await env.invoke(request(b'{"do": "exit"}'))
        assert result.kind == "crash"
        assert json.loads(result.payload)["errorMessage"].endswith("exit status 3")
        await env.destroy()
        env = await restored(factory, template, timeout_s=1.0)
        result = await env.invoke(request(b'{"do": "sigkill"}'))
        assert result.kind == "crash"
        assert json.loads(result.payload)["errorMessage"].endswith("signal: killed")
        await env.destroy()
        env = await restored(factory, template, timeout_s=1.0)
        result = await env.invoke(request(b'{"do": "sleep", "s": 30}', request_id="slow"))
        assert result.kind == "timeout" and not pid_exists(env.pid)
        await env.destroy()
        env = await restored(factory, template, memory_mb=64)
        result = await env.invoke(request(b'{"do": "alloc", "mb": 200}'))
        assert result.kind == "oom"  # its own cgroup's limit, not the template's
        await env.destroy()
        # The template outlived all of them and still forks.
        env = await restored(factory, template)
        assert json.loads((await env.invoke(request())).payload) == "data"

    run(body)


def test_destroying_a_template_takes_its_environments(code_root: Path) -> None:
    code = _code(code_root)

    async def body(factory: ForkServerFactory) -> None:
        template = await factory.snapshot(make_spec(code), Output())
        env = await factory.spawn_from(template, make_spec(code), Output())
        await env.init()
        with pytest.raises(SpawnError, match="differs from its template in handler"):
            await factory.spawn_from(template, make_spec(code, handler="app.other"), Output())
        await factory.destroy_template(template)
        await wait_gone(env.pid)
        assert not env.alive or (await env.invoke(request())).kind == "crash"
        with pytest.raises(SpawnError):
            await factory.spawn_from(template, make_spec(code), Output())

    run(body)


def test_cache_makes_one_template_for_concurrent_spawns(code_root: Path) -> None:
    counter = code_root / "count"
    counter.mkdir()
    os.chown(counter, 23456, 23457)
    code = _code(
        code_root,
        """
import os, time
time.sleep(0.5)
with open("/mnt/count/runs", "a") as f:
    f.write("x")
def handler(e, c):
    return os.getpid()
""",
    )
    from sandbox_helpers import Mount

    mounts = (Mount(str(counter), "/mnt/count"),)

    async def body(factory: ForkServerFactory) -> None:
        async def one() -> int:
            env = await factory.spawn_snapshot("fn:1:rev", make_spec(code, mounts=mounts), Output())
            assert (await env.init()).error is None
            return int(json.loads((await env.invoke(request())).payload))

        pids = await asyncio.gather(*(one() for _ in range(4)))
        assert pids == [2, 2, 2, 2]
        assert (counter / "runs").read_text() == "x"  # one init for four environments
        template = factory.snapshots.get("fn:1:rev")
        assert template is not None and len(template.children) == 4
        factory.drop_snapshot("fn:1:rev")  # retired: it goes with its last environment
        assert factory.snapshots.get("fn:1:rev") is None and template.alive
        for env in list(template.children.values()):
            await env.destroy()
        await wait_gone(template.env.pid)

    run(body)


def test_cache_falls_back_to_plain_environments_when_init_fails(code_root: Path) -> None:
    code = _code(code_root, "import missing_module\n")

    async def body(factory: ForkServerFactory) -> None:
        env = await factory.spawn_snapshot("broken:1", make_spec(code), Output())
        init = await env.init()  # the plain environment's own init reports the failure
        assert init.error is not None and init.error["errorType"] == "Runtime.ImportModuleError"
        assert factory.snapshots.get("broken:1") is None

    run(body)


def test_snapshot_starts_on_every_runtime(code_root: Path) -> None:
    code = _code(
        code_root,
        """
import os, sys
from snapshot_restore_py import register_after_restore
RESTORES = []
register_after_restore(RESTORES.append, 1)
def handler(e, c):
    return [list(sys.version_info[:2]), RESTORES, os.getpid()]
""",
    )

    async def body(factory: ForkServerFactory) -> dict[str, list[object]]:
        results = {}
        for runtime in factory.runtimes():
            template = await factory.snapshot(make_spec(code, runtime=runtime), Output())
            env = await factory.spawn_from(template, make_spec(code, runtime=runtime), Output())
            assert (await env.init()).error is None
            results[runtime] = json.loads((await env.invoke(request())).payload)
            await factory.destroy_template(template)
        return results

    results = run(body)
    assert len(results) >= 2
    for runtime, (version, restores, pid) in results.items():
        assert runtime == "python" + ".".join(str(v) for v in version)  # type: ignore[union-attr]
        assert restores == [1] and pid == 2


def test_cache_replaces_a_template_that_died(code_root: Path) -> None:
    code = _code(code_root)

    async def body(factory: ForkServerFactory) -> None:
        first = await factory.spawn_snapshot("fn:2", make_spec(code), Output())
        await first.init()
        template = factory.snapshots.get("fn:2")
        assert template is not None
        os.kill(template.env.pid, signal.SIGKILL)  # the template's PID 1: its namespace goes
        await wait_gone(template.env.pid)
        await wait_gone(first.pid)  # restored environments live inside it
        env = await factory.spawn_snapshot("fn:2", make_spec(code), Output())
        assert (await env.init()).error is None
        assert json.loads((await env.invoke(request())).payload) == "data"
        replacement = factory.snapshots.get("fn:2")
        assert replacement is not None and replacement is not template

    run(body)
