"""The AWS/Lambda metrics, with Lambda's names, units and dimensions.

The invoker, the concurrency limiter's caller and the async queue make one call per event
(:class:`LambdaMetrics`); each call appends one tuple to the metric service's deque, and
:meth:`LambdaMetrics.expand` makes the series from it when the service drains (off the invoke
path). Dimensions, as Lambda publishes them:

- every metric: the account-level aggregate (no dimension) and ``FunctionName``;
- ``FunctionName`` + ``Resource`` (``name`` unqualified, ``name:qualifier`` for a version or
  alias invocation);
- ``FunctionName`` + ``Resource`` + ``ExecutedVersion`` for an alias's invocation (the version
  the alias routed it to);
- ``UnreservedConcurrentExecutions``: the aggregate only.

Units: counts are ``Count``; ``Duration`` and ``AsyncEventAge`` are ``Milliseconds``;
``ProvisionedConcurrencyUtilization`` is ``None`` (a ratio), as Lambda has them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

NAMESPACE = "AWS/Lambda"
COUNT = "Count"
MS = "Milliseconds"


class LambdaMetrics:
    """The hooks; each is one ``deque.append`` (safe from any thread)."""

    def __init__(self, events: deque[tuple[Any, ...]], clock: Callable[[], float]) -> None:
        self._events = events
        self._clock = clock

    def invocation(
        self, function_arn: str, qualifier: str | None, version: str,
        duration_ms: float | None, error: bool, concurrency: int, total: int,
        unreserved: int | None, provisioned: tuple[bool, int, int] | None = None,
    ) -> None:  # fmt: skip
        """An invocation ended. ``concurrency``: the function's running invocations while
        it ran (``total``: the account's, ``unreserved``: those of functions with no
        reservation, None for a reserved one); ``provisioned``: (ran on a provisioned
        environment, provisioned environments busy, provisioned target) when the version
        has provisioned concurrency."""
        self._events.append((
            "L", self._clock(), function_arn, qualifier, version, duration_ms, error,
            concurrency, total, unreserved, provisioned,
        ))  # fmt: skip

    def throttle(self, function_arn: str, qualifier: str | None, version: str) -> None:
        self._events.append(("T", self._clock(), function_arn, qualifier, version))

    def count(self, function_arn: str, qualifier: str | None, version: str, name: str,
              value: float = 1.0, unit: str = COUNT) -> None:  # fmt: skip
        """Any other metric of a function (AsyncEventsReceived, AsyncEventAge,
        AsyncEventsDropped, DestinationDeliveryFailures)."""
        self._events.append(("C", self._clock(), function_arn, qualifier, version, name,
                             value, unit))  # fmt: skip

    # ------------------------------------------------------------------ expansion

    def expand(self, event: tuple[Any, ...], default_region: str) -> Iterator[tuple[Any, ...]]:
        kind, ts, arn, qualifier, version = event[:5]
        region, name = _region_name(arn, default_region)
        sets = _dimension_sets(name, qualifier, version)

        def emit(metric: str, value: float, unit: str, dims: Any = sets) -> Iterator[Any]:
            for d in dims:
                yield ("v", (region, NAMESPACE, metric, d), ts, unit, 60, value, 1.0)

        if kind == "T":
            yield from emit("Throttles", 1.0, COUNT)
            return
        if kind == "C":
            metric, value, unit = event[5:8]
            yield from emit(metric, value, unit)
            return
        duration, error, concurrency, total, unreserved, provisioned = event[5:]
        yield from emit("Invocations", 1.0, COUNT)
        yield from emit("Errors", 1.0 if error else 0.0, COUNT)
        if duration is not None:
            yield from emit("Duration", duration, MS)
        # The aggregate counts the account's executions, the others the function's.
        yield from emit("ConcurrentExecutions", float(total), COUNT, sets[:1])
        yield from emit("ConcurrentExecutions", float(concurrency), COUNT, sets[1:])
        if unreserved is not None:
            yield from emit("UnreservedConcurrentExecutions", float(unreserved), COUNT, sets[:1])
        if provisioned is not None:
            on_provisioned, busy, target = provisioned
            if on_provisioned:
                yield from emit("ProvisionedConcurrencyInvocations", 1.0, COUNT)
            else:
                yield from emit("ProvisionedConcurrencySpilloverInvocations", 1.0, COUNT)
            yield from emit("ProvisionedConcurrentExecutions", float(busy), COUNT)
            if target:
                yield from emit("ProvisionedConcurrencyUtilization", busy / target, "None")


def _region_name(arn: str, default_region: str) -> tuple[str, str]:
    parts = arn.split(":")
    if len(parts) >= 7:
        return parts[3], parts[6]
    return default_region, arn


def _dimension_sets(name: str, qualifier: str | None, version: str
                    ) -> list[tuple[tuple[str, str], ...]]:  # fmt: skip
    resource = name if not qualifier or qualifier == "$LATEST" else f"{name}:{qualifier}"
    sets: list[tuple[tuple[str, str], ...]] = [
        (),
        (("FunctionName", name),),
        (("FunctionName", name), ("Resource", resource)),
    ]
    if qualifier and qualifier != version and not qualifier.isdigit() and qualifier != "$LATEST":
        sets.append((("ExecutedVersion", version), ("FunctionName", name), ("Resource", resource)))
    return sets
