"""What an invocation tells the AWS/Lambda metrics: one call per invocation, made by the
invoker once it has its result (:func:`measure`), with the concurrency counts of that moment.

The counts are read from the concurrency limiter (this invocation's lease is still held, so it
is counted) and from the version's pool (its provisioned environments); the hook only appends
them to a deque (:class:`shoal.observability.lambda_metrics.LambdaMetrics`), so this costs
about a microsecond on the invoke path.
"""

from __future__ import annotations

from typing import Any

from shoal.functions.models import FunctionVersion
from shoal.invocation.leases import ConcurrencyLimiter, region_of
from shoal.invocation.pool import PROVISIONED, EnvironmentPool
from shoal.invocation.states import ManagedEnvironment


def measure(
    hooks: Any, limiter: ConcurrencyLimiter, fn: FunctionVersion, qualifier: str | None,
    result: Any, env: ManagedEnvironment | None, pool: EnvironmentPool | None,
) -> None:  # fmt: skip
    """``result``: the InvocationResult; ``env`` and ``pool`` None when the environment's
    init failed (no Duration then)."""
    name = fn.function_arn
    provisioned = None
    if pool is not None and env is not None and pool.provisioned_target:
        busy = pool.provisioned_count - len(pool.provisioned_idle)
        provisioned = (env.init_type == PROVISIONED, busy, pool.provisioned_target)
    hooks.invocation(
        name, qualifier, fn.version,
        result.duration_ms if env is not None else None,
        result.function_error is not None,
        limiter.running.get(name, 0), limiter.total_running(),
        None if name in limiter.reserved else limiter.running_unreserved.get(region_of(name), 0),
        provisioned,
    )  # fmt: skip
