"""The AWS/Lambda metrics, with Lambda's names, units and dimensions.

The invoker, the concurrency limiter's caller and the async queue make one call per event
(:class:`LambdaMetrics`); each call appends one tuple to the metric service's deque. When the
service drains (off the invoke path), :meth:`LambdaMetrics.values` reads each event's values,
which are aggregated per function, qualifier, version and minute, and only then
:meth:`LambdaMetrics.series` spreads each aggregate over its dimension sets (one merge per
series per minute, not one per invocation). Dimensions, as Lambda publishes them:

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
from collections.abc import Callable
from typing import Any

NAMESPACE = "AWS/Lambda"
LATEST = "$LATEST"
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

    def url_request(self, function_arn: str, qualifier: str | None, status: int,
                    latency_ms: float) -> None:  # fmt: skip
        """A request to the function's URL: UrlRequestCount, Url4xxCount, Url5xxCount,
        UrlRequestLatency (by FunctionName and Resource, as Lambda publishes them)."""
        self._events.append(("U", self._clock(), function_arn, qualifier, qualifier or LATEST,
                             status, latency_ms))  # fmt: skip

    # ------------------------------------------------------------------ expansion

    @staticmethod
    def values(event: tuple[Any, ...]) -> tuple[Any, float, list[tuple[str, float, str, str]]]:
        """(the event's identity, its time, [(metric, value, unit, which dimension sets)]),
        the sets being ``all``, ``account`` (the aggregate) or ``function`` (all but it).
        Events of one identity are aggregated before :meth:`series` makes their series."""
        kind, ts, arn, qualifier, version = event[:5]
        ident = (arn, qualifier, version)
        if kind == "T":
            return ident, ts, [("Throttles", 1.0, COUNT, "all")]
        if kind == "C":
            metric, value, unit = event[5:8]
            return ident, ts, [(metric, value, unit, "all")]
        if kind == "U":
            status, latency = event[5:7]
            return ident, ts, [
                ("UrlRequestCount", 1.0, COUNT, "function"),
                ("Url4xxCount", 1.0 if 400 <= status < 500 else 0.0, COUNT, "function"),
                ("Url5xxCount", 1.0 if status >= 500 else 0.0, COUNT, "function"),
                ("UrlRequestLatency", latency, MS, "function"),
            ]
        duration, error, concurrency, total, unreserved, provisioned = event[5:]
        out = [
            ("Invocations", 1.0, COUNT, "all"),
            ("Errors", 1.0 if error else 0.0, COUNT, "all"),
            # The aggregate counts the account's executions, the others the function's.
            ("ConcurrentExecutions", float(total), COUNT, "account"),
            ("ConcurrentExecutions", float(concurrency), COUNT, "function"),
        ]
        if duration is not None:
            out.append(("Duration", duration, MS, "all"))
        if unreserved is not None:
            out.append(("UnreservedConcurrentExecutions", float(unreserved), COUNT, "account"))
        if provisioned is not None:
            on_provisioned, busy, target = provisioned
            out.append((
                "ProvisionedConcurrencyInvocations" if on_provisioned
                else "ProvisionedConcurrencySpilloverInvocations", 1.0, COUNT, "all",
            ))  # fmt: skip
            out.append(("ProvisionedConcurrentExecutions", float(busy), COUNT, "all"))
            if target:
                out.append(("ProvisionedConcurrencyUtilization", busy / target, "None", "all"))
        return ident, ts, out

    @staticmethod
    def series(ident: Any, which: str, default_region: str
               ) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:  # fmt: skip
        """(region, namespace, dimensions) of each series an identity's metric goes to."""
        arn, qualifier, version = ident
        region, name = _region_name(arn, default_region)
        sets = _dimension_sets(name, qualifier, version)
        chosen = sets[:1] if which == "account" else sets[1:] if which == "function" else sets
        return [(region, NAMESPACE, d) for d in chosen]


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
