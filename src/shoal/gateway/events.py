"""HTTP request -> Lambda event, in API Gateway's payload formats 2.0 and 1.0.

Shapes follow "Create AWS Lambda proxy integrations for HTTP APIs" in the API Gateway developer
guide. Format 2.0 (HTTP APIs and function URLs): header names lower-case, repeated headers and
query parameters joined with commas, ``cookies`` split out of the Cookie header, optional
members (``cookies``, ``queryStringParameters``, ``pathParameters``, ``stageVariables``,
``body``) left out when empty. Format 1.0 keeps every member, ``null`` when empty, with the
last value of a repeated header or parameter in the single-value maps and all of them in the
``multiValue*`` maps.

Bodies of text content types are passed as text; anything else (including a body with no
content type, and forms, as API Gateway does) is base64 with ``isBase64Encoded: true``.

The gateway is a proxy, and says so as API Gateway does (:func:`forwarded_headers`): the
function sees ``x-amzn-trace-id``, ``x-forwarded-for`` (the client's own value, if it sent one,
then the peer's address: ``client-value, source-ip``), ``x-forwarded-port`` and
``x-forwarded-proto`` (Shoal's own port and scheme, where AWS says 443 and https: web adapters
such as Mangum and serverless-wsgi build absolute URLs from them and from ``host``). The
``sourceIp`` fields stay the peer's address. ``domainName`` is the request's ``Host`` as given
and ``domainPrefix`` its first label (:func:`domain_of`).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/x-yaml",
    "application/yaml",
    "application/graphql",
)


@dataclass(slots=True)
class HttpRequest:
    """What the gateway needs of one HTTP request (built from the ASGI scope)."""

    method: str
    raw_path: str  # decoded path as the event reports it (with the stage for named stages)
    raw_query: str
    headers: list[tuple[str, str]]  # names lower-case, in arrival order
    body: bytes
    source_ip: str
    protocol: str  # "HTTP/1.1"


@dataclass(slots=True)
class Target:
    """Where the request landed: the API (or function URL), stage and route."""

    api_id: str
    domain_name: str
    domain_prefix: str
    stage: str
    route_key: str
    resource_path: str  # route path template for 1.0's ``resource`` ("/items/{id}")
    path_parameters: Mapping[str, str]
    stage_variables: Mapping[str, str]
    account_id: str
    request_id: str


def new_request_id() -> str:
    """API Gateway's request id shape: 16 base64 characters (``MIZRNhJtIAMEMDw=``)."""
    return base64.b64encode(os.urandom(11)).decode()


_clock: tuple[int, str] = (0, "")


def request_time(epoch_s: float) -> str:
    """``12/Mar/2020:19:03:58 +0000``; formatted once per second (the hot path calls it)."""
    global _clock
    second = int(epoch_s)
    if _clock[0] != second:
        # %b is locale-dependent; Shoal never calls setlocale, so it is the C locale's English.
        _clock = (second, time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second)))
    return _clock[1]


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    ct = content_type.lower()
    if ct.startswith(_TEXT_TYPES):
        return True
    main = ct.split(";", 1)[0].strip()
    return main.endswith("+json") or main.endswith("+xml")


def encode_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    if is_text(content_type):
        try:
            return body.decode(), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode(), True


# What the gateway sets itself; a client's own values are replaced (x-forwarded-for: extended).
_PROXY_HEADERS = frozenset(
    ("x-amzn-trace-id", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto")
)


def forwarded_headers(
    headers: list[tuple[str, str]], source_ip: str, port: int, scheme: str, trace: str
) -> list[tuple[str, str]]:
    """The request's headers as the gateway hands them on: the client's, without the four
    proxy headers, then ``x-amzn-trace-id`` (``trace``), ``x-forwarded-for``,
    ``x-forwarded-port``, ``x-forwarded-proto``. A client's ``X-Forwarded-For`` lines (several
    are joined with ``, ``) get the peer's address appended, as API Gateway appends it."""
    out = []
    client_for = []
    for name, value in headers:
        if name in _PROXY_HEADERS:
            if name == "x-forwarded-for" and value.strip():
                client_for.append(value.strip())
            continue
        out.append((name, value))
    client_for.append(source_ip)
    out += (
        ("x-amzn-trace-id", trace),
        ("x-forwarded-for", ", ".join(client_for)),
        ("x-forwarded-port", str(port)),
        ("x-forwarded-proto", scheme),
    )
    return out


def domain_of(host: str | None, fallback: str) -> tuple[str, str]:
    """(``domainName``, ``domainPrefix``) of a request: its ``Host`` as given (port included:
    code that builds a URL from ``domainName`` must reach Shoal's port), and the first label of
    the host name (``{apiId}`` for ``{apiId}.execute-api.localhost``, as on AWS; ``127`` for
    ``127.0.0.1:9000``). ``fallback`` stands in for a request without a Host (HTTP/1.0)."""
    domain = host or fallback
    if domain.startswith("["):  # an IPv6 literal: the name is the bracketed address
        name = domain.partition("]")[0] + "]"
    else:
        name = domain.rpartition(":")[0] if ":" in domain else domain
    return domain, name.partition(".")[0]


def _joined_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        if name in out:
            out[name] = out[name] + "," + value
        else:
            out[name] = value
    return out


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def build_v2(
    request: HttpRequest, target: Target, *, now: float | None = None, keep_cookie: bool = False
) -> dict[str, Any]:
    """Payload format 2.0. ``keep_cookie``: function URLs keep the Cookie header in
    ``headers`` as well as in ``cookies``; API Gateway moves it to ``cookies`` only."""
    now = time.time() if now is None else now
    headers = _joined_headers(request.headers)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": target.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if "cookie" in headers:
        if not keep_cookie:
            del headers["cookie"]
        event["cookies"] = [
            c.strip()
            for name, value in request.headers
            if name == "cookie"
            for c in value.split(";")
            if c.strip()
        ]
    event["headers"] = headers
    if request.raw_query:
        query: dict[str, str] = {}
        for key, value in _query_pairs(request.raw_query):
            query[key] = query[key] + "," + value if key in query else value
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": target.account_id,
        "apiId": target.api_id,
        "domainName": target.domain_name,
        "domainPrefix": target.domain_prefix,
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": target.request_id,
        "routeKey": target.route_key,
        "stage": target.stage,
        "time": request_time(now),
        "timeEpoch": int(now * 1000),
    }
    if target.path_parameters:
        event["pathParameters"] = dict(target.path_parameters)
    if target.stage_variables:
        event["stageVariables"] = dict(target.stage_variables)
    if request.body:
        event["body"], event["isBase64Encoded"] = encode_body(
            request.body, headers.get("content-type")
        )
    else:
        event["isBase64Encoded"] = False
    return event


def build_v1(request: HttpRequest, target: Target, *, now: float | None = None) -> dict[str, Any]:
    """Payload format 1.0 (the REST API shape, as HTTP APIs send it)."""
    now = time.time() if now is None else now
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] | None = None
    multi_query: dict[str, list[str]] | None = None
    if request.raw_query:
        query, multi_query = {}, {}
        for key, value in _query_pairs(request.raw_query):
            query[key] = value
            multi_query.setdefault(key, []).append(value)
    body: str | None = None
    is_base64 = False
    if request.body:
        body, is_base64 = encode_body(request.body, headers.get("content-type"))
    return {
        "version": "1.0",
        "resource": target.resource_path,
        "path": request.raw_path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "requestContext": {
            "accountId": target.account_id,
            "apiId": target.api_id,
            "domainName": target.domain_name,
            "domainPrefix": target.domain_prefix,
            "extendedRequestId": target.request_id,
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": headers.get("user-agent", ""),
                "userArn": None,
            },
            "path": request.raw_path,
            "protocol": request.protocol,
            "requestId": target.request_id,
            "requestTime": request_time(now),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": target.route_key,
            "resourcePath": target.resource_path,
            "stage": target.stage,
        },
        "pathParameters": dict(target.path_parameters) or None,
        "stageVariables": dict(target.stage_variables) or None,
        "body": body,
        "isBase64Encoded": is_base64,
    }
