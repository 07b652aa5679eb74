"""OpenAPI 3.0 export of HTTP APIs, as API Gateway's ``ExportApi`` writes it.

The document has what an export from API Gateway has: ``info`` (title, version: the API's
``Version`` or its creation time as ``2024-02-02 14:22:44UTC``), ``servers`` (the API's endpoint
with a ``basePath`` variable whose default is the exported stage), one operation per route with
a default response ("Default response for GET /items") and its path parameters ("Generated path
parameter for id"), and, with extensions, each route's ``x-amazon-apigateway-integration``, the
root's ``x-amazon-apigateway-cors`` and ``x-amazon-apigateway-importexport-version``; the
API's authorizers as ``components.securitySchemes`` and each protected route's ``security``
(:mod:`shoal.gateway.openapi_auth`; without extensions, the schemes without API Gateway's
members). What :mod:`shoal.gateway.openapi` imports, this exports, so a document round-trips.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from shoal.gateway import openapi_auth
from shoal.gateway.authorizers import Authorizer
from shoal.gateway.models import DEFAULT_ROUTE, DEFAULT_STAGE, Api, Integration, Route
from shoal.gateway.openapi import ANY_METHOD, CORS, CORS_MEMBERS, IMPORT_EXPORT_VERSION, INTEGRATION
from shoal.gateway.rules import bad_request
from shoal.gateway.targets import BadFunctionUri, parse_function_uri

EXPORT_VERSION = "1.0"
_PARAM = re.compile(r"\{([^}+]+)\+?\}")
_INVOCATIONS = "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"


def document(
    api: Api,
    endpoint: str,
    stage_name: str | None,
    include_extensions: bool,
    authorizers: Mapping[str, Authorizer] | None = None,
) -> dict[str, Any]:
    version = api.extra.get("Version") or api.created.strftime("%Y-%m-%d %H:%M:%SUTC")
    info: dict[str, Any] = {"title": api.name, "version": str(version)}
    if api.extra.get("Description"):
        info["description"] = api.extra["Description"]
    base = "" if stage_name in (None, DEFAULT_STAGE) else stage_name
    doc: dict[str, Any] = {
        "openapi": "3.0.1",
        "info": info,
        "servers": [{"url": endpoint + "/{basePath}",
                     "variables": {"basePath": {"default": base}}}],  # fmt: skip
        "paths": _paths(api, include_extensions, authorizers or {}),
    }
    iam = any(r.extra.get("AuthorizationType") == "AWS_IAM" for r in api.routes.values())
    schemes = openapi_auth.export_schemes(authorizers or {}, iam)
    if schemes:
        if not include_extensions:
            schemes = {
                name: {k: v for k, v in spec.items() if not k.startswith("x-amazon-apigateway")}
                for name, spec in schemes.items()
            }
        doc["components"] = {"securitySchemes": schemes}
    if include_extensions:
        if api.cors:
            names = {v: k for k, v in CORS_MEMBERS.items()}
            doc[CORS] = {names[k]: v for k, v in api.cors.items() if k in names}
        doc[IMPORT_EXPORT_VERSION] = EXPORT_VERSION
    return doc


def _paths(
    api: Api, include_extensions: bool, authorizers: Mapping[str, Authorizer]
) -> dict[str, Any]:
    schemes = openapi_auth.scheme_names(authorizers)
    paths: dict[str, Any] = {}
    for route in sorted(api.routes.values(), key=lambda r: r.route_key):
        if route.route_key == DEFAULT_ROUTE:
            method, path = ANY_METHOD, "/$default"
        else:
            verb, _, path = route.route_key.partition(" ")
            method = ANY_METHOD if verb == "ANY" else verb.lower()
        item = paths.setdefault(path, {})
        op: dict[str, Any] = {
            "responses": {"default": {"description": f"Default response for {route.route_key}"}}
        }
        security = openapi_auth.operation_security(route.extra, schemes)
        if security is not None:
            op["security"] = security
        integration = _integration_of(api, route)
        if include_extensions and integration is not None:
            op[INTEGRATION] = _integration(api, integration)
        item[method] = op
        names = _PARAM.findall(path)
        if names and "parameters" not in item:
            item["parameters"] = [
                {"name": name, "in": "path", "description": f"Generated path parameter for {name}",
                 "required": True, "schema": {"type": "string"}}  # fmt: skip
                for name in names
            ]
    return paths


def _integration_of(api: Api, route: Route) -> Integration | None:
    ident = route.integration_id
    return api.integrations.get(ident) if ident else None


def _integration(api: Api, integration: Integration) -> dict[str, Any]:
    out: dict[str, Any] = {
        "payloadFormatVersion": integration.payload_format_version,
        "type": integration.integration_type.lower(),
        "httpMethod": str(integration.extra.get("IntegrationMethod") or "POST"),
        "uri": _uri(api, integration.integration_uri),
        "connectionType": str(integration.extra.get("ConnectionType") or "INTERNET"),
    }
    if integration.timeout_ms != 30000:
        out["timeoutInMillis"] = integration.timeout_ms
    for member, key in (("RequestParameters", "requestParameters"),
                        ("ResponseParameters", "responseParameters")):  # fmt: skip
        if integration.extra.get(member):
            out[key] = integration.extra[member]
    if integration.extra.get("CredentialsArn"):
        out["credentials"] = integration.extra["CredentialsArn"]
    return out


def _uri(api: Api, uri: str) -> str:
    """A Lambda integration's URI as API Gateway exports it: the function's invocations ARN."""
    if uri.startswith("arn:aws:apigateway:"):
        return uri
    try:
        parse_function_uri(uri)
    except BadFunctionUri:
        return uri
    if not uri.startswith("arn:"):
        return uri  # a bare name: kept as given, the importer reads it back the same
    return _INVOCATIONS.format(region=uri.split(":")[3] or api.region, arn=uri)


def render(doc: Mapping[str, Any], output_type: str) -> bytes:
    if output_type == "JSON":
        return json.dumps(doc, indent=2).encode()
    if output_type == "YAML":
        text: str = yaml.safe_dump(dict(doc), sort_keys=False, allow_unicode=True)
        return text.encode()
    raise bad_request(f"Invalid OutputType {output_type}: use JSON or YAML")
