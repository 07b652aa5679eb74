"""Provisioned environments in a pool, with fake sandboxes (no processes)."""

from __future__ import annotations

import asyncio

from test_pool import FN, FakeSandbox, Harness

from shoal.invocation.pool import ON_DEMAND, PROVISIONED, EnvironmentPool
from shoal.invocation.states import EnvState, ManagedEnvironment


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_provisioned_are_started_ahead_used_first_and_never_reaped() -> None:
    async def scenario() -> None:
        h = Harness()
        pool = EnvironmentPool(FN, h.spawn, h.destroy)
        on_demand = await pool.acquire()
        pool.release(on_demand)
        pool.set_provisioned(2)
        await settle()
        assert [e.init_type for e in h.spawned[1:]] == [PROVISIONED, PROVISIONED]
        assert pool.provisioned_count == 2 and len(pool.provisioned_idle) == 2
        first = await pool.acquire()
        second = await pool.acquire()
        third = await pool.acquire()  # spills over to the idle on-demand one
        assert {first.init_type, second.init_type} == {PROVISIONED}
        assert third is on_demand and third.init_type == ON_DEMAND
        for env in (first, second, third):
            pool.release(env)
        assert pool.reap(idle_timeout_s=0.0) == 1  # only the on-demand one
        await settle()
        assert pool.provisioned_count == 2 and on_demand.dead

    asyncio.run(scenario())


def test_a_dead_provisioned_environment_is_replaced() -> None:
    async def scenario() -> None:
        h = Harness()
        pool = EnvironmentPool(FN, h.spawn, h.destroy)
        pool.set_provisioned(1)
        await settle()
        env = await pool.acquire()
        env.sandbox.alive = False  # type: ignore[union-attr]  # timed out
        pool.release(env)
        await settle()
        assert env.dead and pool.provisioned_count == 1
        assert pool.provisioned_idle[0] is not env

    asyncio.run(scenario())


def test_lowering_the_target_stops_extras_idle_now_busy_later() -> None:
    async def scenario() -> None:
        h = Harness()
        pool = EnvironmentPool(FN, h.spawn, h.destroy)
        pool.set_provisioned(3)
        await settle()
        busy = await pool.acquire()
        pool.set_provisioned(1)
        await settle()
        assert pool.provisioned_count == 1 and pool.provisioned_idle == []  # idle ones went
        pool.release(busy)
        assert pool.provisioned_idle == [busy]  # within the target: kept
        busy = await pool.acquire()
        pool.set_provisioned(0)
        await settle()
        assert pool.provisioned_count == 1  # still running its invocation
        pool.release(busy)
        await settle()
        assert pool.provisioned_count == 0 and busy.dead

    asyncio.run(scenario())


def test_a_failed_start_is_recorded_not_retried_in_a_loop() -> None:
    async def scenario() -> None:
        calls = 0

        async def failing(fn: object, init_type: str) -> ManagedEnvironment:
            nonlocal calls
            calls += 1
            raise RuntimeError("import failed")

        h = Harness()
        pool = EnvironmentPool(FN, failing, h.destroy)  # type: ignore[arg-type]
        seen: list[str | None] = []
        pool.on_provisioned = lambda p: seen.append(p.provision_error)
        pool.set_provisioned(2)
        await settle()
        assert calls == 2 and seen == ["RuntimeError: import failed"] * 2
        pool.set_provisioned(2)  # the same target: no new tries
        await settle()
        assert calls == 2

    asyncio.run(scenario())


def test_retire_stops_provisioned_and_late_starts() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        h = Harness()

        async def slow(fn: object, init_type: str) -> ManagedEnvironment:
            await gate.wait()
            env = ManagedEnvironment("late", sandbox=FakeSandbox(), init_type=init_type)  # type: ignore[arg-type]
            return env

        pool = EnvironmentPool(FN, slow, h.destroy)  # type: ignore[arg-type]
        pool.set_provisioned(1)
        await settle()
        pool.retire()
        gate.set()
        await pool.close()
        assert all(env.state is EnvState.DEAD for env in h.destroyed)
        assert pool.members == set()

    asyncio.run(scenario())
