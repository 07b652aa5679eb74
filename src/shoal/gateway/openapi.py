"""OpenAPI 3.0 import of HTTP APIs, as API Gateway's ``ImportApi`` and ``ReimportApi`` read it.

A document (JSON or YAML) becomes the parts of one :class:`Api`: ``info.title`` its name
(``info.description`` and ``info.version`` kept), each operation of ``paths`` a route
(``x-amazon-apigateway-any-method`` is ``ANY``, the path ``/$default`` the ``$default`` route),
an operation's ``x-amazon-apigateway-integration`` its integration, and the root's
``x-amazon-apigateway-cors`` the API's CORS configuration. ``servers``' ``basePath`` is ignored,
prepended to every route, or split (its first segment dropped, the rest prepended), as the
request's ``Basepath`` says.

What the API Gateway guide calls *warnings* (a valid document with something HTTP APIs do not
take, such as an ``AWS`` integration) leave that part out and are answered in ``Warnings``, or
refuse the import under ``FailOnWarnings``; what it calls *errors* (not OpenAPI 3.0, not
readable) refuse it. Pure: GatewayService.save_import saves what :func:`build` makes.

Authorization (``components.securitySchemes``, each operation's ``security``) is
:mod:`shoal.gateway.openapi_auth`: the schemes become the API's authorizers, and a route that
requires a scheme HTTP APIs can't run refuses the import, so that no route the document
protects is ever served open.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

from shoal.errors import AwsError
from shoal.gateway import authorizers, openapi_auth, rules
from shoal.gateway.authorizers import Authorizer
from shoal.gateway.models import DEFAULT_ROUTE, Api, new_id
from shoal.gateway.openapi_auth import Requirement, Scheme

ANY_METHOD = "x-amazon-apigateway-any-method"
INTEGRATION = "x-amazon-apigateway-integration"
CORS = "x-amazon-apigateway-cors"
IMPORT_EXPORT_VERSION = "x-amazon-apigateway-importexport-version"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
BASEPATH_MODES = ("ignore", "prepend", "split")
# x-amazon-apigateway-cors member -> CorsConfiguration member.
CORS_MEMBERS = {
    "allowOrigins": "AllowOrigins",
    "allowCredentials": "AllowCredentials",
    "exposeHeaders": "ExposeHeaders",
    "maxAge": "MaxAge",
    "allowMethods": "AllowMethods",
    "allowHeaders": "AllowHeaders",
}


def _invalid(why: str) -> AwsError:
    return rules.bad_request(f"Invalid OpenAPI input. {why}")


@dataclass(frozen=True)
class Operation:
    route_key: str
    integration: Mapping[str, Any] | None  # the x-amazon-apigateway-integration object
    requirement: Requirement = openapi_auth.OPEN


@dataclass(frozen=True)
class Definition:
    """What an OpenAPI document defines of an HTTP API."""

    name: str
    description: str | None
    version: str | None
    cors: Mapping[str, Any] | None
    operations: tuple[Operation, ...]
    warnings: tuple[str, ...] = field(default=())
    schemes: Mapping[str, Scheme] = field(default_factory=dict)  # the authorizers to make


def parse(body: str, basepath: str | None) -> Definition:
    """Read a document; BadRequestException for an error (not OpenAPI 3.0, malformed)."""
    mode = (basepath or "ignore").lower()
    if mode not in BASEPATH_MODES:
        raise rules.bad_request(f"Invalid basepath {basepath}: use ignore, prepend or split")
    doc = _load(body)
    version = str(doc.get("openapi", ""))
    if not version.startswith("3."):
        raise _invalid("HTTP APIs import OpenAPI 3.0 definitions only (an openapi field 3.0.x)")
    info = doc.get("info")
    if not isinstance(info, dict) or not info.get("title"):
        raise _invalid("info.title is required: it is the API's name")
    for key in ("title", "description", "version"):
        if info.get(key) is not None and not isinstance(info[key], str | int | float):
            raise _invalid(f"info.{key} must be a string")
    warnings: list[str] = []
    prefix = _base_path(doc, mode)
    paths = doc.get("paths") or {}
    if not isinstance(paths, dict):
        raise _invalid("paths must be an object")
    schemes = openapi_auth.schemes(doc, warnings)
    operations = []
    for path, item in paths.items():
        if not isinstance(path, str) or not isinstance(item, dict):
            raise _invalid("paths must map each path (a string) to an object")
        for key, op in item.items():
            method = "ANY" if key == ANY_METHOD else key.upper() if key in METHODS else None
            if method is None or not isinstance(op, dict):
                continue  # parameters, summary, servers... of the path item
            route_key = DEFAULT_ROUTE if path == "/$default" else f"{method} {prefix}{path}"
            needs = openapi_auth.requirement(op, doc.get("security"), route_key)
            openapi_auth.check(needs, schemes, route_key)
            operations.append(Operation(route_key, op.get(INTEGRATION), needs))
    return Definition(
        str(info["title"]),
        _str_or_none(info.get("description")),
        _str_or_none(info.get("version")),
        _cors(doc.get(CORS), warnings),
        tuple(operations),
        tuple(warnings),
        schemes,
    )


def _load(body: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError:
        try:
            doc = yaml.safe_load(body)
        except yaml.YAMLError as e:
            raise _invalid(f"The body is neither JSON nor YAML: {e}") from None
    if not isinstance(doc, dict):
        raise _invalid("The body must be an OpenAPI 3.0 document (an object)")
    return doc


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _base_path(doc: Mapping[str, Any], mode: str) -> str:
    """The prefix routes get: servers[0]'s path, its variables at their defaults."""
    if mode == "ignore":
        return ""
    servers = doc.get("servers") or []
    if not servers or not isinstance(servers[0], dict):
        return ""
    url = servers[0].get("url", "")
    variables = servers[0].get("variables") or {}
    if not isinstance(url, str) or not isinstance(variables, dict):
        raise _invalid("servers[0].url must be a string and its variables an object")
    for name, var in variables.items():
        default = var.get("default", "") if isinstance(var, dict) else ""
        if not isinstance(name, str) or not isinstance(default, str):
            raise _invalid("a server variable's default must be a string")
        url = url.replace("{" + name + "}", default)
    path = urlsplit(url).path if "://" in url else url
    parts = [p for p in path.split("/") if p]
    if mode == "split":
        parts = parts[1:]
    return "".join("/" + p for p in parts)


def _cors(value: Any, warnings: list[str]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(f"{CORS} must be an object")
    cors: dict[str, Any] = {}
    for key, item in value.items():
        member = CORS_MEMBERS.get(key)
        if member is None:
            warnings.append(f"Unsupported property {key} in {CORS}: ignored")
            continue
        # Checked types, so that a YAML document's aliases can't make a value that grows
        # without bound when saved (only strings, a bool and an int are kept).
        if member == "AllowCredentials" and isinstance(item, bool):
            cors[member] = item
        elif member == "MaxAge" and isinstance(item, int) and not isinstance(item, bool):
            cors[member] = item
        elif isinstance(item, list) and all(isinstance(v, str) for v in item):
            cors[member] = list(item)
        else:
            raise _invalid(f"{CORS}.{key} has the wrong type")
    return cors


def build(
    api: Api, definition: Definition, fail_on_warnings: bool
) -> tuple[Api, dict[str, Authorizer], list[str]]:
    """``api`` with the definition's routes and integrations (in place of its own), name,
    description, version and CORS; its authorizers (in place of its own: ``authorizer id ->
    Authorizer``); and the warnings. BadRequestException for a route or an authorizer API
    Gateway refuses, and for any warning under ``fail_on_warnings``."""
    warnings = list(definition.warnings)
    by_scheme = _authorizers(definition.schemes)
    by_id = {a.authorizer_id: a for a in by_scheme.values()}
    extra = dict(api.extra)
    for member, value in (("Description", definition.description),
                          ("Version", definition.version)):  # fmt: skip
        if value is None:
            extra.pop(member, None)
        else:
            extra[member] = value
    api = dataclasses.replace(
        api, name=definition.name, cors=definition.cors, extra=extra, routes={}, integrations={}
    )
    for op in definition.operations:
        target = None
        if op.integration is not None:
            try:
                made = _integration(op.integration)
            except AwsError as e:
                warnings.append(f"Integration of {op.route_key} not imported: {e.message}")
            else:
                integrations = {**api.integrations, made.integration_id: made}
                api = dataclasses.replace(api, integrations=integrations)
                target = f"integrations/{made.integration_id}"
        members = openapi_auth.route_members(op.requirement, definition.schemes, by_scheme)
        authorizers.check_route(api, by_id, members)
        route = rules.route(api, new_id(7), op.route_key, target, managed=False, extra=members)
        api = dataclasses.replace(api, routes={**api.routes, route.route_id: route})
    if warnings and fail_on_warnings:
        raise rules.bad_request("Warnings found during import: " + "; ".join(warnings))
    return api, by_id, warnings


def _authorizers(schemes: Mapping[str, Scheme]) -> dict[str, Authorizer]:
    """scheme name -> the authorizer it makes (checked as CreateAuthorizer checks one)."""
    made: dict[str, Authorizer] = {}
    ids: set[str] = set()
    for name, scheme in schemes.items():
        if scheme.params is None:
            continue  # IAM: no authorizer
        authorizer_id = new_id(6)
        while authorizer_id in ids:
            authorizer_id = new_id(6)
        ids.add(authorizer_id)
        try:
            made[name] = authorizers.build(authorizer_id, scheme.params, scheme.extra or {})
        except AwsError as e:
            raise rules.bad_request(f"Invalid authorizer {name}: {e.message}") from None
    return made


def _integration(spec: Mapping[str, Any]) -> Any:
    if not isinstance(spec, dict):
        raise rules.bad_request(f"{INTEGRATION} must be an object")
    kind = (_text(spec, "type") or "").upper()
    version = spec.get("payloadFormatVersion")
    if isinstance(version, float | int) and not isinstance(version, bool):
        version = f"{version:.1f}"  # the guide's own example writes it as the number 1.0
    else:
        version = _text(spec, "payloadFormatVersion")
    timeout = spec.get("timeoutInMillis")
    if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool)):
        raise rules.bad_request("timeoutInMillis must be an integer")
    extra = {}
    for key, member in (("connectionType", "ConnectionType"), ("httpMethod", "IntegrationMethod")):
        value = _text(spec, key)
        if value is not None:
            extra[member] = value.upper()
    credentials = _text(spec, "credentials")
    if credentials is not None:
        extra["CredentialsArn"] = credentials
    for key, member in (("requestParameters", "RequestParameters"),
                        ("responseParameters", "ResponseParameters")):  # fmt: skip
        if spec.get(key) is not None:
            if not isinstance(spec[key], dict):
                raise rules.bad_request(f"{INTEGRATION}.{key} must be an object")
            extra[member] = spec[key]
    return rules.integration(
        new_id(7), kind, _text(spec, "uri"), version, timeout, managed=False, extra=extra
    )


def _text(spec: Mapping[str, Any], key: str) -> str | None:
    """A string member of an extension object (never str() of whatever is there: a YAML
    document's aliases can make a value whose text grows without bound)."""
    value = spec.get(key)
    if value is None or isinstance(value, str):
        return value
    raise rules.bad_request(f"{INTEGRATION}.{key} must be a string")
