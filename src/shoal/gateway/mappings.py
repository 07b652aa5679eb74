"""Parameter mapping for HTTP APIs' HTTP_PROXY integrations, as API Gateway applies it.

An integration's ``RequestParameters`` change the request on its way to the upstream; keys are
``overwrite:header.NAME``, ``append:header.NAME``, ``remove:header.NAME``, the same three for
``querystring.NAME``, and ``overwrite:path``. ``ResponseParameters`` are keyed by the upstream's
status code and change the answer: ``overwrite:statuscode`` and the three header operations.

A value is a static string, a selection expression, or a mix of both: ``$request.header.NAME``,
``$request.querystring.NAME``, ``$request.path.NAME`` (a path parameter), ``$request.path``,
``$request.body`` and ``$request.body.NAME.NAME`` (a member of a JSON body),
``$context.NAME`` (``requestId``, ``stage``, ``apiId``, ``routeKey``...), ``$stageVariables.NAME``
and, in response mappings, ``$response.header.NAME``; each may also be written ``${...}``.
An expression naming something absent is the empty string. ``remove:`` takes any value (API
Gateway asks for ``''``).

:class:`Values` is the gateway's one resolver of these expressions: parameter mappings read it,
and so do authorizers' identity sources (:func:`shoal.gateway.route_auth.identity_values`);
:func:`request_values` makes it for a request, with the ``$context`` variables as API Gateway
names them.

API Gateway's reserved headers (hop-by-hop, ``host``, ``authorization``, ``x-amz-*``,
``x-forwarded-*``...) are refused as mapping targets, so a mapping never changes the framing the
gateway owns (:mod:`framing`) nor forges what the gateway vouches for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from shoal.gateway.events import HttpRequest, Target

_KEY = re.compile(
    r"^(overwrite|append|remove):(header|querystring)\.([A-Za-z0-9!#$%&'*+.^_`|~-]+)$"
)
_REQUEST_OTHER = ("overwrite:path",)
_RESPONSE_OTHER = ("overwrite:statuscode",)
_EXPR = re.compile(
    r"\$\{([^}]*)\}"
    r"|\$((?:request|response)\.(?:header|querystring|path|body)\.[A-Za-z0-9._-]+"
    r"|request\.path|request\.body|(?:context|stageVariables)\.[A-Za-z0-9_.]*[A-Za-z0-9_])"
)
# The guide's reserved headers for HTTP APIs: no mapping may set, append or remove them.
RESERVED = frozenset(
    {
        "authorization", "connection", "content-encoding", "content-length",
        "content-location", "forwarded", "host", "keep-alive", "origin", "proxy-authenticate",
        "proxy-authorization", "te", "trailers", "transfer-encoding", "upgrade",
        "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "via",
    }
)  # fmt: skip
JSON_BODY_LIMIT = 100 * 1024
RESERVED_PREFIXES = ("access-control-", "apigw-", "x-amz-", "x-amzn-")


def reserved(name: str) -> bool:
    name = name.lower()
    return name in RESERVED or name.startswith(RESERVED_PREFIXES)


def _bad_key(key: str, allowed: tuple[str, ...], response: bool) -> str | None:
    if key in allowed:
        return None
    m = _KEY.match(key)
    if m is None or (response and m.group(2) != "header"):
        return f"Invalid mapping expression specified: {key}"
    if m.group(2) == "header" and reserved(m.group(3)):
        return f"Invalid mapping expression specified: {key}: {m.group(3)} is a reserved header"
    return None


def check(extra: Mapping[str, Any]) -> str | None:
    """What is wrong with an integration's parameter mappings, worded for the client; None
    when nothing is."""
    request = extra.get("RequestParameters") or {}
    if not isinstance(request, dict):
        return "RequestParameters must be a map"
    for key, value in request.items():
        bad = _bad_key(key, _REQUEST_OTHER, False)
        if bad is None and not isinstance(value, str):
            bad = f"Invalid mapping value specified for {key}"
        if bad is not None:
            return bad
    response = extra.get("ResponseParameters") or {}
    if not isinstance(response, dict):
        return "ResponseParameters must be a map"
    for status, params in response.items():
        if not (isinstance(status, str) and status.isdigit() and 200 <= int(status) <= 599):
            return f"Invalid status code specified for ResponseParameters: {status}"
        for key, value in (params or {}).items():
            bad = _bad_key(key, _RESPONSE_OTHER, True)
            if bad is None and key == "overwrite:statuscode":
                if not (value.isdigit() and 200 <= int(value) <= 599):
                    bad = f"Invalid status code specified for overwrite:statuscode: {value}"
            if bad is not None:
                return bad
    return None


@dataclass
class Values:
    """What selection expressions read: the incoming request, the request's context, the
    stage's variables, and (for response mappings) the upstream's headers."""

    headers: list[tuple[str, str]]  # lower-case names
    query: list[tuple[str, str]]
    path: str
    path_parameters: Mapping[str, str]
    context: Mapping[str, str]
    stage_variables: Mapping[str, str]
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    _parsed: Any = field(default=None, repr=False)

    def _body_path(self, path: str) -> str:
        """``$request.body.a.b``: a member of the JSON body (its first 100 KB, as API Gateway
        reads it); "" when it is not JSON or has no such member."""
        if self._parsed is None:
            try:
                self._parsed = json.loads(self.body[:JSON_BODY_LIMIT])
            except (ValueError, UnicodeDecodeError):
                self._parsed = ()
        value: Any = self._parsed
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return ""
            value = value[part]
        if isinstance(value, str):
            return value
        return json.dumps(value, separators=(",", ":"))

    def lookup(self, expr: str) -> str:
        kind, _, name = expr.partition(".")
        if kind == "request":
            if name == "path":
                return self.path
            if name == "body":
                return self.body.decode("utf-8", "replace")
            if name.startswith("body."):
                return self._body_path(name[len("body.") :])
            part, _, item = name.partition(".")
            if part == "header":
                return _joined(self.headers, item.lower())
            if part == "querystring":
                return _joined(self.query, item)
            if part == "path":
                return self.path_parameters.get(item, "")
        elif kind == "response" and name.startswith("header."):
            return _joined(self.response_headers, name[len("header.") :].lower())
        elif kind == "context":
            return self.context.get(name, "")
        elif kind == "stageVariables":
            return self.stage_variables.get(name, "")
        return ""

    def render(self, value: str) -> str:
        return _EXPR.sub(lambda m: self.lookup(m.group(1) or m.group(2)), value)


def request_values(
    request: HttpRequest,
    target: Target,
    route_path: str,
    authorizer: Mapping[str, Any] | None = None,
) -> Values:
    """What expressions read of one request that selected a route (``route_path``: its path
    within the stage; ``authorizer``: what the route's authorizer granted, as payload 1.0's
    ``requestContext.authorizer`` has it, read by ``$context.authorizer.claims.NAME`` for JWT
    and ``$context.authorizer.NAME`` for Lambda authorizers)."""
    return Values(
        headers=request.headers,
        query=parse_qsl(request.raw_query, keep_blank_values=True),
        path=route_path,
        path_parameters=target.path_parameters,
        context={
            "requestId": target.request_id,
            "apiId": target.api_id,
            "stage": target.stage,
            "routeKey": target.route_key,
            "domainName": target.domain_name,
            "domainPrefix": target.domain_prefix,
            "accountId": target.account_id,
            "httpMethod": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "identity.sourceIp": request.source_ip,
            "identity.userAgent": _joined(request.headers, "user-agent"),
            **flatten("authorizer", authorizer or {}),
        },
        stage_variables=target.stage_variables,
        body=request.body,
    )


def flatten(prefix: str, doc: Mapping[str, Any]) -> dict[str, str]:
    """``{"claims": {"sub": "a"}}`` as ``{"authorizer.claims.sub": "a"}``; lists joined."""
    out: dict[str, str] = {}
    for key, value in doc.items():
        name = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            out.update(flatten(name, value))
        elif isinstance(value, list):
            out[name] = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif value is not None:
            out[name] = str(value)
    return out


def _joined(items: list[tuple[str, str]], name: str) -> str:
    return ",".join(v for k, v in items if k == name)


def _apply(op: str, items: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    if op == "remove":
        return [(k, v) for k, v in items if k != name]
    if op == "overwrite":
        return [(k, v) for k, v in items if k != name] + [(name, value)]
    return items + [(name, value)]  # append


def map_request(
    params: Mapping[str, str], values: Values
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str | None]:
    """(headers, query, path or None) for the upstream: the request's, with ``params``
    applied; the path only when ``overwrite:path`` gives one. Every value is rendered from the
    incoming request, not from one another's results."""
    headers, query = list(values.headers), list(values.query)
    path: str | None = None
    for key, value in params.items():
        if key == "overwrite:path":
            path = values.render(value)
            if not path.startswith("/"):
                path = "/" + path
            continue
        op, _, target = key.partition(":")
        where, _, name = target.partition(".")
        rendered = values.render(value)
        if where == "header":
            headers = _apply(op, headers, name.lower(), rendered)
        else:
            query = _apply(op, query, name, rendered)
    return headers, query, path


def map_response(
    by_status: Mapping[str, Mapping[str, str]], status: int, values: Values
) -> tuple[int, list[tuple[str, str]]]:
    """(status, headers) for the client: the upstream's, with the mappings for its status."""
    headers = list(values.response_headers)
    params = by_status.get(str(status))
    if not params:
        return status, headers
    for key, value in params.items():
        rendered = values.render(value)
        if key == "overwrite:statuscode":
            if rendered.isdigit() and 100 <= int(rendered) <= 599:
                status = int(rendered)
            continue
        op, _, target = key.partition(":")
        headers = _apply(op, headers, target.partition(".")[2].lower(), rendered)
    return status, headers
