"""ASGI plumbing shared by every HTTP entry point (the AWS APIs and the HTTP gateway): the
ASGI callable types, reading a request body under a size limit, a JSON answer, and a request as
SigV4 verifies it."""

from __future__ import annotations

import json
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from shoal.api.codec import HttpResponse
from shoal.identity.sigv4 import SignedRequest

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WIRE_PATH = "shoal.wire_path"  # scope key: the path as sent, before host routing


def signed_request(scope: Scope, body: bytes) -> SignedRequest:
    """The request as its signer signed it: the path as sent (before host routing, still
    percent-encoded), the raw query string, lower-case header names, the body."""
    raw = scope.get(WIRE_PATH) or scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else (raw or scope["path"])
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    return SignedRequest(scope["method"], path, scope.get("query_string", b"").decode("latin-1"),
                         headers, body, scope.get("scheme") == "https")  # fmt: skip


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; ``BodyTooLarge`` past ``limit`` bytes, ``ConnectionError`` if
    the client goes away first."""
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")  # the usual case: the whole body at once
        if len(body) > limit:
            raise BodyTooLarge()
        return body
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            raise ConnectionError("client disconnected")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        message = await receive()


def json_response(
    status: int, doc: Any, headers: list[tuple[str, str]] | None = None
) -> HttpResponse:
    return HttpResponse(
        status,
        [("Content-Type", "application/json"), *(headers or [])],
        json.dumps(doc).encode(),
    )


def gunzip(body: bytes, limit: int) -> bytes:
    """A ``Content-Encoding: gzip`` body (the signature covers it compressed), at most
    ``limit`` bytes decompressed (BodyTooLarge beyond)."""
    inflater = zlib.decompressobj(wbits=31)
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge
    if not inflater.eof:
        raise ValueError("truncated gzip body")
    return out
