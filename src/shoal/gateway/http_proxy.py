"""HTTP_PROXY integrations: the gateway forwards the request to an HTTP URL and answers with
the upstream's status, headers and body, as API Gateway HTTP APIs do.

The upstream URL is the integration's ``IntegrationUri`` with ``${stageVariables.NAME}``
replaced by the stage's variables and ``{name}`` / ``{name+}`` by the route's path parameters
(the console's ``https://example.com/{proxy}``). When the URI names no path parameter, a
greedy route's (``/{proxy+}``) matched tail, or the ``$default`` route's whole path, is appended
to the URI's path. The request's query string follows the URI's own; then the integration's
``RequestParameters`` apply (:mod:`shoal.gateway.mappings`), and ``ResponseParameters`` apply to
the answer.

Hop-by-hop headers (RFC 9110 §7.6.1) and ``Host`` never pass either way; the client's other
headers do, with API Gateway's ``X-Forwarded-*`` added (:func:`~shoal.gateway.events.
forwarded_headers`). The upstream is the API owner's configuration, yet the gateway still bounds
what it does for it: redirects are answered to the client rather than followed, proxies from the
environment are ignored, the answer is read up to :data:`MAX_RESPONSE` (API Gateway's 10 MB
payload quota), the whole exchange is cut at the integration timeout, and a host that resolves
to a link-local address (the cloud metadata service's 169.254.169.254) is refused where the
connection is made, on the address it is made to (:mod:`shoal.gateway.egress`). One pooled
client per event loop keeps upstream connections alive between requests (a few seconds idle).

Failures answer as API Gateway does for HTTP APIs: the integration timeout 503
``{"message":"Service Unavailable"}`` (what an HTTP API answers when its integration does not
answer in time), an unreachable or misbehaving upstream or an oversized answer 500
``{"message":"Internal Server Error"}``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from shoal.gateway import egress, framing, mappings, responses
from shoal.gateway.events import HttpRequest, Target
from shoal.gateway.responses import GatewayResponse

log = logging.getLogger("shoal.gateway")

MAX_RESPONSE = 10 * 1024 * 1024
_STAGE_VAR = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_PATH_PARAM = re.compile(r"\{([A-Za-z0-9._-]+)\+?\}")
_DROP = framing.RESERVED | {b"host"}


@dataclass(frozen=True)
class ProxyTarget:
    """What an HTTP_PROXY route forwards to; made when routes change, read on each request."""

    uri: str
    method: str  # IntegrationMethod; ANY forwards the request's own
    timeout_s: float
    request_parameters: Mapping[str, str] = field(default_factory=dict)
    response_parameters: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def upstream_url(
    target: ProxyTarget,
    stage_variables: Mapping[str, str],
    path_parameters: Mapping[str, str],
    tail: str | None,
) -> str:
    """The URL to call: stage variables and path parameters put in, ``tail`` (the greedy or
    ``$default`` path) appended when the URI names no path parameter."""
    uri = _STAGE_VAR.sub(lambda m: stage_variables.get(m.group(1), ""), target.uri)
    named = _PATH_PARAM.search(uri) is not None
    uri = _PATH_PARAM.sub(
        lambda m: urllib.parse.quote(path_parameters.get(m.group(1), ""), safe="/"), uri
    )
    if not named and tail:
        parts = urllib.parse.urlsplit(uri)
        path = parts.path.rstrip("/") + "/" + urllib.parse.quote(tail.lstrip("/"), safe="/")
        uri = urllib.parse.urlunsplit(parts._replace(path=path))
    return uri


async def serve(
    target: ProxyTarget,
    tail: str | None,
    request: HttpRequest,
    route_path: str,
    context: Target,
    authorizer: Mapping[str, Any] | None = None,
) -> GatewayResponse:
    """Forward one request that selected an HTTP_PROXY route (``route_path``: its path within
    the stage; ``tail``: what of it :func:`upstream_url` appends, see LiveRoute.tail;
    ``authorizer``: what the route's authorizer granted, see mappings.request_values)."""
    params = context.path_parameters
    appended = route_path if tail == "" else params.get(tail, "") if tail else None
    url = upstream_url(target, context.stage_variables, params, appended)
    values = mappings.request_values(request, context, route_path, authorizer)
    return await forward(target, request.method, url, values, request.body)


async def forward(
    target: ProxyTarget,
    method: str,
    url: str,
    values: mappings.Values,
    body: bytes,
) -> GatewayResponse:
    """Call the upstream and answer with what it said (mapped), or API Gateway's failure."""
    headers, query, path = mappings.map_request(target.request_parameters, values)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        log.warning("HTTP_PROXY integration URL %r is not an http(s) URL", url)
        return responses.internal_error()
    own_query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    full_query = urllib.parse.urlencode(own_query + query, quote_via=urllib.parse.quote)
    url = urllib.parse.urlunsplit(parts._replace(path=path or parts.path or "/", query=full_query))
    named = {
        n.strip().lower() for k, v in values.headers if k == "connection" for n in v.split(",")
    }
    sent = [(k, v) for k, v in headers if k.encode("latin-1") not in _DROP and k not in named]
    verb = method if target.method == "ANY" else target.method
    try:
        async with asyncio.timeout(target.timeout_s):
            status, got, content = await _exchange(verb, url, sent, body)
    except TimeoutError:
        return responses.unavailable()
    except (httpx.HTTPError, _TooLarge, ValueError) as e:
        if isinstance(e.__cause__, egress.Forbidden):
            log.warning("HTTP_PROXY integration URL %r: %s", url, e)
            return responses.internal_error()
        log.info("HTTP_PROXY integration %s %s failed: %r", verb, url, e)
        return responses.internal_error()
    try:
        kept = framing.own(got, remap=False)
    except ValueError:
        return responses.internal_error()
    values.response_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in kept]
    status, mapped = mappings.map_response(target.response_parameters, status, values)
    out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in mapped]
    return GatewayResponse(status, out, content)


class _TooLarge(Exception):
    pass


async def _exchange(
    method: str, url: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One request, no redirects followed, the answer read up to :data:`MAX_RESPONSE` as sent
    (its content coding kept, and its ``Content-Encoding`` with it)."""
    client = egress.client()  # pooled per event loop: upstream connections are kept alive
    request = client.build_request(method, url, headers=headers, content=body or None)
    given = {k for k, _ in headers}
    for name in ("accept", "accept-encoding", "user-agent"):  # httpx's defaults: not ours
        if name not in given and name in request.headers:
            del request.headers[name]
    response = await client.send(request, stream=True)
    try:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > MAX_RESPONSE:
                raise _TooLarge(f"more than {MAX_RESPONSE} bytes")
            chunks.append(chunk)
    finally:
        await response.aclose()
    raw = [(k.lower(), v) for k, v in response.headers.raw]
    return response.status_code, raw, b"".join(chunks)
