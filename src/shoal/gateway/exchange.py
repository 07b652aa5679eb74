"""One HTTP API request as the gateway saw it: what its metrics and access log line are made of.

The data plane (:class:`shoal.gateway.http.ExecuteApiApp`) fills an :class:`Exchange` as the
request goes (a plain ``__slots__`` object: one per request, no validation), and once the
response is made hands it to the ``AWS/ApiGateway`` metrics and, when the stage has
``AccessLogSettings``, to :mod:`shoal.gateway.access_logs`. Fields left as they start mean
"did not happen" (no route matched, no integration ran): access logs show them as ``-``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any


class Exchange:
    __slots__ = (
        "request_id", "started", "epoch", "region", "account_id", "api_id", "stage",
        "method", "path", "protocol", "source_ip", "user_agent", "domain_name",
        "domain_prefix", "base_path", "route_key", "resource", "route_method",
        "integration_ms", "integration_status", "integration_error", "authorizer_error",
        "authorizer", "received", "status", "response_length", "latency_ms",
        "detailed_metrics", "access_log",
    )  # fmt: skip

    def __init__(self, request_id: str, started: float, epoch: float) -> None:
        self.request_id = request_id
        self.started = started  # perf_counter() at arrival
        self.epoch = epoch  # time.time() at arrival
        self.region = ""
        self.account_id = ""
        self.api_id = ""
        self.stage = ""
        self.method = ""
        self.path = ""  # the path as sent
        self.protocol = ""
        self.source_ip = ""
        self.user_agent: str | None = None
        self.domain_name = ""
        self.domain_prefix = ""
        self.base_path: str | None = None  # a custom domain's ApiMappingKey matched
        self.route_key: str | None = None
        self.resource: str | None = None  # the detailed metrics' Resource
        self.route_method: str | None = None  # ... and Method
        self.integration_ms: float | None = None
        self.integration_status: int | None = None
        self.integration_error: str | None = None
        self.authorizer_error: str | None = None
        self.authorizer: Mapping[str, Any] | None = None  # what the authorizer granted
        self.received = 0  # request body bytes
        self.status = 0
        self.response_length = 0
        self.latency_ms = 0.0
        self.detailed_metrics = False  # the route's DetailedMetricsEnabled
        self.access_log: Mapping[str, Any] | None = None  # the stage's AccessLogSettings


def describe(x: Exchange, scope: Mapping[str, Any], raw_path: str, account_id: str,
             mapped: Any) -> None:  # fmt: skip
    """What only an access log line needs of the request (one pass over its headers)."""
    x.account_id = account_id
    x.method = scope["method"]
    x.path = raw_path
    x.protocol = "HTTP/" + scope.get("http_version", "1.1")
    client = scope.get("client")
    x.source_ip = client[0] if client else "127.0.0.1"
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1")
        elif name == b"user-agent":
            x.user_agent = value.decode("latin-1")
    domain = host or f"{x.api_id}.execute-api.localhost"
    x.domain_name = domain
    x.domain_prefix = domain.partition(".")[0].partition(":")[0]
    if mapped is not None:
        x.base_path = mapped.key or None


def routed(x: Exchange, route_key: str, resource: str, stage_extra: Mapping[str, Any]) -> None:
    """The route matched, and whether its detailed metrics are on: the route's RouteSettings
    over the stage's DefaultRouteSettings."""
    x.route_key = route_key
    own = (stage_extra.get("RouteSettings") or {}).get(route_key) or {}
    default = stage_extra.get("DefaultRouteSettings") or {}
    detailed = own.get("DetailedMetricsEnabled")
    if detailed is None:
        detailed = default.get("DetailedMetricsEnabled", False)
    if detailed:
        x.detailed_metrics = True
        x.resource = resource
        method = route_key.partition(" ")[0]
        x.route_method = "ANY" if route_key == "$default" else method


def authorizer_error(response: Any) -> str | None:
    """``$context.authorizer.error`` of an authorizer's refusal: a JWT authorizer's reason
    (its ``www-authenticate`` ``error_description``), else the answer's ``message``."""
    for name, value in response.headers:
        if name == b"www-authenticate":
            found = _DESCRIPTION.search(value.decode("latin-1"))
            if found and found.group(1):
                return found.group(1)
    return message_of(response.body)


_DESCRIPTION = re.compile(r'error_description="([^"]*)"')


def message_of(body: bytes) -> str | None:
    """The ``message`` of a gateway's JSON answer (an authorizer's 401 or 403)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    message = doc.get("message") if isinstance(doc, dict) else None
    return str(message) if message is not None else None
