"""The invoker: from an Invoke request to a result, through leases, pools and environments.

An invocation is a chain of leases, each released in ``finally``: the concurrency lease
(:mod:`shoal.invocation.leases`), then an environment reserved from the function version's pool
(:mod:`shoal.invocation.pool`), then the invocation itself. The invoke path reads only
in-memory state (the function service's copy, the pools); it never queries the store.
The pools' environments are started and destroyed by :attr:`Invoker.spawner`
(:mod:`shoal.invocation.spawner`); a request's checks and ids are
:mod:`shoal.invocation.request`'s.

Who may call: the API layer (Invoke), the HTTP gateway, the async queue. All on the event loop.

Concurrency settings (reserved, provisioned) are :attr:`Invoker.concurrency`
(:mod:`shoal.invocation.concurrency`); ``Event`` invocations go to the durable async queue
(``shoal.async_queue``, :mod:`shoal.invocation.asyncq`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shoal.errors import AwsError
from shoal.functions import arns
from shoal.functions.models import LATEST, FunctionVersion
from shoal.invocation import output, platform_log
from shoal.invocation.concurrency import ConcurrencyControls
from shoal.invocation.credentials import CredentialIssuer
from shoal.invocation.environ import TASK_ROOT
from shoal.invocation.leases import ConcurrencyLimiter
from shoal.invocation.measures import measure
from shoal.invocation.pool import EnvironmentPool
from shoal.invocation.request import (
    ASYNC_PAYLOAD_LIMIT,
    SYNC_PAYLOAD_LIMIT,
    check_json,
    invoked_arn,
    new_request_id,
)
from shoal.invocation.spawner import EnvironmentSpawner, InitError, snapshot_key
from shoal.invocation.states import EnvState, ManagedEnvironment
from shoal.invocation.tracing import trace_header
from shoal.observability import telemetry
from shoal.sandbox.types import InvokeRequest, InvokeResult

if TYPE_CHECKING:
    from shoal.core import Shoal

@dataclass(frozen=True)
class InvocationResult:
    request_id: str
    status_code: int
    payload: bytes
    executed_version: str
    function_error: str | None = None
    error_type: str | None = None
    log_result: str | None = None
    duration_ms: float = 0.0  # the handler's run, as REPORT says it (the Duration metric)


class Invoker:
    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.settings = shoal.settings
        self.limiter = ConcurrencyLimiter(
            self.settings.account_concurrency, self.settings.unreserved_minimum
        )
        # (unqualified function ARN, version) -> the pool of its current revision. Functions are
        # known by ARN below the API: the same name in two regions is two functions.
        self.pools: dict[tuple[str, str], EnvironmentPool] = {}
        # Unqualified function name or ARN -> what resolve_for_invoke answered for it. Such a
        # reference can only mean $LATEST (no alias, no weighted routing), and the answer changes
        # only with the function, whose every change the function service reports
        # (_function_changed clears this). Errors are never cached.
        self._resolved: dict[str, FunctionVersion] = {}
        self._reaper: asyncio.Task[None] | None = None
        self.closing = False
        self.concurrency = ConcurrencyControls(shoal, self)
        self.credentials = CredentialIssuer(shoal.iam, self.settings.role_credentials_s)
        self.spawner = EnvironmentSpawner(shoal, self.credentials)
        # The AWS/Lambda metrics' hooks (shoal.observability.lambda_metrics), if metrics run
        # (and the bench's baseline did not turn them off: shoal.observability.telemetry).
        metrics = getattr(shoal, "metrics", None)
        recording = telemetry.recording()
        self.metrics = metrics.lambda_hooks if metrics is not None and recording else None

    async def start(self) -> None:
        self.shoal.functions.subscribe(self._function_changed)
        self.concurrency.load()  # reservations, provisioned environments (re-provisioned)
        self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def stop(self) -> None:
        self.closing = True
        if self._reaper is not None:
            self._reaper.cancel()
        await asyncio.gather(*(pool.close() for pool in self.pools.values()))
        self.pools.clear()

    # ------------------------------------------------------------------ the Invoke operation

    async def invoke(
        self,
        function_name: str,
        qualifier: str | None,
        payload: bytes,
        *,
        invocation_type: str = "RequestResponse",
        log_type: str = "None",
        client_context: str | None = None,
        payload_is_json: bool = False,
        request_id: str | None = None,
        trace_id: str | None = None,
    ) -> InvocationResult:
        """``payload_is_json``: the caller made the payload with ``json.dumps`` (the gateway's
        events), so it is not parsed again to check it. ``request_id``: the id the invocation
        runs under (the Invoke API request's), a new one when None. ``trace_id``: the
        invocation's ``_X_AMZN_TRACE_ID``, made by :func:`~shoal.invocation.tracing.trace_header`
        from what the caller sent (None: a new trace); an ``Event`` invocation is queued with
        it."""
        fn = self._resolve(function_name, qualifier)
        limit = ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT
        if len(payload) > limit:
            raise AwsError(
                "RequestTooLargeException",
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            )
        if not payload_is_json:
            check_json(payload)
        if self.closing:
            raise AwsError("ServiceException", "Shoal is shutting down", status=503)
        if invocation_type == "DryRun":
            return InvocationResult(request_id or "", 204, b"", fn.version)
        trace_id = trace_id or trace_header()
        if invocation_type == "Event":
            request_id = request_id or new_request_id()
            # The EventInvokeConfig that applies is the invoked qualifier's (an alias's own).
            config_qualifier = arns.merge_qualifier(arns.parse(function_name), qualifier)
            await self.shoal.async_queue.submit(
                fn, payload, request_id, qualifier=config_qualifier or LATEST, trace_id=trace_id
            )
            return InvocationResult(request_id, 202, b"", fn.version)
        return await self.run(
            fn,
            payload,
            request_id=request_id,
            tail=log_type == "Tail",
            client_context=client_context,
            trace_id=trace_id,
            qualifier=qualifier if qualifier or ":" not in function_name
            else arns.merge_qualifier(arns.parse(function_name), None),
        )

    def _resolve(self, function_name: str, qualifier: str | None) -> FunctionVersion:
        cacheable = qualifier is None and arns.is_unqualified(function_name)
        if cacheable:
            cached = self._resolved.get(function_name)
            if cached is not None:
                return cached
        fn: FunctionVersion = self.shoal.functions.resolve_for_invoke(function_name, qualifier)
        if cacheable:
            if len(self._resolved) >= 4096:
                self._resolved.clear()
            self._resolved[function_name] = fn
        return fn

    async def run(
        self,
        fn: FunctionVersion,
        payload: bytes,
        *,
        request_id: str | None = None,
        tail: bool = False,
        client_context: str | None = None,
        on_lease: Callable[[], Awaitable[None]] | None = None,
        trace_id: str | None = None,
        qualifier: str | None = None,
    ) -> InvocationResult:
        """Run one invocation synchronously (leases taken here). ``on_lease`` is awaited once
        the concurrency lease is held, before an environment is chosen (the async queue counts
        an attempt there: a throttled invocation raises before it). ``trace_id``: see
        :meth:`invoke` (None: a new trace). ``qualifier``: the version or alias invoked (the
        metrics' ``Resource``; None: unqualified)."""
        request_id = request_id or new_request_id()
        trace_id = trace_id or trace_header()
        limiter = self.limiter
        try:
            lease = limiter.lease(fn.function_arn)
        except AwsError:
            if self.metrics is not None:
                self.metrics.throttle(fn.function_arn, qualifier, fn.version)
            raise
        with lease:
            if on_lease is not None:
                await on_lease()
            pool = self._pool(fn)
            try:
                env = await pool.acquire()
            except InitError as e:
                result = self._init_failed(fn, request_id, e.error)
                if self.metrics is not None:
                    measure(self.metrics, limiter, fn, qualifier, result, None, None)
                return result
            try:
                result = await self._invoke_in(
                    env, fn, payload, request_id, tail, client_context, trace_id, qualifier
                )
                if self.metrics is not None:  # AWS/Lambda's metrics: one cheap call
                    measure(self.metrics, limiter, fn, qualifier, result, env, pool)
                return result
            finally:
                pool.release(env)

    async def _invoke_in(
        self,
        env: ManagedEnvironment,
        fn: FunctionVersion,
        payload: bytes,
        request_id: str,
        tail: bool,
        client_context: str | None,
        trace_id: str,
        qualifier: str | None = None,
    ) -> InvocationResult:
        assert env.sandbox is not None and env.log is not None
        now = time.time()
        renewed = None
        if now >= env.renew_credentials_at:  # rare: half the credentials' lifetime has passed
            credentials = self.credentials.issue(fn)
            env.renew_credentials_at = credentials.renew_at
            renewed = credentials.variables
        env.tail = bytearray() if tail else None
        env.output_bytes = 0
        output.platform(env, platform_log.start(fn, request_id))
        deadline_ms = int(now * 1000) + fn.timeout * 1000
        result: InvokeResult = await env.sandbox.invoke(
            InvokeRequest(
                request_id=request_id,
                payload=payload,
                invoked_function_arn=invoked_arn(fn, qualifier),
                function_version=fn.version,
                deadline_ms=deadline_ms,
                client_context=client_context,
                trace_id=trace_id,
                environment=renewed,
            )
        )
        env.invocations += 1
        error_type = None
        if result.kind != "success":
            try:
                error_type = str(json.loads(result.payload).get("errorType"))
            except (ValueError, AttributeError):
                error_type = "Runtime.Unknown"
        if result.kind in ("timeout", "oom", "crash"):
            # The environment is gone: the pool's release drops it (its sandbox is no longer
            # alive) and the next call starts a new one.
            output.platform(env, platform_log.failure(fn, request_id, result.payload))
        output.platform(
            env,
            platform_log.end(
                fn, request_id, result, env.init_duration_ms, env.init_type, error_type
            ),
        )
        env.init_duration_ms = None
        env.log.flush()
        log_result = None
        if env.tail is not None:
            log_result = base64.b64encode(output.tail_of(env)).decode()
            env.tail = None
        return InvocationResult(
            request_id=request_id,
            status_code=200,
            payload=result.payload,
            executed_version=fn.version,
            function_error=None if result.kind == "success" else "Unhandled",
            error_type=error_type,
            log_result=log_result,
            duration_ms=result.duration_ms,
        )

    def _init_failed(
        self, fn: FunctionVersion, request_id: str, error: dict[str, object]
    ) -> InvocationResult:
        document = {
            "errorMessage": error.get("errorMessage"),
            "errorType": error.get("errorType"),
            "requestId": "",
            "stackTrace": error.get("stackTrace", []),
        }
        return InvocationResult(
            request_id=request_id,
            status_code=200,
            payload=json.dumps(document).encode(),
            executed_version=fn.version,
            function_error="Unhandled",
            error_type=str(error.get("errorType")),
        )

    # ------------------------------------------------------------------ pools

    def _pool(self, fn: FunctionVersion) -> EnvironmentPool:
        key = (fn.function_arn, fn.version)
        pool = self.pools.get(key)
        if pool is None or pool.fn.revision_id != fn.revision_id:
            if pool is not None:
                pool.retire()
            pool = EnvironmentPool(fn, self.spawner.spawn, self.spawner.destroy)
            self.pools[key] = pool
        return pool

    pool_for = _pool  # the concurrency controls' name for it

    def _function_changed(self, function_arn: str) -> None:
        """Retire pools whose revision is no longer current (update, publish, delete)."""
        self._resolved.clear()  # rare (a change), and a name may reach a function by ARN too
        for (fname, version), pool in list(self.pools.items()):
            if fname != function_arn:
                continue
            try:
                current = self.shoal.functions.resolve(function_arn, version)
            except AwsError:
                current = None
            if current is None or current.revision_id != pool.fn.revision_id:
                pool.retire()
                del self.pools[(fname, version)]
                if pool.fn.snapshot_start:  # its template goes with its last environment
                    self.shoal.sandbox.factory.drop_snapshot(snapshot_key(pool.fn))
        self.concurrency.function_changed(function_arn)

    async def _reap_forever(self) -> None:
        interval = max(0.5, min(self.settings.idle_timeout_s / 4, 10.0))
        while True:
            await asyncio.sleep(interval)
            for pool in list(self.pools.values()):
                pool.reap(self.settings.idle_timeout_s, keep=self.keep_warm(pool))

    def keep_warm(self, pool: EnvironmentPool) -> int:
        """How many idle *on-demand* environments of a pool the reaper keeps: none. Provisioned
        environments are kept apart by the pool (``provisioned_idle``) and never reaped."""
        return 0

    def describe(self, function: str | None = None) -> dict[str, object]:
        """Shoal's view of its environments and running counts (``GET /shoal/environments``);
        ``function`` is a name (of any region) or an unqualified ARN."""
        now = time.monotonic()
        envs = []

        def wanted(function_arn: str) -> bool:
            return function is None or function in (function_arn, _name(function_arn))

        for (function_arn, version), pool in self.pools.items():
            if not wanted(function_arn):
                continue
            for env in pool.members:
                envs.append(
                    {
                        "function": pool.fn.name,
                        "function_arn": function_arn,
                        "version": version,
                        "env_id": env.env_id,
                        "state": env.state.value,
                        "init_type": env.init_type,
                        "invocations": env.invocations,
                        "idle_s": round(now - env.last_used, 3)
                        if env.state is EnvState.IDLE
                        else 0,
                    }
                )
        running = self.limiter.running
        return {
            "environments": envs,
            "running": {k: v for k, v in running.items() if wanted(k)},
            "reserved": {k: v for k, v in self.limiter.reserved.items() if wanted(k)},
        }


def _name(function_arn: str) -> str:
    return function_arn.rsplit(":", 1)[-1]


__all__ = ["InvocationResult", "Invoker", "TASK_ROOT"]
