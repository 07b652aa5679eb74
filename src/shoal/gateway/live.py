"""The data plane's view of an HTTP API: compiled once per change, then only read.

A :class:`LiveApi` holds what serving a request needs and nothing to compute: stage lookup, the
compiled :class:`~shoal.gateway.routes.RouteTable`, and for each route the function it calls and
the payload format. The registry's models stay the source of truth; a change to an API replaces
its LiveApi as a whole (one dict assignment, atomic for the event loop).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shoal.gateway.http_proxy import ProxyTarget
from shoal.gateway.models import Api, Integration, Stage
from shoal.gateway.route_auth import NO_AUTH, RouteAuth, route_auth
from shoal.gateway.routes import RouteTable, parse_route_key
from shoal.gateway.targets import BadFunctionUri, FunctionTarget, function_target

log = logging.getLogger("shoal.gateway")


@dataclass(frozen=True)
class LiveRoute:
    route_key: str
    resource_path: str  # 1.0's "resource": the route's path template, or "$default"
    target: FunctionTarget | None  # None: the route has no integration (answered 404)
    timeout_s: float
    auth: RouteAuth = NO_AUTH  # AuthorizationType and its authorizer (route_auth)
    proxy: ProxyTarget | None = None  # an HTTP_PROXY integration's (then target is None)
    # What of the request's path an HTTP_PROXY URI without path parameters gets appended: ""
    # the whole path ($default), a name the greedy {name+} parameter's value, None nothing.
    tail: str | None = None


@dataclass(frozen=True)
class LiveApi:
    api_id: str
    region: str
    stages: Mapping[str, Stage]
    table: RouteTable[LiveRoute]
    cors: Mapping[str, Any] | None
    disabled: bool  # DisableExecuteApiEndpoint


def compile_api(api: Api, account: str) -> LiveApi:
    entries = []
    for route in api.routes.values():
        key = parse_route_key(route.route_key)
        target: FunctionTarget | None = None
        proxy: ProxyTarget | None = None
        timeout_s = 30.0
        integration = api.integrations.get(route.integration_id or "")
        if integration is not None and integration.integration_type == "HTTP_PROXY":
            proxy = _proxy(integration)
            timeout_s = integration.timeout_ms / 1000
        elif integration is not None:
            try:
                target = function_target(
                    integration.integration_uri,
                    integration.payload_format_version,
                    api.region,
                    account,
                )
            except BadFunctionUri:
                log.warning(
                    "API %s: integration %s has a bad URI", api.api_id, integration.integration_id
                )
            timeout_s = integration.timeout_ms / 1000
        resource = route.route_key if key.is_default else key.path
        tail = "" if key.is_default else key.greedy_name
        live = LiveRoute(
            route.route_key, resource, target, timeout_s, route_auth(route.extra), proxy, tail
        )
        entries.append((key, live))
    return LiveApi(
        api.api_id,
        api.region,
        dict(api.stages),
        RouteTable(entries),
        api.cors,
        api.disable_execute_api_endpoint,
    )


def _proxy(integration: Integration) -> ProxyTarget:
    extra = integration.extra
    return ProxyTarget(
        integration.integration_uri,
        str(extra.get("IntegrationMethod") or "ANY").upper(),
        integration.timeout_ms / 1000,
        dict(extra.get("RequestParameters") or {}),
        {k: dict(v or {}) for k, v in (extra.get("ResponseParameters") or {}).items()},
    )
