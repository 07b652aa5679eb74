"""CORS for HTTP APIs (``CorsConfiguration``) and function URLs (``Cors``).

Both services use the same members (AllowOrigins, AllowMethods, AllowHeaders, ExposeHeaders,
AllowCredentials, MaxAge) and the same behaviour: a preflight ``OPTIONS`` request is answered
by the gateway itself (204) without calling the function, and the CORS headers of other
responses are the configuration's, replacing any the function set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoal.gateway.responses import GatewayResponse

_CORS_PREFIX = b"access-control-"


def _allowed_origin(cors: Mapping[str, Any], origin: str) -> str | None:
    origins = cors.get("AllowOrigins") or ()
    if "*" in origins:
        return origin if cors.get("AllowCredentials") else "*"
    return origin if origin in origins else None


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    return (
        method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers
    )


def preflight(cors: Mapping[str, Any], headers: Mapping[str, str]) -> GatewayResponse:
    out: list[tuple[bytes, bytes]] = []
    allowed = _allowed_origin(cors, headers.get("origin", ""))
    if allowed is not None:
        out.append((b"access-control-allow-origin", allowed.encode()))
        methods = cors.get("AllowMethods") or ()
        if methods:
            out.append((b"access-control-allow-methods", ",".join(methods).encode()))
        allow_headers = cors.get("AllowHeaders") or ()
        if allow_headers:
            out.append((b"access-control-allow-headers", ",".join(allow_headers).encode()))
        if cors.get("AllowCredentials"):
            out.append((b"access-control-allow-credentials", b"true"))
        if cors.get("MaxAge") is not None:
            out.append((b"access-control-max-age", str(cors["MaxAge"]).encode()))
    return GatewayResponse(204, out, b"")


def decorate(cors: Mapping[str, Any], origin: str | None, response: GatewayResponse) -> None:
    """Replace the function's CORS headers with the configuration's."""
    response.headers = [h for h in response.headers if not h[0].startswith(_CORS_PREFIX)]
    if origin is None:
        return
    allowed = _allowed_origin(cors, origin)
    if allowed is None:
        return
    response.headers.append((b"access-control-allow-origin", allowed.encode()))
    expose = cors.get("ExposeHeaders") or ()
    if expose:
        response.headers.append((b"access-control-expose-headers", ",".join(expose).encode()))
    if cors.get("AllowCredentials"):
        response.headers.append((b"access-control-allow-credentials", b"true"))
