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

from shoal.gateway.models import Api, Stage
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
        timeout_s = 30.0
        integration = api.integrations.get(route.integration_id or "")
        if integration is not None:
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
        live = LiveRoute(route.route_key, resource, target, timeout_s, route_auth(route.extra))
        entries.append((key, live))
    return LiveApi(
        api.api_id,
        api.region,
        dict(api.stages),
        RouteTable(entries),
        api.cors,
        api.disable_execute_api_endpoint,
    )
