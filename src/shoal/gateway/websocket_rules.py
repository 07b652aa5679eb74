"""API Gateway's rules for a WebSocket API's parts (``ProtocolType WEBSOCKET``).

Pure, as :mod:`shoal.gateway.rules` is for HTTP APIs: what API Gateway checks when a
WebSocket API, one of its routes, integrations or authorizers is made ("Working with WebSocket
APIs" in the API Gateway developer guide, and botocore's ``apigatewayv2`` model, which says
which members are "Supported only for HTTP APIs"):

- the API needs a ``RouteSelectionExpression`` (``$request.body.NAME[.NAME...]``, or a
  constant such as ``\\$default``); quick create (``Target``/``RouteKey``) and
  ``CorsConfiguration`` are HTTP APIs' only;
- a route key is ``$connect``, ``$disconnect``, ``$default`` or any custom key (which must not
  start with ``$``);
- an integration is ``AWS_PROXY`` to a Lambda function, payload format ``1.0`` only, with a
  timeout of 50 to 29,000 ms (29 s by default);
- an authorizer is a Lambda ``REQUEST`` authorizer answering an IAM policy: no JWT, no
  ``AuthorizerPayloadFormatVersion``, no simple responses. Shoal runs it as the 1.0 payload
  (:mod:`shoal.gateway.lambda_auth`), which is what WebSocket APIs send.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shoal.gateway.rules import bad_request

PROTOCOL = "WEBSOCKET"
SPECIAL_ROUTES = ("$connect", "$disconnect", "$default")
DEFAULT_TIMEOUT_MS = 29000
# $request.body.a.b (a JSON path into the message), or a constant.
_BODY_PATH = re.compile(r"^\$request\.body\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
# Members of CreateApi/UpdateApi that only HTTP APIs take.
_HTTP_ONLY_API = ("CorsConfiguration", "Target", "RouteKey")


def check_selection_expression(expression: Any) -> str:
    """A route selection expression API Gateway accepts for a WebSocket API."""
    if not isinstance(expression, str) or not expression:
        raise bad_request("RouteSelectionExpression is required for WEBSOCKET APIs")
    if expression.startswith("${") and expression.endswith("}"):
        inner = "$" + expression[2:-1]
        if _BODY_PATH.match(inner):
            return expression
    if _BODY_PATH.match(expression) or not expression.startswith("$request"):
        return expression  # a JSON path, or a constant ("\\$default", "action")
    raise bad_request(f"Invalid route selection expression specified: {expression}")


def check_api(params: Mapping[str, Any]) -> None:
    """CreateApi/UpdateApi members of a WebSocket API."""
    for member in _HTTP_ONLY_API:
        if params.get(member) is not None:
            raise bad_request(f"{member} is supported only for HTTP APIs")
    if "RouteSelectionExpression" in params:
        check_selection_expression(params["RouteSelectionExpression"])


def check_route(route_key: str, extra: Mapping[str, Any]) -> None:
    """A WebSocket route: its key, and authorization on ``$connect`` only (API Gateway
    authorizes the connection, not each message)."""
    check_route_key(route_key)
    kind = extra.get("AuthorizationType") or "NONE"
    if kind not in ("NONE", "AWS_IAM", "CUSTOM"):
        raise bad_request(
            f"Invalid authorization type {kind} for a WebSocket API: NONE, AWS_IAM or CUSTOM"
        )
    if kind != "NONE" and route_key != "$connect":
        raise bad_request("Currently, authorization is restricted to the $connect route only")


def check_route_key(route_key: str) -> None:
    if not route_key:
        raise bad_request("Route key must not be empty")
    if route_key.startswith("$") and route_key not in SPECIAL_ROUTES:
        raise bad_request(
            f"Invalid route key specified: {route_key}. Route keys starting with $ are "
            "reserved: $connect, $disconnect and $default"
        )
    if len(route_key) > 128:
        raise bad_request("Route key must be at most 128 characters")


def check_integration(
    integration_type: str, payload_version: str | None, timeout_ms: int | None,
    extra: Mapping[str, Any],
) -> tuple[str, int]:
    """A WebSocket API's integration (a Lambda proxy one): its payload format version and
    timeout, checked; :func:`shoal.gateway.rules.integration` makes it."""
    if integration_type != "AWS_PROXY":
        raise bad_request(
            f"Shoal supports AWS_PROXY integrations only for WebSocket APIs, not {integration_type}"
        )
    if payload_version not in (None, "1.0"):
        raise bad_request("PayloadFormatVersion must be 1.0 for WebSocket APIs")
    timeout = DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms
    if not 50 <= timeout <= DEFAULT_TIMEOUT_MS:
        raise bad_request("TimeoutInMillis must be between 50 and 29000 for WebSocket APIs")
    for member in ("IntegrationSubtype", "ResponseParameters", "TlsConfig"):
        if extra.get(member) is not None:
            raise bad_request(f"{member} is supported only for HTTP APIs")
    return "1.0", timeout


def authorizer_members(params: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    """CreateAuthorizer (``creating``) or UpdateAuthorizer members of a WebSocket API's
    authorizer, as the authorizer registry builds them (a REQUEST authorizer of payload 1.0,
    which an update keeps)."""
    if params.get("AuthorizerType") not in (None, "REQUEST"):
        raise bad_request("WebSocket APIs support REQUEST authorizers only")
    for member in ("JwtConfiguration", "AuthorizerPayloadFormatVersion", "EnableSimpleResponses"):
        if params.get(member) is not None:
            raise bad_request(f"{member} is supported only for HTTP APIs")
    return {**params, "AuthorizerPayloadFormatVersion": "1.0"} if creating else dict(params)
