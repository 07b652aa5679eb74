"""AWS/ApiGateway series of HTTP API requests: by ApiId and ApiId + Stage always, and by
ApiId, Method, Resource, Stage only for requests whose route has detailed metrics on."""

from __future__ import annotations

from pathlib import Path

from shoal.observability.metrics import MetricService


def test_route_dimensions_only_for_detailed_routes(tmp_path: Path) -> None:
    svc = MetricService(path=tmp_path / "metrics.db", clock=lambda: 1_800_000_000.0)
    try:
        hooks = svc.gateway_hooks
        for _ in range(3):
            hooks.request("us-east-1", "api1", "prod", 200, 5.0, 4.0, 10, ("/items/{id}", "GET"))
        hooks.request("us-east-1", "api1", "prod", 500, 5.0, 4.0, 10, None)
        counts = {key[3]: value for key, value in svc.series("us-east-1")
                  if key[1] == "AWS/ApiGateway" and key[2] == "Count"}  # fmt: skip
        by_route = (("ApiId", "api1"), ("Method", "GET"), ("Resource", "/items/{id}"),
                    ("Stage", "prod"))  # fmt: skip
        assert set(counts) == {(("ApiId", "api1"),), (("ApiId", "api1"), ("Stage", "prod")),
                               by_route}  # fmt: skip
    finally:
        svc.store.close()
