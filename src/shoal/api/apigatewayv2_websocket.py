"""API Gateway v2's route responses of WebSocket APIs: ``CreateRouteResponse``,
``GetRouteResponse``, ``GetRouteResponses``, ``UpdateRouteResponse``, ``DeleteRouteResponse``
(:mod:`shoal.gateway.route_responses`). An HTTP API has none: ``BadRequestException``.

:func:`check_protocol` refuses what only HTTP APIs have to a WebSocket API (OpenAPI export and
reimport), called from the service's per-call preparation."""

from __future__ import annotations

from typing import Any

from shoal.api.apigatewayv2_scope import gateway_of, page
from shoal.api.dispatch import Call, apigatewayv2_api
from shoal.gateway.rules import bad_request

_HTTP_ONLY = ("ExportApi", "ReimportApi")


def check_protocol(call: Call, protocol_type: str) -> None:
    if protocol_type == "WEBSOCKET" and call.operation in _HTTP_ONLY:
        raise bad_request(f"{call.operation} is supported only for HTTP APIs")


def _api_and_route(call: Call) -> tuple[Any, Any, str]:
    gateway = gateway_of(call)
    return gateway, gateway.apis.get(call.params["ApiId"]), call.params["RouteId"]


@apigatewayv2_api.handles("CreateRouteResponse")
async def create_route_response(call: Call) -> dict[str, Any]:
    gateway, api, route_id = _api_and_route(call)
    return gateway.route_responses.put(api, route_id, None, call.params)  # type: ignore[no-any-return]


@apigatewayv2_api.handles("GetRouteResponse")
async def get_route_response(call: Call) -> dict[str, Any]:
    gateway, api, route_id = _api_and_route(call)
    return gateway.route_responses.get(api, route_id, call.params["RouteResponseId"])  # type: ignore[no-any-return]


@apigatewayv2_api.handles("GetRouteResponses")
async def get_route_responses(call: Call) -> dict[str, Any]:
    gateway, api, route_id = _api_and_route(call)
    items = sorted(gateway.route_responses.of(api, route_id).values(),
                   key=lambda r: r["RouteResponseKey"])  # fmt: skip
    return page(items, call.params)


@apigatewayv2_api.handles("UpdateRouteResponse")
async def update_route_response(call: Call) -> dict[str, Any]:
    gateway, api, route_id = _api_and_route(call)
    return gateway.route_responses.put(  # type: ignore[no-any-return]
        api, route_id, call.params["RouteResponseId"], call.params
    )


@apigatewayv2_api.handles("DeleteRouteResponse")
async def delete_route_response(call: Call) -> None:
    gateway, api, route_id = _api_and_route(call)
    gateway.route_responses.delete(api, route_id, call.params["RouteResponseId"])
