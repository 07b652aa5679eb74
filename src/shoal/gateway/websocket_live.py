"""The data plane's view of a WebSocket API: compiled once per change, then only read.

A :class:`LiveWebSocketApi` holds the API's stages, its routes by route key (each with the
function it calls, its timeout, its authorization and whether the function's answer goes back
to the client), and the parsed route selection expression. :meth:`select` picks a message's
route as API Gateway does ("Working with routes for WebSocket APIs"): the expression is
evaluated against the message (``$request.body.action`` reads ``action`` of a JSON object
message); a value that names a route selects it, anything else (a message that is not JSON, a
missing key, a value no route has) falls to ``$default``, and without ``$default`` the message
has no route.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shoal.gateway.models import Api, Stage
from shoal.gateway.route_auth import NO_AUTH, RouteAuth, route_auth
from shoal.gateway.targets import BadFunctionUri, FunctionTarget, function_target
from shoal.gateway.websocket_rules import DEFAULT_TIMEOUT_MS

log = logging.getLogger("shoal.gateway")


@dataclass(frozen=True)
class LiveWsRoute:
    route_key: str
    target: FunctionTarget | None  # None: no integration (the message is refused)
    timeout_s: float
    auth: RouteAuth = NO_AUTH  # $connect's only (API Gateway authorizes the connection)
    # A RouteResponseSelectionExpression is set: the function's answer is sent back (two-way).
    two_way: bool = False


@dataclass(frozen=True)
class LiveWebSocketApi:
    api_id: str
    region: str
    stages: Mapping[str, Stage]
    routes: Mapping[str, LiveWsRoute]  # route key -> route
    selection_path: tuple[str, ...] | None  # $request.body.a.b -> ("a", "b"); None: constant
    selection_constant: str  # the expression itself, when it reads nothing of the message
    disabled: bool  # DisableExecuteApiEndpoint

    def select(self, message: str | bytes) -> LiveWsRoute | None:
        """The route of one message, or None when none matches and there is no $default."""
        key = self.selection_constant if self.selection_path is None else None
        if self.selection_path is not None:
            key = _json_path(message, self.selection_path)
        if key is not None and key in self.routes and not key.startswith("$"):
            return self.routes[key]
        return self.routes.get("$default")


def _json_path(message: str | bytes, path: tuple[str, ...]) -> str | None:
    try:
        value: Any = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        return None
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _selection(expression: str) -> tuple[tuple[str, ...] | None, str]:
    inner = expression
    if inner.startswith("${") and inner.endswith("}"):
        inner = "$" + inner[2:-1]
    if inner.startswith("$request.body."):
        return tuple(inner[len("$request.body.") :].split(".")), expression
    return None, expression.replace("\\$", "$")


def compile_websocket(api: Api, account: str) -> LiveWebSocketApi:
    routes: dict[str, LiveWsRoute] = {}
    for route in api.routes.values():
        target: FunctionTarget | None = None
        timeout_s = DEFAULT_TIMEOUT_MS / 1000
        integration = api.integrations.get(route.integration_id or "")
        if integration is not None:
            try:
                target = function_target(integration.integration_uri, "1.0", api.region, account)
            except BadFunctionUri:
                log.warning(
                    "API %s: integration %s has a bad URI", api.api_id, integration.integration_id
                )
            timeout_s = integration.timeout_ms / 1000
        two_way = bool(route.extra.get("RouteResponseSelectionExpression"))
        routes[route.route_key] = LiveWsRoute(
            route.route_key, target, timeout_s, route_auth(route.extra), two_way
        )
    path, constant = _selection(str(api.extra.get("RouteSelectionExpression") or ""))
    return LiveWebSocketApi(
        api.api_id,
        api.region,
        dict(api.stages),
        routes,
        path,
        constant,
        api.disable_execute_api_endpoint,
    )
