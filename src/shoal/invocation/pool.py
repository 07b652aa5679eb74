"""Environment pools: the warm environments of one function version.

Scheduling policy: an invocation takes the most recently used idle environment (LIFO keeps a
few environments hot and lets the rest age out for the reaper); when none is idle it starts a
new one — concurrent invocations scale out, one invocation per environment. A pool belongs to
one revision of a version: when the function changes, the invoker retires the pool, its idle
environments are destroyed at once and its busy ones when their invocation ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from shoal.functions.models import FunctionVersion
from shoal.invocation.states import EnvState, ManagedEnvironment

log = logging.getLogger("shoal.invocation")

Spawner = Callable[[FunctionVersion, str], Awaitable[ManagedEnvironment]]
Destroyer = Callable[[ManagedEnvironment], Awaitable[None]]


class EnvironmentPool:
    def __init__(self, fn: FunctionVersion, spawn: Spawner, destroy: Destroyer) -> None:
        self.fn = fn
        self._spawn = spawn
        self._destroy = destroy
        self.idle: list[ManagedEnvironment] = []  # a stack: the last released is taken first
        self.members: set[ManagedEnvironment] = set()
        self.retired = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def acquire(self, init_type: str = "on-demand") -> ManagedEnvironment:
        """A BUSY environment for one invocation: a warm one, else a new one (a cold start).

        A new environment's init error propagates (``InitError``) and the environment is gone.
        """
        while self.idle:
            env = self.idle.pop()
            if env.sandbox is not None and env.sandbox.alive:
                env.transition(EnvState.BUSY)
                return env
            self._discard(env)
        env = await self._spawn(self.fn, init_type)
        self.members.add(env)
        env.transition(EnvState.BUSY)
        return env

    async def prewarm(self, init_type: str) -> ManagedEnvironment:
        """Start an environment and park it IDLE (provisioned concurrency, snapshots)."""
        env = await self._spawn(self.fn, init_type)
        self.members.add(env)
        self.release(env)
        return env

    def release(self, env: ManagedEnvironment) -> None:
        """Return an environment after its invocation; dead or retired ones are destroyed."""
        if env.dead or self.retired or env.sandbox is None or not env.sandbox.alive:
            self._discard(env)
            return
        env.transition(EnvState.IDLE)
        self.idle.append(env)

    def _discard(self, env: ManagedEnvironment) -> None:
        self.members.discard(env)
        if env in self.idle:
            self.idle.remove(env)
        task = asyncio.get_running_loop().create_task(self._destroy(env))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def reap(self, idle_timeout_s: float, keep: int = 0) -> int:
        """Destroy environments idle for longer than the timeout, keeping ``keep`` warm."""
        now = time.monotonic()
        reaped = 0
        for env in list(self.idle):
            if len(self.idle) <= keep:
                break
            if now - env.last_used >= idle_timeout_s:
                self._discard(env)
                reaped += 1
        return reaped

    def retire(self) -> None:
        self.retired = True
        for env in list(self.idle):
            self._discard(env)

    async def close(self) -> None:
        self.retire()
        busy = [env for env in self.members if not env.dead]
        for env in busy:
            self._discard(env)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def size(self) -> int:
        return len(self.members)
