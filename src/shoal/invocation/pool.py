"""Environment pools: the warm environments of one function version.

Scheduling policy: an invocation takes an idle *provisioned* environment first, then the most
recently used idle on-demand one (LIFO keeps a few environments hot and lets the rest age out
for the reaper); when none is idle it starts a new on-demand one — concurrent invocations scale
out, one invocation per environment, and invocations beyond the provisioned environments spill
over to on-demand ones.

Provisioned environments (``provisioned_target``, set by the concurrency controls) are started
ahead with init type ``provisioned-concurrency``, parked on their own idle stack, never reaped,
and replaced when one dies (timeout, crash). A provisioned environment whose start fails records
``provision_error`` and is not retried in a loop: a new target (PutProvisionedConcurrencyConfig)
tries again.

A pool belongs to one revision of a version: when the function changes, the invoker retires the
pool, its idle environments are destroyed at once and its busy ones when their invocation ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from shoal.errors import AwsError
from shoal.functions.models import FunctionVersion
from shoal.invocation.states import EnvState, ManagedEnvironment

log = logging.getLogger("shoal.invocation")

Spawner = Callable[[FunctionVersion, str], Awaitable[ManagedEnvironment]]
Destroyer = Callable[[ManagedEnvironment], Coroutine[Any, Any, None]]

ON_DEMAND = "on-demand"
PROVISIONED = "provisioned-concurrency"


class EnvironmentPool:
    def __init__(self, fn: FunctionVersion, spawn: Spawner, destroy: Destroyer) -> None:
        self.fn = fn
        self._spawn = spawn
        self._destroy = destroy
        self.idle: list[ManagedEnvironment] = []  # on-demand, a stack: last released first
        self.provisioned_idle: list[ManagedEnvironment] = []  # taken before ``idle``
        self.members: set[ManagedEnvironment] = set()
        self.retired = False
        self.provisioned_target = 0
        self.provision_error: str | None = None
        # Called after each provisioned start ends (success or failure), for status tracking.
        self.on_provisioned: Callable[[EnvironmentPool], None] | None = None
        self._provisioning = 0  # provisioned starts in flight
        self._tasks: set[asyncio.Task[None]] = set()

    async def acquire(self, init_type: str = ON_DEMAND) -> ManagedEnvironment:
        """A BUSY environment for one invocation: a warm one, else a new one (a cold start).

        A new environment's init error propagates (``InitError``) and the environment is gone.
        """
        for stack in (self.provisioned_idle, self.idle):
            while stack:
                env = stack.pop()
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
        """Return an environment after its invocation; dead or retired ones are destroyed, and
        so are provisioned ones beyond the target (the target was lowered meanwhile)."""
        if env.dead or self.retired or env.sandbox is None or not env.sandbox.alive:
            self._discard(env)
            return
        if env.init_type == PROVISIONED:
            if self.provisioned_count > self.provisioned_target:
                self._discard(env)
                return
            env.transition(EnvState.IDLE)
            self.provisioned_idle.append(env)
            return
        env.transition(EnvState.IDLE)
        self.idle.append(env)

    def _discard(self, env: ManagedEnvironment) -> None:
        self.members.discard(env)
        if env in self.idle:
            self.idle.remove(env)
        if env in self.provisioned_idle:
            self.provisioned_idle.remove(env)
        self._task(self._destroy(env))
        if env.init_type == PROVISIONED and not self.retired:
            self._top_up()  # a provisioned environment died: replace it

    def _task(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ provisioned

    @property
    def provisioned_count(self) -> int:
        """Provisioned environments that are up (idle or busy), not counting starts."""
        return sum(1 for e in self.members if e.init_type == PROVISIONED and not e.dead)

    def set_provisioned(self, target: int) -> None:
        """Keep ``target`` provisioned environments: start the missing ones, stop idle extras
        (busy extras stop when their invocation ends)."""
        if target != self.provisioned_target:
            self.provision_error = None
        self.provisioned_target = target
        while self.provisioned_idle and self.provisioned_count > target:
            self._discard(self.provisioned_idle.pop(0))  # the longest idle first
        self._top_up()

    def _top_up(self) -> None:
        if self.retired or self.provision_error is not None:
            return
        missing = self.provisioned_target - self.provisioned_count - self._provisioning
        for _ in range(max(0, missing)):
            self._provisioning += 1
            self._task(self._provision_one())

    async def _provision_one(self) -> None:
        try:
            env = await self._spawn(self.fn, PROVISIONED)
        except Exception as e:  # InitError, AwsError (mount refused, sandbox failure)
            self._provisioning -= 1
            self.provision_error = _reason(e)
            log.warning("provisioned environment of %s failed: %s", self.fn.qualified_arn, e)
        else:
            self._provisioning -= 1
            self.members.add(env)
            self.release(env)
        if self.on_provisioned is not None:
            self.on_provisioned(self)

    # ------------------------------------------------------------------ ageing and end

    def reap(self, idle_timeout_s: float, keep: int = 0) -> int:
        """Destroy on-demand environments idle for longer than the timeout, keeping ``keep``
        warm. Provisioned environments are never reaped."""
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
        for env in [*self.idle, *self.provisioned_idle]:
            self._discard(env)

    async def close(self) -> None:
        self.retire()
        busy = [env for env in self.members if not env.dead]
        for env in busy:
            self._discard(env)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @property
    def size(self) -> int:
        return len(self.members)


def _reason(error: Exception) -> str:
    """A StatusReason for a failed provisioned start."""
    if isinstance(error, AwsError):
        return f"{error.code}: {error.message}"
    document = getattr(error, "error", None)
    if isinstance(document, dict):
        return (
            "FUNCTION_ERROR_INIT_FAILURE: "
            f"{document.get('errorType')}: {document.get('errorMessage')}"
        )
    return f"{type(error).__name__}: {error}"
