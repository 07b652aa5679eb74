"""Lambda result -> HTTP response, as API Gateway reads it.

Format 2.0 (HTTP APIs and function URLs): a JSON object with ``statusCode`` is applied as given
(``headers``, ``multiValueHeaders``, ``cookies`` as Set-Cookie headers, ``body``,
``isBase64Encoded``); any other valid JSON value is the body of a 200 with
``content-type: application/json``, except a JSON string, which is sent as its text (a handler
returning ``"No message yet."`` answers ``No message yet.``).

Format 1.0 makes no assumptions: a result without ``statusCode`` is a 500.

Framing and hop-by-hop headers from the function never reach the client as such
(:mod:`shoal.gateway.framing`): the gateway writes the one ``Content-Length``.

Failures are answered with API Gateway's fixed bodies: a function error 500, throttling 429
(of-watchdog's lesson: overload and unavailability are different answers), a timeout 503, an
oversized request 413, no route 404.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from shoal.gateway import framing

Headers = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class GatewayResponse:
    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""


def _fixed(status: int, message: str) -> GatewayResponse:
    # Compact, as API Gateway writes it: ``{"message":"Service Unavailable"}`` is 33 bytes.
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return GatewayResponse(status, [(b"content-type", b"application/json")], body)


def not_found() -> GatewayResponse:
    return _fixed(404, "Not Found")


def too_large() -> GatewayResponse:
    return _fixed(413, "Request Entity Too Large")


def internal_error() -> GatewayResponse:
    return _fixed(500, "Internal Server Error")


def throttled() -> GatewayResponse:
    return _fixed(429, "Too Many Requests")


def unavailable() -> GatewayResponse:
    return _fixed(503, "Service Unavailable")


def forbidden() -> GatewayResponse:
    return _fixed(403, "Forbidden")


def _header_value(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return str(value).encode("latin-1", "replace")


def _structured(doc: dict[str, Any], multi: bool, remap: bool) -> GatewayResponse:
    """A response object with statusCode; raises ValueError when it is malformed."""
    status = doc["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError("bad statusCode")
    headers: Headers = []
    given = doc.get("headers") or {}
    if not isinstance(given, dict):
        raise ValueError("bad headers")
    for name, value in given.items():
        encoded = _header_value(value)
        if encoded is not None:
            headers.append((str(name).lower().encode("latin-1", "replace"), encoded))
    multi_given = doc.get("multiValueHeaders") or {}
    if multi and isinstance(multi_given, dict):
        seen = {name for name, _ in headers}
        for name, values in multi_given.items():
            key = str(name).lower().encode("latin-1", "replace")
            if key in seen or not isinstance(values, list):
                continue  # the single-value map wins, as in API Gateway
            for value in values:
                encoded = _header_value(value)
                if encoded is not None:
                    headers.append((key, encoded))
    for cookie in doc.get("cookies") or ():
        headers.append((b"set-cookie", str(cookie).encode("latin-1", "replace")))
    headers = framing.own(headers, remap)
    body = doc.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        if doc.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("bad base64 body") from None
        else:
            raw = body.encode()
    else:
        raise ValueError("body must be a string")
    return GatewayResponse(status, headers, raw)


def from_payload(
    payload: bytes, version: str = "2.0", function_url: bool = False
) -> GatewayResponse:
    """Map a function's successful result (its JSON payload bytes) to the HTTP response; for a
    function URL, reserved headers are remapped rather than dropped."""
    try:
        doc = json.loads(payload) if payload else None
    except (ValueError, RecursionError):
        # Not JSON (a runtime should never do this): 2.0 passes it through, 1.0 refuses it.
        if version == "1.0":
            return internal_error()
        return GatewayResponse(200, [(b"content-type", b"application/json")], payload)
    if isinstance(doc, dict) and "statusCode" in doc:
        try:
            return _structured(doc, multi=version == "1.0", remap=function_url)
        except (ValueError, TypeError):
            return internal_error()
    if version == "1.0":
        return internal_error()
    if isinstance(doc, str):
        body = doc.encode()
    else:
        body = payload  # the JSON text, as the function sent it (``null`` for None)
    return GatewayResponse(200, [(b"content-type", b"application/json")], body)
