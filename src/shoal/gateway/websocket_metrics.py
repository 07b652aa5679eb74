"""The AWS/ApiGateway metrics of WebSocket APIs, with API Gateway's names and dimensions
("Monitoring WebSocket API execution with CloudWatch metrics"):

- ``ConnectCount``: ``$connect`` requests (1 each, accepted or refused);
- ``MessageCount``: messages, from clients and ``PostToConnection`` alike;
- ``ClientError`` (a message without a route, a refused handshake: 4xx),
  ``IntegrationError`` (the function failed or timed out) and ``ExecutionError`` (Shoal
  failed): 0 or 1 per request, so Sum is the count and Average the rate;
- ``IntegrationLatency`` (Milliseconds): the function's time.

Each by ``ApiId`` and by ``ApiId`` + ``Stage``, published with the metric service's
lock-free :meth:`~shoal.observability.metrics.MetricService.publish` (a ``deque.append`` per
value); nothing when the server has no metric service.
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "AWS/ApiGateway"


class WebSocketMetrics:
    def __init__(self, shoal: Any) -> None:
        self._shoal = shoal

    def _publish(self, region: str, api_id: str, stage: str, values: dict[str, float],
                 unit: str = "Count") -> None:  # fmt: skip
        metrics = getattr(self._shoal, "metrics", None)
        if metrics is None:
            return
        dims: tuple[tuple[tuple[str, str], ...], ...] = (
            (("ApiId", api_id),), (("ApiId", api_id), ("Stage", stage))
        )
        for name, value in values.items():
            for one in dims:
                metrics.publish(NAMESPACE, name, one, value,
                                "Milliseconds" if name == "IntegrationLatency" else unit,
                                region=region)  # fmt: skip

    def connect(self, region: str, api_id: str, stage: str, refused: bool) -> None:
        self._publish(region, api_id, stage,
                      {"ConnectCount": 1.0, "ClientError": 1.0 if refused else 0.0})  # fmt: skip

    def message(self, region: str, api_id: str, stage: str, *, client_error: bool = False,
                integration_error: bool = False,
                integration_ms: float | None = None) -> None:  # fmt: skip
        values = {
            "MessageCount": 1.0,
            "ClientError": 1.0 if client_error else 0.0,
            "IntegrationError": 1.0 if integration_error else 0.0,
            "ExecutionError": 0.0,
        }
        if integration_ms is not None:
            values["IntegrationLatency"] = integration_ms
        self._publish(region, api_id, stage, values)
