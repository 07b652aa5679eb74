"""The HTTP API registry: APIs, routes, integrations, stages and deployments.

Owns the authoritative in-memory map ``api id -> Api`` (an immutable snapshot per API, replaced
on every change) and writes each changed API through to the store as one document (kind
``http_api``). Every method runs on the event loop without awaiting, so a change is atomic with
respect to requests. After each change ``on_change(api_id)`` is called so the gateway can
recompile that API's route table.

Errors are API Gateway's: ``NotFoundException``, ``BadRequestException``, ``ConflictException``.
What makes a route, an integration or a stage valid is :mod:`shoal.gateway.rules`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from shoal.errors import AwsError
from shoal.gateway import access_logs, rules, websocket_rules
from shoal.gateway.models import (
    DEFAULT_ROUTE,
    Api,
    Deployment,
    Integration,
    Route,
    Stage,
    new_id,
    now,
)
from shoal.gateway.rules import bad_request, not_found
from shoal.store.sqlite import Store

KIND = "http_api"


class ApiRegistry:
    def __init__(
        self, store: Store, account_id: str, default_region: str, on_change: Callable[[str], None]
    ) -> None:
        self._store = store
        self._account = account_id
        self._default_region = default_region  # an API saved before regions is there
        self._on_change = on_change
        self._apis: dict[str, Api] = {}

    def load(self) -> None:
        for api_id, doc in self._store.load(KIND).items():
            api = Api.from_doc(doc)
            self._apis[api_id] = api if api.region else replace(api, region=self._default_region)
            self._on_change(api_id)

    def _save(self, api: Api) -> Api:
        self.persist(api)  # first: a failed write changes nothing
        return self.publish(api)

    def persist(self, api: Api) -> None:
        """Write ``api`` to the store only (with :meth:`publish` after, for a caller that
        writes other documents in the same transaction: GatewayService.save_import)."""
        self._store.put(KIND, api.api_id, api.to_doc())

    def publish(self, api: Api) -> Api:
        self._apis[api.api_id] = api
        self._on_change(api.api_id)
        return api

    def replace(self, api: Api) -> Api:
        """Save ``api`` whole (it must exist): for the modules that change an API as one
        document, its tags (shoal.gateway.tagging) or an OpenAPI import (shoal.gateway.openapi)."""
        self.get(api.api_id)
        return self._save(api)

    # ------------------------------------------------------------------------------ APIs

    def exists(self, api_id: str) -> bool:
        return api_id in self._apis

    def get(self, api_id: str, region: str | None = None) -> Api:
        """The API (in ``region``, when given: another region's is not found)."""
        api = self._apis.get(api_id)
        if api is None or (region is not None and api.region != region):
            raise not_found("API", f"{self._account}:{api_id}")
        return api

    def all(self, region: str) -> list[Api]:
        return sorted(
            (a for a in self._apis.values() if a.region == region),
            key=lambda a: (a.created, a.api_id),
        )

    def create(
        self,
        name: str,
        protocol_type: str,
        *,
        region: str | None = None,  # the server's default region when not given
        target: str | None = None,
        route_key: str | None = None,
        cors: Mapping[str, Any] | None = None,
        disable_execute_api_endpoint: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> Api:
        if protocol_type == websocket_rules.PROTOCOL:
            websocket_rules.check_api(
                {"CorsConfiguration": cors, "Target": target, "RouteKey": route_key,
                 "RouteSelectionExpression": (extra or {}).get("RouteSelectionExpression")}
            )  # fmt: skip
        elif protocol_type != "HTTP":
            raise bad_request(f"Invalid protocol type specified: {protocol_type}")
        if route_key is not None and target is None:
            raise bad_request("RouteKey is a quick create property and requires Target")
        api_id = new_id()
        while api_id in self._apis:
            api_id = new_id()
        api = Api(
            api_id,
            name,
            protocol_type,
            cors=cors,
            extra=dict(extra or {}),
            disable_execute_api_endpoint=disable_execute_api_endpoint,
            region=region or self._default_region,
        )
        if target is not None:
            api = rules.quick_create(api, target, route_key or DEFAULT_ROUTE)
        return self._save(api)

    def update(
        self,
        api_id: str,
        *,
        name: str | None = None,
        target: str | None = None,
        cors: Mapping[str, Any] | None = None,
        disable_execute_api_endpoint: bool | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Api:
        api = self.get(api_id)
        if api.protocol_type == websocket_rules.PROTOCOL:
            websocket_rules.check_api({"CorsConfiguration": cors, "Target": target,
                                       **(extra or {})})  # fmt: skip
        changes: dict[str, Any] = {"extra": {**api.extra, **(extra or {})}}
        if name is not None:
            changes["name"] = name
        if cors is not None:
            changes["cors"] = cors
        if disable_execute_api_endpoint is not None:
            changes["disable_execute_api_endpoint"] = disable_execute_api_endpoint
        if target is not None:
            # Quick-create update: re-point the managed integration.
            managed = [i for i in api.integrations.values() if i.managed]
            if not managed:
                raise bad_request("Target can only be updated on an API made by quick create")
            new = dataclasses.replace(managed[0], integration_uri=rules.function_uri(target))
            changes["integrations"] = {**api.integrations, new.integration_id: new}
        return self._save(dataclasses.replace(api, **changes))

    def delete(self, api_id: str) -> None:
        self.get(api_id)
        self._store.delete(KIND, api_id)
        del self._apis[api_id]
        self._on_change(api_id)

    # ---------------------------------------------------------------------------- routes

    def create_route(
        self, api_id: str, route_key: str, target: str | None, extra: Mapping[str, Any]
    ) -> Route:
        api = self.get(api_id)
        route = rules.route(api, new_id(7), route_key, target, managed=False, extra=extra)
        self._save(dataclasses.replace(api, routes={**api.routes, route.route_id: route}))
        return route

    def get_route(self, api_id: str, route_id: str) -> Route:
        route = self.get(api_id).routes.get(route_id)
        if route is None:
            raise not_found("Route", route_id)
        return route

    def update_route(
        self,
        api_id: str,
        route_id: str,
        route_key: str | None,
        target: str | None,
        extra: Mapping[str, Any],
    ) -> Route:
        api = self.get(api_id)
        old = self.get_route(api_id, route_id)
        if route_key is not None and old.managed and route_key != old.route_key:
            raise bad_request("The route key of a route made by quick create can't be changed")
        route = rules.route(
            api,
            route_id,
            route_key or old.route_key,
            target if target is not None else old.target,
            managed=old.managed,
            extra={**old.extra, **extra},
        )
        self._save(dataclasses.replace(api, routes={**api.routes, route_id: route}))
        return route

    def delete_route(self, api_id: str, route_id: str) -> None:
        api = self.get(api_id)
        self.get_route(api_id, route_id)
        routes = {k: v for k, v in api.routes.items() if k != route_id}
        self._save(dataclasses.replace(api, routes=routes))

    # ---------------------------------------------------------------------- integrations

    def create_integration(
        self,
        api_id: str,
        integration_type: str,
        uri: str | None,
        payload_version: str | None,
        timeout_ms: int | None,
        extra: Mapping[str, Any],
    ) -> Integration:
        api = self.get(api_id)
        integration = rules.integration(
            new_id(7), integration_type, uri, payload_version, timeout_ms,
            managed=False, extra=extra, protocol=api.protocol_type,
        )  # fmt: skip
        integrations = {**api.integrations, integration.integration_id: integration}
        self._save(dataclasses.replace(api, integrations=integrations))
        return integration

    def get_integration(self, api_id: str, integration_id: str) -> Integration:
        integration = self.get(api_id).integrations.get(integration_id)
        if integration is None:
            raise not_found("Integration", integration_id)
        return integration

    def update_integration(
        self, api_id: str, integration_id: str, fields: Mapping[str, Any], extra: Mapping[str, Any]
    ) -> Integration:
        api = self.get(api_id)
        old = self.get_integration(api_id, integration_id)
        integration = rules.integration(
            integration_id,
            fields.get("IntegrationType") or old.integration_type,
            fields.get("IntegrationUri") or old.integration_uri,
            fields.get("PayloadFormatVersion") or old.payload_format_version,
            fields.get("TimeoutInMillis") or old.timeout_ms,
            managed=old.managed,
            extra={**old.extra, **extra},
            protocol=api.protocol_type,
        )
        self._save(
            dataclasses.replace(api, integrations={**api.integrations, integration_id: integration})
        )
        return integration

    def delete_integration(self, api_id: str, integration_id: str) -> None:
        api = self.get(api_id)
        self.get_integration(api_id, integration_id)
        users = [r.route_key for r in api.routes.values() if r.integration_id == integration_id]
        if users:
            raise AwsError(
                "ConflictException",
                f"Integration {integration_id} is the target of routes "
                f"{', '.join(users)}; change or delete them first",
            )
        integrations = {k: v for k, v in api.integrations.items() if k != integration_id}
        self._save(dataclasses.replace(api, integrations=integrations))

    # ---------------------------------------------------------------------------- stages

    def create_stage(
        self,
        api_id: str,
        stage_name: str,
        *,
        auto_deploy: bool,
        stage_variables: Mapping[str, str],
        deployment_id: str | None,
        extra: Mapping[str, Any],
    ) -> Stage:
        api = self.get(api_id)
        rules.check_new_stage(api, stage_name, deployment_id)
        rules.check_route_settings(extra)
        access_logs.check(extra.get("AccessLogSettings"), api.region, self._account)
        stage = Stage(
            stage_name, auto_deploy, dict(stage_variables), deployment_id, extra=dict(extra)
        )
        self._save(dataclasses.replace(api, stages={**api.stages, stage_name: stage}))
        return stage

    def get_stage(self, api_id: str, stage_name: str) -> Stage:
        stage = self.get(api_id).stages.get(stage_name)
        if stage is None:
            raise not_found("Stage", stage_name)
        return stage

    def update_stage(
        self,
        api_id: str,
        stage_name: str,
        *,
        auto_deploy: bool | None,
        stage_variables: Mapping[str, str] | None,
        deployment_id: str | None,
        extra: Mapping[str, Any],
    ) -> Stage:
        api = self.get(api_id)
        old = self.get_stage(api_id, stage_name)
        rules.check_deployment(api, deployment_id)
        rules.check_route_settings(extra)
        access_logs.check(extra.get("AccessLogSettings"), api.region, self._account)
        stage = dataclasses.replace(
            old,
            auto_deploy=old.auto_deploy if auto_deploy is None else auto_deploy,
            stage_variables=old.stage_variables
            if stage_variables is None
            else dict(stage_variables),
            deployment_id=deployment_id or old.deployment_id,
            updated=now(),
            extra={**old.extra, **extra},
        )
        self._save(dataclasses.replace(api, stages={**api.stages, stage_name: stage}))
        return stage

    def delete_stage(self, api_id: str, stage_name: str) -> None:
        api = self.get(api_id)
        self.get_stage(api_id, stage_name)
        stages = {k: v for k, v in api.stages.items() if k != stage_name}
        self._save(dataclasses.replace(api, stages=stages))

    # ----------------------------------------------------------------------- deployments

    def create_deployment(
        self, api_id: str, stage_name: str | None, description: str | None
    ) -> Deployment:
        """A record only: Shoal always serves an API's current routes (see the gateway)."""
        api = self.get(api_id)
        deployment = Deployment(new_id(6), description=description)
        stages = dict(api.stages)
        if stage_name is not None:
            stage = self.get_stage(api_id, stage_name)
            stages[stage_name] = dataclasses.replace(
                stage, deployment_id=deployment.deployment_id, updated=now()
            )
        self._save(
            dataclasses.replace(
                api,
                stages=stages,
                deployments={**api.deployments, deployment.deployment_id: deployment},
            )
        )
        return deployment

    def get_deployment(self, api_id: str, deployment_id: str) -> Deployment:
        deployment = self.get(api_id).deployments.get(deployment_id)
        if deployment is None:
            raise not_found("Deployment", deployment_id)
        return deployment

    def delete_deployment(self, api_id: str, deployment_id: str) -> None:
        api = self.get(api_id)
        self.get_deployment(api_id, deployment_id)
        deployments = {k: v for k, v in api.deployments.items() if k != deployment_id}
        self._save(dataclasses.replace(api, deployments=deployments))

