"""The HTTP gateway component (``shoal.gateway``): HTTP and WebSocket APIs, function URLs.

Holds the two registries (control plane, written through to the store) and the compiled
:class:`~shoal.gateway.live.LiveApi` per API (data plane), and mounts the data-plane ASGI apps
on Shoal's HTTP server: ``/execute-api/`` and ``/lambda-url/`` (see :mod:`shoal.gateway.http`
for the URL scheme), WebSocket connections (:mod:`shoal.gateway.websocket`) and their
``@connections`` API (:mod:`shoal.gateway.connections_api`). Everything runs on the event
loop; the registries call back here after each change, so the data plane always serves the
current routes (deployments are records only: every stage serves the API as it is now, as an
auto-deployed stage does).

An ``AWS_PROXY`` integration invokes its function as the gateway itself, without the
resource-based permission AWS requires: on AWS an HTTP API may invoke a Lambda function only
when the function's policy allows ``apigateway.amazonaws.com`` ``lambda:InvokeFunction`` (the
console adds that statement; the CLI, SDKs and Terraform must ``add-permission`` it) or the
integration has a ``CredentialsArn`` role, and answers 500 ``Internal Server Error`` otherwise.
Shoal deliberately does not require it, so that the seed's set-up (which adds none) and every
deployment tool's work alike; the permission, when a tool writes it, is kept and shown
(:mod:`shoal.functions.permissions`). Only the API's owner can create an integration, and the
API's callers gain nothing beyond invoking the function the owner routed them to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError
from shoal.gateway.access_logs import AccessLogs
from shoal.gateway.apis import ApiRegistry
from shoal.gateway.authorizers import Authorizer, AuthorizerRegistry
from shoal.gateway.certificates import Certificates
from shoal.gateway.connections import ConnectionRegistry
from shoal.gateway.connections_api import CONNECTIONS, ConnectionsApi
from shoal.gateway.domain_routing import DomainRoutes
from shoal.gateway.domains import DomainRegistry
from shoal.gateway.host_routing import EXECUTE_API_PREFIX, LAMBDA_URL_PREFIX
from shoal.gateway.http import ExecuteApiApp, FunctionUrlApp
from shoal.gateway.jwt_auth import JwksCache
from shoal.gateway.lambda_auth import LambdaAuthorizers
from shoal.gateway.live import LiveApi, compile_api
from shoal.gateway.models import Api
from shoal.gateway.urls import UrlRegistry
from shoal.gateway.websocket import WebSocketApp
from shoal.gateway.websocket_live import LiveWebSocketApi, compile_websocket
from shoal.gateway.ws_responses import INTEGRATION_RESPONSES, ROUTE_RESPONSES, ResponseRegistry

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.gateway")


class GatewayService:
    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.account_id = shoal.settings.account_id
        self.region = shoal.settings.region  # the default: APIs and URLs carry their own
        # api id -> compiled snapshot; replaced whole on each change, read by every request.
        self.live: dict[str, LiveApi] = {}
        # (function, qualifier) -> timeout in seconds; cleared whenever any function changes.
        self._timeouts: dict[tuple[str, str | None], float] = {}
        self._cache_timeouts = False
        self.apis = ApiRegistry(shoal.store, self.account_id, self.region, self._api_changed)
        self.urls = UrlRegistry(shoal.store)
        # Authorizers (control plane) and what runs them (data plane): route_auth.
        self.authorizers = AuthorizerRegistry(shoal.store)
        self.jwks = JwksCache()
        self.lambda_authorizers = LambdaAuthorizers(self)
        # Custom domain names (control plane), their host map and certificates (data plane).
        self.certificates = Certificates(shoal.settings.data_dir / "certificates", self.account_id)
        self.domain_routes = DomainRoutes()
        self.domains = DomainRegistry(
            shoal.store, self._own_names, self._check_api_stage, self._domains_changed
        )
        shoal.http.domain_routes = self.domain_routes
        # Stages' access logs, written into CloudWatch Logs groups (off the request's path).
        self.access_logs = AccessLogs(getattr(shoal, "logs", None))
        # WebSocket APIs: api id -> compiled snapshot (as `live`), and the open connections.
        self.live_ws: dict[str, LiveWebSocketApi] = {}
        self.connections = ConnectionRegistry()
        self.route_responses = ResponseRegistry(shoal.store, ROUTE_RESPONSES)
        self.integration_responses = ResponseRegistry(shoal.store, INTEGRATION_RESPONSES)
        self.connections_api = ConnectionsApi(self)
        settings = shoal.settings
        self.websocket = WebSocketApp(
            self, settings.websocket_idle_timeout_s, settings.websocket_max_duration_s
        )
        shoal.http.mount(EXECUTE_API_PREFIX, ExecuteApiApp(self))
        shoal.http.mount(CONNECTIONS, self.connections_api)
        shoal.http.mount(LAMBDA_URL_PREFIX, FunctionUrlApp(self))

    @property
    def invoker(self) -> Any:
        return self.shoal.invoker

    async def start(self) -> None:
        self.authorizers.load()
        self.route_responses.load()
        self.integration_responses.load()
        self.apis.load()
        self.urls.load()
        # Where the operator puts custom domains' certificate files (gateway.certificates).
        self.certificates.directory.mkdir(mode=0o700, exist_ok=True)
        self.domains.load()
        functions = getattr(self.shoal, "functions", None)
        subscribe = getattr(functions, "subscribe", None)
        if subscribe is not None:
            subscribe(self._function_changed)
            self._cache_timeouts = True

    async def stop(self) -> None:
        pass

    def _api_changed(self, api_id: str) -> None:
        try:
            api = self.apis.get(api_id)
        except AwsError:
            self.live.pop(api_id, None)
            self.live_ws.pop(api_id, None)
            self.route_responses.forget(api_id)
            self.integration_responses.forget(api_id)
            self.authorizers.forget(api_id)
            self.lambda_authorizers.forget(api_id)
            if hasattr(self, "domains"):  # not while loading: deleted APIs' mappings went then
                self.domains.forget_api(api_id)
            for connection in self.connections.of_api(api_id):
                connection.request_close(1001, "Going away")  # its API is gone
            return
        if api.protocol_type == "WEBSOCKET":
            self.live_ws[api_id] = compile_websocket(api, self.account_id)
            for connection in self.connections.of_api(api_id):
                if connection.stage not in api.stages:
                    connection.request_close(1001, "Going away")  # its stage is gone
            return
        self.live[api_id] = compile_api(api, self.account_id)

    def _domains_changed(self) -> None:
        domains = self.domains.all_domains()
        self.domain_routes.publish(domains, self._own_names())
        self.certificates.publish((d.name, d.certificate_id) for d in domains)

    def _own_names(self) -> set[str]:
        """The host names Shoal answers to itself, which no custom domain may take."""
        settings = self.shoal.settings
        names = {"127.0.0.1", "localhost", "::1", settings.host.lower()}
        names.update(h.rsplit(":", 1)[0].strip("[]").lower() for h in settings.allowed_hosts)
        return names

    def _check_api_stage(self, api_id: str, stage: str, region: str) -> None:
        """NotFoundException unless ``api_id`` is an API of ``region`` with ``stage``; a
        WebSocket API's is a BadRequestException (domains serve HTTP APIs, see the README)."""
        api = self.apis.get(api_id, region)
        self.apis.get_stage(api_id, stage)
        if api.protocol_type != "HTTP":
            raise AwsError("BadRequestException",
                           "Shoal serves custom domain names for HTTP APIs only")  # fmt: skip

    def _function_changed(self, function_arn: str) -> None:
        """A function changed: forget cached timeouts; if it or an alias went away, its URLs
        go with it, as on AWS."""
        self._timeouts.clear()
        functions = self.shoal.functions
        for url in self.urls.list(function_arn):
            try:
                functions.resolve(function_arn, url.qualifier)
            except AwsError as e:
                if e.code != "ResourceNotFoundException":
                    raise
                log.info(
                    "deleting function URL of %s:%s (function gone)",
                    function_arn,
                    url.qualifier or "$LATEST",
                )
                self.urls.delete(function_arn, url.qualifier)

    def function_timeout(self, function_name: str, qualifier: str | None) -> float:
        """The function's timeout in seconds (in-memory; an unknown function is left for the
        invoker to refuse, so this answers 0)."""
        key = (function_name, qualifier)
        cached = self._timeouts.get(key)
        if cached is not None:
            return cached
        try:
            timeout = float(self.shoal.functions.resolve(function_name, qualifier).timeout)
        except AwsError:
            return 0.0
        if self._cache_timeouts:
            self._timeouts[key] = timeout
        return timeout

    # -------------------------------------------------------------------- for the API layer

    def save_import(self, api: Api, authorizers: Mapping[str, Authorizer], *, new: bool) -> Api:
        """An OpenAPI import's API and its authorizers (in place of the API's own), written in
        one transaction, then published: a failed write changes neither."""
        if new and self.apis.exists(api.api_id):
            raise AwsError("ConflictException", f"API {api.api_id} already exists")
        if not new:
            self.apis.get(api.api_id)
        with self.shoal.store.transaction():
            self.apis.persist(api)
            self.authorizers.persist(api.api_id, authorizers)
        self.authorizers.publish(api.api_id, authorizers)
        self.lambda_authorizers.forget(api.api_id)  # cached answers were the old authorizers'
        return self.apis.publish(api)

    def api_endpoint(self, base_url: str, api_id: str) -> str:
        return f"{base_url}{EXECUTE_API_PREFIX}{api_id}"

    def function_url(self, base_url: str, url_id: str) -> str:
        return f"{base_url}{LAMBDA_URL_PREFIX}{url_id}/"
