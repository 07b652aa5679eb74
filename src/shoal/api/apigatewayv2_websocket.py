"""API Gateway v2's route responses and integration responses of WebSocket APIs
(``Create/Get/Update/Delete RouteResponse``, ``GetRouteResponses`` and the same for
integration responses: :mod:`shoal.gateway.ws_responses`). An HTTP API has neither:
``BadRequestException``.

:func:`check_protocol` refuses what only HTTP APIs have to a WebSocket API (OpenAPI export and
reimport), called from the service's per-call preparation."""

from __future__ import annotations

from typing import Any

from shoal.api.apigatewayv2_scope import gateway_of, page
from shoal.api.dispatch import Call, apigatewayv2_api
from shoal.gateway.rules import bad_request
from shoal.gateway.ws_responses import ResponseRegistry

_HTTP_ONLY = ("ExportApi", "ReimportApi")


def check_protocol(call: Call, protocol_type: str) -> None:
    if protocol_type == "WEBSOCKET" and call.operation in _HTTP_ONLY:
        raise bad_request(f"{call.operation} is supported only for HTTP APIs")


def _registry(call: Call, parent: str) -> tuple[ResponseRegistry, Any, str]:
    """(the registry, the API, the route or integration id) of a call on ``parent``'s."""
    gateway = gateway_of(call)
    registry: ResponseRegistry = (
        gateway.route_responses if parent == "Route" else gateway.integration_responses
    )
    return registry, gateway.apis.get(call.params["ApiId"]), call.params[f"{parent}Id"]


def _handlers(parent: str) -> None:
    noun = f"{parent}Response"
    response_id = f"{noun}Id"

    async def create(call: Call) -> dict[str, Any]:
        registry, api, parent_id = _registry(call, parent)
        return registry.put(api, parent_id, None, call.params)

    async def get(call: Call) -> dict[str, Any]:
        registry, api, parent_id = _registry(call, parent)
        return registry.get(api, parent_id, call.params[response_id])

    async def get_all(call: Call) -> dict[str, Any]:
        registry, api, parent_id = _registry(call, parent)
        items = sorted(registry.of(api, parent_id).values(), key=lambda r: r[f"{noun}Key"])
        return page(items, call.params)

    async def update(call: Call) -> dict[str, Any]:
        registry, api, parent_id = _registry(call, parent)
        return registry.put(api, parent_id, call.params[response_id], call.params)

    async def delete(call: Call) -> None:
        registry, api, parent_id = _registry(call, parent)
        registry.delete(api, parent_id, call.params[response_id])

    apigatewayv2_api.handles(f"Create{noun}")(create)
    apigatewayv2_api.handles(f"Get{noun}")(get)
    apigatewayv2_api.handles(f"Get{noun}s")(get_all)
    apigatewayv2_api.handles(f"Update{noun}")(update)
    apigatewayv2_api.handles(f"Delete{noun}")(delete)


_handlers("Route")
_handlers("Integration")
