"""ASGI plumbing shared by every HTTP entry point (the AWS APIs and the HTTP gateway): the
ASGI callable types, reading a request body under a size limit, and a JSON answer."""

from __future__ import annotations

import json
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from shoal.api.codec import HttpResponse

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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
