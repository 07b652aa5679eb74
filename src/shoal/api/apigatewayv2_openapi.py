"""API Gateway v2's OpenAPI operations: ``ImportApi``, ``ReimportApi`` and ``ExportApi``.

The document logic is :mod:`shoal.gateway.openapi` (import) and
:mod:`shoal.gateway.openapi_export` (export); this module reads the wire members, saves what an
import builds (one write: an import that fails changes nothing) and answers as API Gateway:
the imported API, with ``Warnings`` when the document had parts HTTP APIs do not take. An
import's API and authorizers are saved together (:meth:`GatewayService.save_import`).
"""

from __future__ import annotations

from typing import Any

from shoal.api.apigatewayv2 import _api
from shoal.api.apigatewayv2_scope import gateway_of
from shoal.api.dispatch import Call, apigatewayv2_api
from shoal.gateway import openapi, openapi_export
from shoal.gateway.models import Api, new_id
from shoal.gateway.rules import bad_request


def _answer(api: Api, warnings: list[str], call: Call) -> dict[str, Any]:
    out = _api(api, call)
    if warnings:
        out["Warnings"] = warnings
    return out


@apigatewayv2_api.handles("ImportApi")
async def import_api(call: Call) -> dict[str, Any]:
    p = call.params
    definition = openapi.parse(p["Body"], p.get("Basepath"))
    blank = Api(new_id(), definition.name, "HTTP", region=call.region)  # save_import(): unique
    fail = bool(p.get("FailOnWarnings", False))
    api, authorizers, warnings = openapi.build(blank, definition, fail)
    return _answer(gateway_of(call).save_import(api, authorizers, new=True), warnings, call)


@apigatewayv2_api.handles("ReimportApi")
async def reimport_api(call: Call) -> dict[str, Any]:
    """The document replaces the API's routes, integrations, authorizers, name and CORS; its
    id, stages, deployments and tags stay."""
    p = call.params
    definition = openapi.parse(p["Body"], p.get("Basepath"))
    current = gateway_of(call).apis.get(p["ApiId"])
    if any(r.managed for r in current.routes.values()):
        raise bad_request("An API made by quick create can't be reimported")
    fail = bool(p.get("FailOnWarnings", False))
    api, authorizers, warnings = openapi.build(current, definition, fail)
    return _answer(gateway_of(call).save_import(api, authorizers, new=False), warnings, call)


@apigatewayv2_api.handles("ExportApi")
async def export_api(call: Call) -> dict[str, Any]:
    p = call.params
    gateway = gateway_of(call)
    api = gateway.apis.get(p["ApiId"])
    version = p.get("ExportVersion")
    if version is not None and version != openapi_export.EXPORT_VERSION:
        raise bad_request(f"Invalid ExportVersion {version}: the only version is 1.0")
    stage = p.get("StageName")
    if stage is not None:
        gateway.apis.get_stage(api.api_id, stage)
    doc = openapi_export.document(
        api,
        gateway.api_endpoint(call.base_url, api.api_id),
        stage,
        include_extensions=p.get("IncludeExtensions", True) is not False,
        authorizers=gateway.authorizers.of(api.api_id),
    )
    return {"body": openapi_export.render(doc, p["OutputType"])}
