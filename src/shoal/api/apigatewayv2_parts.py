"""The rest of API Gateway v2's management of HTTP APIs: ``DeleteCorsConfiguration``,
``DeleteRouteRequestParameter``, ``DeleteRouteSettings``, ``DeleteAccessLogSettings``,
``UpdateDeployment``, and the service's error wording.

API Gateway v2's model has no ``ValidationException``: a request the model's constraints refuse
(a missing member, a value outside an enum, a body that is not JSON) is a
``BadRequestException`` there, so the codec's validation errors are reworded here for this
service alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from shoal.api.apigatewayv2 import _deployment
from shoal.api.apigatewayv2_scope import gateway_of
from shoal.api.dispatch import Call, apigatewayv2_api
from shoal.errors import AwsError
from shoal.gateway.models import now
from shoal.gateway.rules import not_found

# The codec's codes that this service says as BadRequestException.
_BAD_REQUEST = {"ValidationException", "SerializationException", "InvalidParameterValueException"}


@apigatewayv2_api.words_errors
def _as_api_gateway(error: AwsError) -> AwsError:
    if error.code in _BAD_REQUEST:
        return AwsError("BadRequestException", error.message)
    return error


@apigatewayv2_api.handles("DeleteCorsConfiguration")
async def delete_cors_configuration(call: Call) -> None:
    apis = gateway_of(call).apis
    api = apis.get(call.params["ApiId"])
    apis.replace(dataclasses.replace(api, cors=None))


@apigatewayv2_api.handles("DeleteRouteRequestParameter")
async def delete_route_request_parameter(call: Call) -> None:
    p = call.params
    apis = gateway_of(call).apis
    api = apis.get(p["ApiId"])
    route = apis.get_route(p["ApiId"], p["RouteId"])
    parameters = dict(route.extra.get("RequestParameters") or {})
    key = p["RequestParameterKey"]
    if key not in parameters:
        raise not_found("RequestParameter", key)
    del parameters[key]
    extra = {**route.extra, "RequestParameters": parameters}
    route = dataclasses.replace(route, extra=extra)
    apis.replace(dataclasses.replace(api, routes={**api.routes, route.route_id: route}))


def _change_stage(call: Call, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``change`` to a copy of the stage's kept members and save the stage."""
    p = call.params
    apis = gateway_of(call).apis
    api = apis.get(p["ApiId"])
    stage = apis.get_stage(p["ApiId"], p["StageName"])
    extra = dict(stage.extra)
    change(extra)
    stage = dataclasses.replace(stage, extra=extra, updated=now())
    apis.replace(dataclasses.replace(api, stages={**api.stages, stage.stage_name: stage}))


@apigatewayv2_api.handles("DeleteRouteSettings")
async def delete_route_settings(call: Call) -> None:
    route_key = call.params["RouteKey"]

    def change(extra: dict[str, Any]) -> None:
        settings = dict(extra.get("RouteSettings") or {})
        if route_key not in settings:
            raise not_found("RouteSettings", route_key)
        del settings[route_key]
        extra["RouteSettings"] = settings

    _change_stage(call, change)


@apigatewayv2_api.handles("DeleteAccessLogSettings")
async def delete_access_log_settings(call: Call) -> None:
    def change(extra: dict[str, Any]) -> None:
        extra.pop("AccessLogSettings", None)

    _change_stage(call, change)


@apigatewayv2_api.handles("UpdateDeployment")
async def update_deployment(call: Call) -> dict[str, Any]:
    p = call.params
    apis = gateway_of(call).apis
    api = apis.get(p["ApiId"])
    deployment = apis.get_deployment(p["ApiId"], p["DeploymentId"])
    if "Description" in p:
        deployment = dataclasses.replace(deployment, description=p["Description"])
        deployments = {**api.deployments, deployment.deployment_id: deployment}
        apis.replace(dataclasses.replace(api, deployments=deployments))
    return _deployment(deployment)
