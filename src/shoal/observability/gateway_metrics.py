"""The AWS/ApiGateway metrics of HTTP APIs, with API Gateway's names, units and dimensions.

One call per request (:meth:`ApiGatewayMetrics.request`, a ``deque.append``); the series are
made when the metric service drains, aggregated per API, stage and minute first: ``Count``,
``4xx``, ``5xx`` (0 or 1 per request, so Sum is the count and Average the rate, as API
Gateway publishes them), ``Latency`` and ``IntegrationLatency`` (Milliseconds),
``DataProcessed`` (Bytes, request and response bodies), each by ``ApiId`` and by ``ApiId`` +
``Stage``.

A route whose detailed metrics are on (its stage's ``DefaultRouteSettings`` or its own
``RouteSettings`` ``DetailedMetricsEnabled``) adds the same metrics by ``ApiId``, ``Method``,
``Resource`` and ``Stage``, as API Gateway publishes an HTTP API's route metrics: ``Resource``
the route's path (``/items/{id}``, or ``$default``), ``Method`` its method (``ANY`` for the
``$default`` route). The developer guide's table names this set "ApiId, Stage, Route"; the
series CloudWatch lists for such a stage carry the four dimensions named here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

NAMESPACE = "AWS/ApiGateway"


class ApiGatewayMetrics:
    def __init__(self, events: deque[tuple[Any, ...]], clock: Callable[[], float]) -> None:
        self._events = events
        self._clock = clock

    def request(self, region: str, api_id: str, stage: str, status: int, latency_ms: float,
                integration_ms: float | None, data_bytes: int,
                route: tuple[str | None, str | None] | None = None) -> None:  # fmt: skip
        """One request; ``route``: (Resource, Method) when its detailed metrics are on."""
        self._events.append(("G", self._clock(), region, api_id, stage, status, latency_ms,
                             integration_ms, data_bytes, route))  # fmt: skip

    @staticmethod
    def values(event: tuple[Any, ...]) -> tuple[Any, float, list[tuple[str, float, str, str]]]:
        """As :meth:`shoal.observability.lambda_metrics.LambdaMetrics.values`."""
        _, ts, region, api_id, stage, status, latency, integration, data, route = event
        out = [
            ("Count", 1.0, "Count", "all"),
            ("4xx", 1.0 if 400 <= status < 500 else 0.0, "Count", "all"),
            ("5xx", 1.0 if status >= 500 else 0.0, "Count", "all"),
            ("Latency", latency, "Milliseconds", "all"),
            ("DataProcessed", float(data), "Bytes", "all"),
        ]
        if integration is not None:
            out.append(("IntegrationLatency", integration, "Milliseconds", "all"))
        return (region, api_id, stage, route), ts, out

    @staticmethod
    def series(ident: Any, which: str, default_region: str
               ) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:  # fmt: skip
        region, api_id, stage, route = ident
        dims: list[tuple[tuple[str, str], ...]] = [
            (("ApiId", api_id),), (("ApiId", api_id), ("Stage", stage))]
        if route is not None:
            resource, method = route
            dims.append((("ApiId", api_id), ("Method", method or "ANY"),
                         ("Resource", resource or "$default"), ("Stage", stage)))
        return [(region or default_region, NAMESPACE, d) for d in dims]  # fmt: skip
