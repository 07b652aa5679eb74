"""API Gateway v2 (HTTP APIs) handlers: wire members <-> :mod:`shoal.gateway` registry calls.

Members Shoal acts on are passed as arguments; every other member the client set is kept as
given (``extra``) and answered back. ``ApiEndpoint`` is where Shoal serves the API:
``{how the client reached Shoal}/execute-api/{apiId}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shoal.api.apigatewayv2_authorizers import check_route_members
from shoal.api.apigatewayv2_scope import gateway_of, page
from shoal.api.apigatewayv2_websocket import check_protocol
from shoal.api.dispatch import Call, apigatewayv2_api
from shoal.gateway.models import Api, Deployment, Integration, Route, Stage

HTTP_ROUTE_SELECTION = "${request.method} ${request.path}"
API_KEY_SELECTION = "$request.header.x-api-key"


def _extra(params: Mapping[str, Any], *handled: str) -> dict[str, Any]:
    skip = {"ApiId", "RouteId", "IntegrationId", "StageName", "DeploymentId", *handled}
    return {k: v for k, v in params.items() if k not in skip}


# ---------------------------------------------------------------------------------- APIs


def _api(api: Api, call: Call) -> dict[str, Any]:
    endpoint = gateway_of(call).api_endpoint(call.base_url, api.api_id)
    if api.protocol_type == "WEBSOCKET":
        endpoint = "ws" + endpoint[len("http") :]  # ws:// (wss:// under TLS), as wss:// on AWS
    return {
        "ApiKeySelectionExpression": API_KEY_SELECTION,
        "RouteSelectionExpression": HTTP_ROUTE_SELECTION,
        "IpAddressType": "ipv4",
        **api.extra,
        "ApiEndpoint": endpoint,
        "ApiId": api.api_id,
        "Name": api.name,
        "ProtocolType": api.protocol_type,
        "CreatedDate": api.created,
        "CorsConfiguration": api.cors,
        "DisableExecuteApiEndpoint": api.disable_execute_api_endpoint,
        "Tags": api.extra.get("Tags", {}),
    }


_API_ARGS = (
    "Name",
    "ProtocolType",
    "Target",
    "RouteKey",
    "CorsConfiguration",
    "DisableExecuteApiEndpoint",
    "CredentialsArn",
)


@apigatewayv2_api.prepares
def _in_region(call: Call) -> None:
    """An API is in the region it was made in: from another, it is not found."""
    api_id = call.params.get("ApiId")
    if isinstance(api_id, str):
        api = gateway_of(call).apis.get(api_id, call.region)
        check_protocol(call, api.protocol_type)  # what a WebSocket API has not
        check_route_members(call)  # a route's AuthorizationType and authorizer


@apigatewayv2_api.handles("CreateApi")
async def create_api(call: Call) -> dict[str, Any]:
    p = call.params
    api = gateway_of(call).apis.create(
        p["Name"],
        p["ProtocolType"],
        target=p.get("Target"),
        route_key=p.get("RouteKey"),
        region=call.region,
        cors=p.get("CorsConfiguration"),
        disable_execute_api_endpoint=bool(p.get("DisableExecuteApiEndpoint", False)),
        extra=_extra(p, *_API_ARGS),
    )
    return _api(api, call)


@apigatewayv2_api.handles("GetApi")
async def get_api(call: Call) -> dict[str, Any]:
    return _api(gateway_of(call).apis.get(call.params["ApiId"]), call)


@apigatewayv2_api.handles("GetApis")
async def get_apis(call: Call) -> dict[str, Any]:
    return page([_api(a, call) for a in gateway_of(call).apis.all(call.region)], call.params)


@apigatewayv2_api.handles("UpdateApi")
async def update_api(call: Call) -> dict[str, Any]:
    p = call.params
    api = gateway_of(call).apis.update(
        p["ApiId"],
        name=p.get("Name"),
        target=p.get("Target"),
        cors=p.get("CorsConfiguration"),
        disable_execute_api_endpoint=p.get("DisableExecuteApiEndpoint"),
        extra=_extra(p, *_API_ARGS),
    )
    return _api(api, call)


@apigatewayv2_api.handles("DeleteApi")
async def delete_api(call: Call) -> None:
    gateway_of(call).apis.delete(call.params["ApiId"])


# -------------------------------------------------------------------------------- routes


def _route(route: Route) -> dict[str, Any]:
    return {
        "ApiKeyRequired": False,
        "AuthorizationType": "NONE",
        **route.extra,
        "ApiGatewayManaged": route.managed,
        "RouteId": route.route_id,
        "RouteKey": route.route_key,
        "Target": route.target,
    }


@apigatewayv2_api.handles("CreateRoute")
async def create_route(call: Call) -> dict[str, Any]:
    p = call.params
    return _route(
        gateway_of(call).apis.create_route(
            p["ApiId"], p["RouteKey"], p.get("Target"), _extra(p, "RouteKey", "Target")
        )
    )


@apigatewayv2_api.handles("GetRoute")
async def get_route(call: Call) -> dict[str, Any]:
    return _route(gateway_of(call).apis.get_route(call.params["ApiId"], call.params["RouteId"]))


@apigatewayv2_api.handles("GetRoutes")
async def get_routes(call: Call) -> dict[str, Any]:
    routes = gateway_of(call).apis.get(call.params["ApiId"]).routes.values()
    return page([_route(r) for r in _sorted(routes, "route_key")], call.params)


@apigatewayv2_api.handles("UpdateRoute")
async def update_route(call: Call) -> dict[str, Any]:
    p = call.params
    return _route(
        gateway_of(call).apis.update_route(
            p["ApiId"],
            p["RouteId"],
            p.get("RouteKey"),
            p.get("Target"),
            _extra(p, "RouteKey", "Target"),
        )
    )


@apigatewayv2_api.handles("DeleteRoute")
async def delete_route(call: Call) -> None:
    gateway_of(call).apis.delete_route(call.params["ApiId"], call.params["RouteId"])


def _sorted(items: Iterable[Any], attr: str) -> list[Any]:
    return sorted(items, key=lambda item: getattr(item, attr))


# -------------------------------------------------------------------------- integrations


def _integration(integration: Integration) -> dict[str, Any]:
    return {
        "ConnectionType": "INTERNET",
        "IntegrationMethod": "POST",
        **integration.extra,
        "ApiGatewayManaged": integration.managed,
        "IntegrationId": integration.integration_id,
        "IntegrationType": integration.integration_type,
        "IntegrationUri": integration.integration_uri,
        "PayloadFormatVersion": integration.payload_format_version,
        "TimeoutInMillis": integration.timeout_ms,
    }


_INTEGRATION_ARGS = ("IntegrationType", "IntegrationUri", "PayloadFormatVersion", "TimeoutInMillis")


@apigatewayv2_api.handles("CreateIntegration")
async def create_integration(call: Call) -> dict[str, Any]:
    p = call.params
    return _integration(
        gateway_of(call).apis.create_integration(
            p["ApiId"],
            p["IntegrationType"],
            p.get("IntegrationUri"),
            p.get("PayloadFormatVersion"),
            p.get("TimeoutInMillis"),
            _extra(p, *_INTEGRATION_ARGS),
        )
    )


@apigatewayv2_api.handles("GetIntegration")
async def get_integration(call: Call) -> dict[str, Any]:
    p = call.params
    return _integration(gateway_of(call).apis.get_integration(p["ApiId"], p["IntegrationId"]))


@apigatewayv2_api.handles("GetIntegrations")
async def get_integrations(call: Call) -> dict[str, Any]:
    integrations = gateway_of(call).apis.get(call.params["ApiId"]).integrations.values()
    return page([_integration(i) for i in _sorted(integrations, "integration_id")], call.params)


@apigatewayv2_api.handles("UpdateIntegration")
async def update_integration(call: Call) -> dict[str, Any]:
    p = call.params
    return _integration(
        gateway_of(call).apis.update_integration(
            p["ApiId"], p["IntegrationId"], p, _extra(p, *_INTEGRATION_ARGS)
        )
    )


@apigatewayv2_api.handles("DeleteIntegration")
async def delete_integration(call: Call) -> None:
    gateway_of(call).apis.delete_integration(call.params["ApiId"], call.params["IntegrationId"])


# -------------------------------------------------------------------------------- stages


def _stage(stage: Stage) -> dict[str, Any]:
    return {
        "DefaultRouteSettings": {"DetailedMetricsEnabled": False},
        "RouteSettings": {},
        "Tags": {},
        **stage.extra,
        "ApiGatewayManaged": stage.managed,
        "AutoDeploy": stage.auto_deploy,
        "CreatedDate": stage.created,
        "LastUpdatedDate": stage.updated,
        "DeploymentId": stage.deployment_id,
        "StageName": stage.stage_name,
        "StageVariables": dict(stage.stage_variables),
    }


_STAGE_ARGS = ("AutoDeploy", "StageVariables")


@apigatewayv2_api.handles("CreateStage")
async def create_stage(call: Call) -> dict[str, Any]:
    p = call.params
    return _stage(
        gateway_of(call).apis.create_stage(
            p["ApiId"],
            p["StageName"],
            auto_deploy=bool(p.get("AutoDeploy", False)),
            stage_variables=p.get("StageVariables") or {},
            deployment_id=p.get("DeploymentId"),
            extra=_extra(p, *_STAGE_ARGS),
        )
    )


@apigatewayv2_api.handles("GetStage")
async def get_stage(call: Call) -> dict[str, Any]:
    return _stage(gateway_of(call).apis.get_stage(call.params["ApiId"], call.params["StageName"]))


@apigatewayv2_api.handles("GetStages")
async def get_stages(call: Call) -> dict[str, Any]:
    stages = gateway_of(call).apis.get(call.params["ApiId"]).stages.values()
    return page([_stage(s) for s in _sorted(stages, "stage_name")], call.params)


@apigatewayv2_api.handles("UpdateStage")
async def update_stage(call: Call) -> dict[str, Any]:
    p = call.params
    return _stage(
        gateway_of(call).apis.update_stage(
            p["ApiId"],
            p["StageName"],
            auto_deploy=p.get("AutoDeploy"),
            stage_variables=p.get("StageVariables"),
            deployment_id=p.get("DeploymentId"),
            extra=_extra(p, *_STAGE_ARGS),
        )
    )


@apigatewayv2_api.handles("DeleteStage")
async def delete_stage(call: Call) -> None:
    gateway_of(call).apis.delete_stage(call.params["ApiId"], call.params["StageName"])


# --------------------------------------------------------------------------- deployments


def _deployment(deployment: Deployment) -> dict[str, Any]:
    return {
        "AutoDeployed": deployment.auto_deployed,
        "CreatedDate": deployment.created,
        "DeploymentId": deployment.deployment_id,
        "DeploymentStatus": "DEPLOYED",
        "Description": deployment.description,
    }


@apigatewayv2_api.handles("CreateDeployment")
async def create_deployment(call: Call) -> dict[str, Any]:
    p = call.params
    apis = gateway_of(call).apis
    return _deployment(apis.create_deployment(p["ApiId"], p.get("StageName"), p.get("Description")))


@apigatewayv2_api.handles("GetDeployment")
async def get_deployment(call: Call) -> dict[str, Any]:
    p = call.params
    return _deployment(gateway_of(call).apis.get_deployment(p["ApiId"], p["DeploymentId"]))


@apigatewayv2_api.handles("GetDeployments")
async def get_deployments(call: Call) -> dict[str, Any]:
    deployments = gateway_of(call).apis.get(call.params["ApiId"]).deployments.values()
    return page([_deployment(d) for d in _sorted(deployments, "created")], call.params)


@apigatewayv2_api.handles("DeleteDeployment")
async def delete_deployment(call: Call) -> None:
    p = call.params
    gateway_of(call).apis.delete_deployment(p["ApiId"], p["DeploymentId"])
