"""API Gateway's WebSocket events for Lambda proxy integrations, and what a function answers.

The three event types ("Setting up WebSocket API integrations" and the Lambda developer
guide's WebSocket examples):

- ``CONNECT`` (route ``$connect``): the upgrade request's ``headers``/``multiValueHeaders``
  (:func:`event_headers`) and ``queryStringParameters``/``multiValueQueryStringParameters``
  (omitted without a query);
- ``MESSAGE`` (a custom route or ``$default``): the message as ``body`` (text as it came, binary
  base64 with ``isBase64Encoded``) and a ``messageId``;
- ``DISCONNECT`` (route ``$disconnect``): ``disconnectStatusCode`` and ``disconnectReason``.

Each has ``requestContext`` with ``routeKey``, ``eventType``, ``connectionId``,
``connectedAt`` and ``requestTimeEpoch`` (ms), ``requestTime``, ``messageDirection: IN``,
``stage``, ``domainName``, ``apiId``, ``requestId``/``extendedRequestId``, ``identity``
(``sourceIp``, ``userAgent``) and, once a ``$connect`` authorizer allowed the connection, its
``authorizer`` (``principalId`` and the authorizer's context) in every later event.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shoal.gateway.events import new_request_id, request_time
from shoal.gateway.responses import GatewayResponse


@dataclass(frozen=True)
class Upgrade:
    """What of the client's upgrade request the events carry."""

    api_id: str
    stage: str
    domain_name: str
    connection_id: str
    connected_at_ms: int
    source_ip: str
    user_agent: str
    headers: tuple[tuple[str, str], ...]  # as sent (names as the client wrote them)
    raw_query: str
    stage_variables: Mapping[str, str]


# Header names as API Gateway writes them in a WebSocket event (the server's HTTP parser gives
# them in lower case): each word capitalized, and these as their RFCs spell them.
_SPELLED = {"sec-websocket-key": "Sec-WebSocket-Key", "sec-websocket-version":
            "Sec-WebSocket-Version", "sec-websocket-extensions": "Sec-WebSocket-Extensions",
            "sec-websocket-protocol": "Sec-WebSocket-Protocol", "x-amzn-trace-id":
            "X-Amzn-Trace-Id"}  # fmt: skip
_FORWARDED = ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id")


def _spelled(name: str) -> str:
    lower = name.lower()
    return _SPELLED.get(lower) or "-".join(w[:1].upper() + w[1:] for w in lower.split("-"))


def event_headers(sent: list[tuple[str, str]], source_ip: str, scope: Mapping[str, Any],
                  trace: str) -> tuple[tuple[str, str], ...]:  # fmt: skip
    """The upgrade request's headers as the ``$connect`` event has them: API Gateway's
    spelling, and the ``X-Forwarded-For``/``-Port``/``-Proto`` and ``X-Amzn-Trace-Id`` it adds
    (the client's own forwarding headers are not taken as they came: API Gateway appends)."""
    out = [(_spelled(k), v) for k, v in sent if k.lower() not in _FORWARDED]
    forwarded = [v for k, v in sent if k.lower() == "x-forwarded-for"]
    server = scope.get("server")
    secure = scope.get("scheme") == "wss"
    port = server[1] if server and server[1] else (443 if secure else 80)
    out += [
        ("X-Amzn-Trace-Id", trace),
        ("X-Forwarded-For", ", ".join([*forwarded, source_ip])),
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", "https" if secure else "http"),
    ]
    return tuple(out)


def _context(up: Upgrade, route_key: str, event_type: str, now_s: float,
             identity: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    request_id = new_request_id()
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(now_s),
        "messageDirection": "IN",
        "stage": up.stage,
        "connectedAt": up.connected_at_ms,
        "requestTimeEpoch": int(now_s * 1000),
        "identity": identity or {"sourceIp": up.source_ip, "userAgent": up.user_agent},
        "requestId": request_id,
        "domainName": up.domain_name,
        "connectionId": up.connection_id,
        "apiId": up.api_id,
    }


def _headers(up: Upgrade) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in up.headers:
        single[name] = f"{single[name]},{value}" if name in single else value
        multi.setdefault(name, []).append(value)
    return single, multi


def _query(raw: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    from urllib.parse import unquote_plus

    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            name, value = unquote_plus(name), unquote_plus(value)
            single[name] = value  # the last one, as API Gateway's 1.0-style events
            multi.setdefault(name, []).append(value)
    return single, multi


def connect_event(up: Upgrade, now_s: float | None = None) -> dict[str, Any]:
    now_s = time.time() if now_s is None else now_s
    headers, multi_headers = _headers(up)
    event: dict[str, Any] = {"headers": headers, "multiValueHeaders": multi_headers}
    if up.raw_query:
        query, multi_query = _query(up.raw_query)
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = multi_query
    if up.stage_variables:
        event["stageVariables"] = dict(up.stage_variables)
    event["requestContext"] = _context(up, "$connect", "CONNECT", now_s)
    event["isBase64Encoded"] = False
    return event


def message_event(
    up: Upgrade, route_key: str, message: str | bytes, authorizer: dict[str, Any] | None,
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    now_s = time.time()
    context = _context(up, route_key, "MESSAGE", now_s, identity)
    context["messageId"] = new_request_id()
    if authorizer is not None:
        context["authorizer"] = authorizer
    if isinstance(message, bytes):
        body, encoded = base64.b64encode(message).decode(), True
    else:
        body, encoded = message, False
    event: dict[str, Any] = {"requestContext": context, "body": body, "isBase64Encoded": encoded}
    if up.stage_variables:
        event["stageVariables"] = dict(up.stage_variables)
    return event


def disconnect_event(
    up: Upgrade, code: int, reason: str, authorizer: dict[str, Any] | None,
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    now_s = time.time()
    context = _context(up, "$disconnect", "DISCONNECT", now_s, identity)
    context["disconnectStatusCode"] = code
    context["disconnectReason"] = reason
    if authorizer is not None:
        context["authorizer"] = authorizer
    headers, multi_headers = _headers(up)
    event: dict[str, Any] = {
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if up.stage_variables:
        event["stageVariables"] = dict(up.stage_variables)
    return event


def route_response(payload: bytes) -> bytes | None:
    """What a two-way route sends back of the function's answer: the ``body`` of a proxy
    answer (``{"statusCode": 200, "body": "..."}``), else the answer itself (a string's text,
    other JSON as it came); None when there is nothing to send."""
    try:
        doc = json.loads(payload) if payload else None
    except (ValueError, RecursionError):
        return payload or None
    if doc is None:
        return None
    if isinstance(doc, dict) and ("statusCode" in doc or "body" in doc):
        body = doc.get("body")
        if body is None:
            return None
        if doc.get("isBase64Encoded") and isinstance(body, str):
            return base64.b64decode(body)
        return body.encode() if isinstance(body, str) else json.dumps(body).encode()
    if isinstance(doc, str):
        return doc.encode()
    return payload


def connect_refusal(payload: bytes) -> GatewayResponse | None:
    """A ``$connect`` function's answer as the handshake's refusal, or None to accept: a
    ``statusCode`` outside 2xx refuses the connection with that status (and the answer's
    body), as API Gateway does; any other answer accepts it."""
    try:
        doc = json.loads(payload) if payload else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or "statusCode" not in doc:
        return None
    try:
        status = int(doc["statusCode"])
    except (TypeError, ValueError):
        return _error(502, "Internal server error")
    if 200 <= status < 300:
        return None
    body = doc.get("body")
    data = body.encode() if isinstance(body, str) else b""
    return GatewayResponse(status, [(b"content-type", b"application/json")], data)


def connect_subprotocol(payload: bytes) -> str | None:
    """The ``Sec-WebSocket-Protocol`` header of a ``$connect`` function's answer: the
    subprotocol it accepts, which API Gateway puts in the handshake's answer."""
    try:
        doc = json.loads(payload) if payload else None
    except (ValueError, RecursionError):
        return None
    headers = doc.get("headers") if isinstance(doc, dict) else None
    if not isinstance(headers, dict):
        return None
    for name, value in headers.items():
        if str(name).lower() == "sec-websocket-protocol" and isinstance(value, str):
            return value.split(",")[0].strip() or None
    return None


def _error(status: int, message: str) -> GatewayResponse:
    body = json.dumps({"message": message}).encode()
    return GatewayResponse(status, [(b"content-type", b"application/json")], body)


def client_error(message: str, connection_id: str, request_id: str) -> str:
    """What API Gateway sends the client when its message fails (no route: ``Forbidden``; the
    integration failed: ``Internal server error``)."""
    return json.dumps(
        {"message": message, "connectionId": connection_id, "requestId": request_id},
        separators=(", ", ": "),
    )
