"""API Gateway's rules for an HTTP API's parts, and the errors that state them.

Pure: each function checks what API Gateway checks for a route, an integration or a stage of
one :class:`Api` snapshot and builds the immutable model, or raises ``BadRequestException`` /
``ConflictException`` worded as API Gateway. The registry that stores and persists the result is
:class:`shoal.gateway.apis.ApiRegistry`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from shoal.errors import AwsError
from shoal.gateway import mappings
from shoal.gateway.models import DEFAULT_STAGE, Api, Integration, Route, Stage, new_id
from shoal.gateway.routes import METHODS, InvalidRouteKey, parse_route_key
from shoal.gateway.targets import BadFunctionUri, function_target

PAYLOAD_VERSIONS = ("1.0", "2.0")


def not_found(what: str, ident: str) -> AwsError:
    return AwsError(
        "NotFoundException", f"Invalid {what} identifier specified {ident}", ResourceType=what
    )


def bad_request(message: str) -> AwsError:
    return AwsError("BadRequestException", message)


def route(
    api: Api,
    route_id: str,
    route_key: str,
    target: str | None,
    *,
    managed: bool,
    extra: Mapping[str, Any],
) -> Route:
    """Route ``route_id`` of ``api``: a valid key no other route has, a target of this API."""
    if api.protocol_type == "WEBSOCKET":
        from shoal.gateway.websocket_rules import check_route

        check_route(route_key, extra)
    else:
        try:
            parse_route_key(route_key)
        except InvalidRouteKey as e:
            raise bad_request(str(e)) from None
    for other in api.routes.values():
        if other.route_key == route_key and other.route_id != route_id:
            raise AwsError(
                "ConflictException",
                f"Unable to create Route, Route with key {route_key} already exists for this API",
            )
    if target is not None:
        ident = target[len("integrations/") :] if target.startswith("integrations/") else None
        if ident is None or ident not in api.integrations:
            raise bad_request(
                f"Invalid Target specified: {target}. "
                "A target must be integrations/<integration id> of this API"
            )
    return Route(route_id, route_key, target, managed, dict(extra))


def function_uri(uri: str | None) -> str:
    """An AWS_PROXY integration's IntegrationUri, which must designate a Lambda function."""
    if not uri:
        raise bad_request("IntegrationUri is required for AWS_PROXY integrations")
    try:
        function_target(uri, "2.0")
    except BadFunctionUri as e:
        raise bad_request(str(e)) from None
    return uri


def http_uri(uri: str | None) -> str:
    """An HTTP_PROXY integration's IntegrationUri: an http(s) URL (stage variables allowed)."""
    if not uri:
        raise bad_request("IntegrationUri is required for HTTP_PROXY integrations")
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest[0] in "/?#":
        raise bad_request(f"Invalid HTTP endpoint specified for URI: {uri}")
    return uri


def integration(
    integration_id: str,
    integration_type: str,
    uri: str | None,
    payload_version: str | None,
    timeout_ms: int | None,
    *,
    managed: bool,
    extra: Mapping[str, Any],
    protocol: str = "HTTP",
) -> Integration:
    """An integration of an API of ``protocol`` (its ``ProtocolType``): for an HTTP API an
    AWS_PROXY one (a function, payload format 1.0 or 2.0) or an HTTP_PROXY one (an http(s) URL,
    payload format 1.0, an IntegrationMethod), 50 ms to 30 s; for a WebSocket API what
    :func:`shoal.gateway.websocket_rules.check_integration` admits."""
    if protocol == "WEBSOCKET":
        from shoal.gateway.websocket_rules import check_integration

        version, timeout = check_integration(integration_type, payload_version, timeout_ms, extra)
    else:
        version, timeout = _check_http(integration_type, payload_version, timeout_ms, extra)
    return Integration(
        integration_id,
        integration_type,
        http_uri(uri) if integration_type == "HTTP_PROXY" else function_uri(uri),
        version,
        timeout,
        managed,
        dict(extra),
    )


def _check_http(
    integration_type: str, payload_version: str | None, timeout_ms: int | None,
    extra: Mapping[str, Any],
) -> tuple[str, int]:
    """An HTTP API's integration: its payload format version and timeout, checked."""
    if integration_type not in ("AWS_PROXY", "HTTP_PROXY"):
        raise bad_request(
            f"Shoal supports AWS_PROXY and HTTP_PROXY integrations only, not {integration_type}"
        )
    if integration_type == "HTTP_PROXY":
        payload_version = payload_version or "1.0"
        if payload_version != "1.0":
            raise bad_request("PayloadFormatVersion must be 1.0 for HTTP_PROXY integrations")
        method = extra.get("IntegrationMethod")
        if not method:
            raise bad_request("IntegrationMethod is required for HTTP_PROXY integrations")
        if str(method).upper() not in METHODS:
            raise bad_request(f"Invalid IntegrationMethod specified: {method}")
        if extra.get("ConnectionType", "INTERNET") != "INTERNET":
            raise bad_request("Shoal supports ConnectionType INTERNET only")
        checked = mappings.check(extra)
        if checked is not None:
            raise bad_request(checked)
    if payload_version is None:
        raise bad_request(
            "PayloadFormatVersion is required for AWS_PROXY integrations of HTTP APIs (1.0 or 2.0)"
        )
    if payload_version not in PAYLOAD_VERSIONS:
        raise bad_request(f"Invalid PayloadFormatVersion {payload_version}: must be 1.0 or 2.0")
    timeout = 30000 if timeout_ms is None else timeout_ms
    if not 50 <= timeout <= 30000:
        raise bad_request("TimeoutInMillis must be between 50 and 30000 for HTTP APIs")
    return payload_version, timeout


def quick_create(api: Api, target: str, route_key: str) -> Api:
    """Quick create: an AWS_PROXY integration (2.0), a route to it, an auto-deployed
    ``$default`` stage; all marked as managed by API Gateway."""
    made = integration(new_id(7), "AWS_PROXY", target, "2.0", 30000, managed=True, extra={})
    api = dataclasses.replace(api, integrations={made.integration_id: made})
    to_it = route(
        api,
        new_id(7),
        route_key,
        f"integrations/{made.integration_id}",
        managed=True,
        extra={},
    )
    stage = Stage(DEFAULT_STAGE, auto_deploy=True, managed=True)
    return dataclasses.replace(api, routes={to_it.route_id: to_it}, stages={DEFAULT_STAGE: stage})


def check_deployment(api: Api, deployment_id: str | None) -> None:
    """A stage may name a deployment only if it is one of this API's."""
    if deployment_id is not None and deployment_id not in api.deployments:
        raise bad_request(f"Invalid deployment identifier specified {deployment_id}")


def check_new_stage(api: Api, stage_name: str, deployment_id: str | None) -> None:
    if stage_name in api.stages:
        raise AwsError("ConflictException", f"Stage {stage_name} already exists")
    if stage_name != DEFAULT_STAGE and not all(c.isalnum() or c in "-_" for c in stage_name):
        raise bad_request(f"Invalid stage name {stage_name}: use letters, digits, - and _")
    check_deployment(api, deployment_id)


def check_route_settings(extra: Mapping[str, Any]) -> None:
    """A stage's throttling limits (DefaultRouteSettings, RouteSettings) are not negative."""
    settings = [extra.get("DefaultRouteSettings") or {}]
    settings += list((extra.get("RouteSettings") or {}).values())
    for one in settings:
        for member in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
            value = (one or {}).get(member)
            if value is not None and value < 0:
                raise bad_request(f"{member} must be a non-negative number, not {value}")
