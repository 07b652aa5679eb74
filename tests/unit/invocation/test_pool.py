"""Pools and the environment state machine, with fake sandboxes (no processes)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from shoal.functions.models import FunctionVersion
from shoal.invocation.pool import EnvironmentPool
from shoal.invocation.states import EnvState, InvalidTransition, ManagedEnvironment

FN = FunctionVersion(
    name="f",
    version="$LATEST",
    function_arn="arn:aws:lambda:us-east-1:1:function:f",
    runtime="python3.11",
    handler="app.handler",
    role="r",
    code_dir="/nonexistent",
    code_sha256="x",
    code_size=1,
    revision_id="r1",
)


class FakeSandbox:
    def __init__(self) -> None:
        self.alive = True
        self.destroyed = 0

    async def destroy(self) -> None:
        self.alive = False
        self.destroyed += 1


class Harness:
    def __init__(self) -> None:
        self.spawned: list[ManagedEnvironment] = []
        self.destroyed: list[ManagedEnvironment] = []

    async def spawn(self, fn: FunctionVersion, init_type: str) -> ManagedEnvironment:
        env = ManagedEnvironment(
            f"e{len(self.spawned)}",
            sandbox=FakeSandbox(),  # type: ignore[arg-type]
            init_type=init_type,
        )
        self.spawned.append(env)
        return env

    async def destroy(self, env: ManagedEnvironment) -> None:
        if env.state is not EnvState.DEAD:
            env.transition(EnvState.DEAD)
        self.destroyed.append(env)
        await env.sandbox.destroy()  # type: ignore[union-attr]


def test_state_machine_refuses_bad_transitions() -> None:
    env = ManagedEnvironment("e")
    env.transition(EnvState.IDLE)
    env.transition(EnvState.BUSY)
    with pytest.raises(InvalidTransition):
        env.transition(EnvState.STARTING)
    env.transition(EnvState.DEAD)
    with pytest.raises(InvalidTransition):
        env.transition(EnvState.IDLE)


def test_warm_reuse_and_scale_out() -> None:
    async def scenario() -> None:
        h = Harness()
        pool = EnvironmentPool(FN, h.spawn, h.destroy)
        a = await pool.acquire()
        b = await pool.acquire()  # a is busy: a second environment
        assert a is not b and len(h.spawned) == 2
        pool.release(a)
        c = await pool.acquire()
        assert c is a and c.state is EnvState.BUSY  # warm reuse, no new spawn
        assert len(h.spawned) == 2
        pool.release(b)
        pool.release(c)
        assert pool.idle == [b, a]  # LIFO: the last released is taken first
        assert (await pool.acquire()) is a

    asyncio.run(scenario())


def test_dead_environment_is_replaced() -> None:
    async def scenario() -> None:
        h = Harness()
        pool = EnvironmentPool(FN, h.spawn, h.destroy)
        a = await pool.acquire()
        a.sandbox.alive = False  # type: ignore[union-attr]  # died (timeout, crash)
        pool.release(a)
        await asyncio.sleep(0)
        assert a in h.destroyed and a.dead
        b = await pool.acquire()
        assert b is not a

    asyncio.run(scenario())


def test_reap_and_retire() -> None:
    async def scenario() -> None:
        h = Harness()
        pool = EnvironmentPool(FN, h.spawn, h.destroy)
        envs = [await pool.acquire() for _ in range(3)]
        for env in envs:
            pool.release(env)
        assert pool.reap(idle_timeout_s=0.0, keep=1) == 2
        await asyncio.sleep(0)
        assert len(h.destroyed) == 2 and len(pool.idle) == 1
        busy = await pool.acquire()
        pool.retire()
        pool.release(busy)  # released into a retired pool: destroyed
        await pool.close()
        assert all(env.dead for env in envs)

    asyncio.run(scenario())


def test_new_revision_is_a_new_pool_key() -> None:
    updated = replace(FN, revision_id="r2")
    assert updated.revision_id != FN.revision_id and updated.qualified_arn == FN.qualified_arn
