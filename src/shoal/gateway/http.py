"""The gateway's data plane: raw ASGI apps for HTTP APIs and function URLs.

URL scheme (the API's ``ApiEndpoint`` is ``{base}/execute-api/{apiId}``):

- ``{base}/execute-api/{apiId}/{stage}/{path}`` serves a named stage; the event's ``rawPath``
  is ``/{stage}/{path}``, as on AWS;
- ``{base}/execute-api/{apiId}/{path}`` serves the ``$default`` stage;
- ``{base}/lambda-url/{urlId}/{path}`` serves a function URL; one with ``AuthType AWS_IAM``
  only to a signed request IAM allows (:mod:`shoal.gateway.url_auth`);
- a request to a custom domain name arrives as its mapped API's, the mapping in the scope
  (:mod:`shoal.gateway.domain_routing`): the mapping names the stage, and the event's
  ``rawPath`` is the path as sent.

Each HTTP API request fills one :class:`~shoal.gateway.exchange.Exchange`, from which its
``AWS/ApiGateway`` metrics and its stage's access log line (:mod:`shoal.gateway.access_logs`)
are made once the answer is known.

The hot path reads only in-memory state (the :class:`~shoal.gateway.live.LiveApi` snapshots and
the URL registry's id map), builds the event, awaits the invoker and maps the result. It
never touches the store and compiles nothing. Every answer carries API Gateway's
``apigw-requestid`` header (``x-amzn-requestid`` for function URLs).

Each request gets one trace header (:func:`~shoal.invocation.tracing.trace_header` of the
client's ``X-Amzn-Trace-Id``): the event's ``x-amzn-trace-id`` and the invocation's
``_X_AMZN_TRACE_ID`` are that same value.

The path-style prefix (``/execute-api/{apiId}``, ``/lambda-url/{urlId}``) is Shoal's, not the
function's: the event never shows it, so an app's redirects name paths without it. On a
path-style request the gateway puts it back into a ``Location`` that is an absolute path or an
absolute URL of the request's own host (:mod:`shoal.gateway.locations`), as a reverse proxy's
``ProxyPassReverse`` does, so that ``curl -L`` and browsers follow redirects through Shoal.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from shoal.api.bodies import BodyTooLarge, Receive, Scope, Send, read_body
from shoal.errors import AwsError
from shoal.gateway import cors, exchange, http_proxy, locations, responses, route_auth, url_auth
from shoal.gateway.domain_routing import MAPPED, Mapped
from shoal.gateway.events import (
    HttpRequest,
    Target,
    build_v1,
    build_v2,
    domain_of,
    forwarded_headers,
    new_request_id,
)
from shoal.gateway.exchange import Exchange
from shoal.gateway.host_routing import EXECUTE_API_PREFIX, HOST_STYLE, LAMBDA_URL_PREFIX, REGION_KEY
from shoal.gateway.live import LiveApi
from shoal.gateway.models import DEFAULT_STAGE, Stage
from shoal.gateway.responses import GatewayResponse
from shoal.gateway.throttle import Throttles
from shoal.invocation.request import new_request_id as new_invocation_id
from shoal.invocation.tracing import trace_header

if TYPE_CHECKING:
    from shoal.gateway.service import GatewayService


log = logging.getLogger("shoal.gateway")

# API Gateway's and function URLs' request payload quota.
MAX_BODY = 10 * 1024 * 1024
_EMPTY: dict[str, str] = {}


async def _send(send: Send, response: GatewayResponse, id_header: bytes, request_id: str) -> None:
    headers = response.headers
    headers.append((b"content-length", str(len(response.body)).encode()))
    headers.append((id_header, request_id.encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def _request(scope: Scope, raw_path: str, body: bytes, trace: str) -> HttpRequest:
    client = scope.get("client")
    source_ip = client[0] if client else "127.0.0.1"
    server = scope.get("server")
    scheme = scope.get("scheme", "http")
    port = server[1] if server and server[1] else (443 if scheme == "https" else 80)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    return HttpRequest(
        method=scope["method"],
        raw_path=raw_path,
        raw_query=scope["query_string"].decode("latin-1"),
        headers=forwarded_headers(headers, source_ip, port, scheme, trace),
        body=body,
        source_ip=source_ip,
        protocol="HTTP/" + scope.get("http_version", "1.1"),
    )


def _host_and_trace(scope: Scope) -> tuple[str | None, str]:
    """The request's Host, and the trace header it runs under."""
    host = incoming = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1")
        elif name == b"x-amzn-trace-id":
            incoming = value.decode("latin-1")
    return host, trace_header(incoming)


async def _invoke(
    service: GatewayService,
    function: str,
    qualifier: str | None,
    event: dict[str, Any],
    version: str,
    timeout_s: float | None,
    trace: str,
    x: Exchange | None = None,
    function_url: bool = False,
) -> GatewayResponse:
    """Invoke and map the outcome; every failure becomes API Gateway's fixed answer.

    ``timeout_s`` is the integration timeout. When the function's own timeout is shorter the
    invoker enforces it (``Sandbox.Timedout``, answered 503) and the call is awaited directly;
    otherwise the invocation runs as a shielded task: on the integration timeout the client gets
    503 and the function runs on to its end, as on AWS (cancelling it mid-flight would hand a
    busy environment back to its pool).
    """
    payload = json.dumps(event, separators=(",", ":")).encode()

    def invoke() -> Awaitable[Any]:
        return service.invoker.invoke(  # type: ignore[no-any-return]
            function, qualifier, payload, payload_is_json=True, trace_id=trace
        )

    try:
        if timeout_s is None or service.function_timeout(function, qualifier) <= timeout_s:
            result = await invoke()
        else:
            task = asyncio.ensure_future(invoke())
            try:
                result = await asyncio.wait_for(asyncio.shield(task), timeout_s)
            except TimeoutError:
                task.add_done_callback(_drop_result)
                if x is not None:
                    x.integration_error = "Integration timeout"
                return responses.unavailable()
    except AwsError as e:
        if x is not None:
            x.integration_error = f"{e.code}: {e.message}"
        if e.code == "TooManyRequestsException":
            return responses.throttled()
        if e.code in ("RequestTooLargeException", "RequestEntityTooLargeException"):
            return responses.too_large()
        log.warning("invoke of %s failed: %s: %s", function, e.code, e.message)
        return responses.internal_error()
    if x is not None:
        x.integration_status = 200  # Lambda's answer to the invoke, not the function's
        if result.function_error:
            x.integration_error = f"The Lambda function returned an error: {result.error_type}"
    if result.error_type == "Sandbox.Timedout":
        return responses.unavailable()
    if result.function_error:
        return responses.internal_error()
    return responses.from_payload(result.payload, version, function_url)


def _drop_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("invocation after an integration timeout failed: %r", task.exception())


class ExecuteApiApp:
    """``/execute-api/{apiId}/...``: HTTP APIs."""

    def __init__(self, service: GatewayService) -> None:
        self.service = service
        self.throttles = Throttles()  # the stages' route throttling (token buckets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if "/@connections/" in path and path[len(EXECUTE_API_PREFIX) :].partition("/")[0] in (
            self.service.live_ws
        ):  # a WebSocket API's management API (connections_api)
            await self.service.connections_api(scope, receive, send)
            return
        request_id = new_request_id()
        x = Exchange(request_id, time.perf_counter(), time.time())  # filled by _handle
        try:
            response = await self._handle(scope, receive, request_id, x)
        except ConnectionError:
            return
        if x.api_id:  # a stage took the request: its AWS/ApiGateway metrics, its access log
            x.status, x.response_length = response.status, len(response.body)
            x.latency_ms = (time.perf_counter() - x.started) * 1000
            metrics = getattr(self.service.shoal, "metrics", None)
            if metrics is not None:
                metrics.gateway_hooks.request(
                    x.region, x.api_id, x.stage, x.status, x.latency_ms, x.integration_ms,
                    x.received + x.response_length,
                    (x.resource, x.route_method) if x.detailed_metrics else None,
                )  # fmt: skip
            if x.access_log is not None:
                self.service.access_logs.write(x)
        await _send(send, response, b"apigw-requestid", request_id)

    async def _handle(self, scope: Scope, receive: Receive, request_id: str,
                      x: Exchange) -> GatewayResponse:  # fmt: skip
        service = self.service
        api_id, _, rest = scope["path"][len(EXECUTE_API_PREFIX) :].partition("/")
        live = service.live.get(api_id)
        mapped: Mapped | None = scope.get(MAPPED)  # a custom domain's (domain_routing)
        if live is None or (mapped is None and (live.disabled or _elsewhere(scope, live.region))):
            return responses.not_found()
        found_stage = _stage(live, rest, mapped)
        if found_stage is None:
            return responses.not_found()
        stage, sub_path, route_path = found_stage
        method = scope["method"]
        if live.cors is not None and method == "OPTIONS":
            headers = _header_map(scope)
            if cors.is_preflight(method, headers):
                return cors.preflight(live.cors, headers)
        x.region, x.api_id, x.stage = live.region, api_id, stage.stage_name
        x.access_log = stage.extra.get("AccessLogSettings") or None
        if x.access_log is not None:
            exchange.describe(x, scope, sub_path, service.account_id, mapped)
        try:
            body = await read_body(receive, MAX_BODY)
        except BodyTooLarge:
            return responses.too_large()
        x.received = len(body)
        found = live.table.select(method, route_path)
        if found is not None:
            exchange.routed(x, found[1].route_key, found[1].resource_path, stage.extra)
        if found is None or (found[1].target is None and found[1].proxy is None):
            response = responses.not_found()
        elif not self.throttles.admit(api_id, stage.stage_name, found[1].route_key, stage.extra):
            response = responses.throttled()
        else:
            _, route, params = found
            target = route.target
            host, trace = _host_and_trace(scope)
            request = _request(scope, sub_path, body, trace)
            domain_name, domain_prefix = domain_of(host, f"{api_id}.execute-api.localhost")
            context = Target(
                api_id=api_id,
                domain_name=domain_name,
                domain_prefix=domain_prefix,
                stage=stage.stage_name,
                route_key=route.route_key,
                resource_path=route.resource_path,
                path_parameters=params,
                stage_variables=stage.stage_variables or _EMPTY,
                account_id=service.account_id,
                request_id=request_id,
            )
            now = time.time()

            def build(version: str) -> dict[str, Any]:
                if version == "1.0":
                    return build_v1(request, context, now=now)
                return build_v2(request, context, now=now)

            version = target.payload_version if target is not None else "1.0"
            # An HTTP_PROXY route needs no event, unless its authorizer reads or fills one.
            wanted = target is not None or route.auth is not route_auth.NO_AUTH
            event = build(version) if wanted else {}
            refused = None
            if route.auth is not route_auth.NO_AUTH:  # the route's authorizer decides first
                arn = route_auth.route_arn(
                    service, live.region, api_id, stage.stage_name, method, route_path
                )
                refused = await route_auth.check(
                    service, scope, body, api_id, live.region, route.auth, build, event,
                    version, arn, (request, context, route_path), trace,
                )  # fmt: skip
            if refused is not None:
                response = refused
                x.authorizer_error = exchange.authorizer_error(refused)
            elif route.proxy is not None:
                integration = time.perf_counter()
                granted = x.authorizer = event.get("requestContext", _EMPTY).get("authorizer")
                response = await http_proxy.serve(route.proxy, route.tail, request, route_path,
                                                  context, granted)  # fmt: skip
                x.integration_ms = (time.perf_counter() - integration) * 1000
                x.integration_status = response.status
            else:
                assert target is not None  # a route without either is answered 404 above
                function, qualifier = target.resolve(stage.stage_variables)
                x.authorizer = event.get("requestContext", _EMPTY).get("authorizer")
                integration = time.perf_counter()
                response = await _invoke(
                    service, function, qualifier, event, target.payload_version, route.timeout_s,
                    trace, x,
                )  # fmt: skip
                x.integration_ms = (time.perf_counter() - integration) * 1000
            if not scope.get(HOST_STYLE):
                locations.rebase(response.headers, f"{EXECUTE_API_PREFIX}{api_id}", host)
        if live.cors is not None:
            cors.decorate(live.cors, _header_map(scope).get("origin"), response)
        return response


def _stage(live: LiveApi, rest: str, mapped: Mapped | None) -> tuple[Stage, str, str] | None:
    """(stage, the event's raw path, the path routes match) of a request to ``live`` whose
    path after ``/execute-api/{apiId}`` is ``/{rest}``; None when no stage serves it."""
    if mapped is not None:  # the mapping names the stage; the path is the one sent
        stage = live.stages.get(mapped.stage)
        return None if stage is None else (stage, mapped.raw_path, mapped.route_path)
    sub_path = "/" + rest
    first = rest.partition("/")[0]
    stage = live.stages.get(first) if first and first != DEFAULT_STAGE else None
    if stage is not None:
        return stage, sub_path, sub_path[len(first) + 1 :] or "/"
    stage = live.stages.get(DEFAULT_STAGE)
    return None if stage is None else (stage, sub_path, sub_path)


class FunctionUrlApp:
    """``/lambda-url/{urlId}/...``: function URLs (payload 2.0, route ``$default``)."""

    def __init__(self, service: GatewayService) -> None:
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_invocation_id()
        started = time.perf_counter()
        measured: list[Any] = []  # _handle's (function ARN, qualifier) once the URL is known
        try:
            response = await self._handle(scope, receive, request_id, measured)
        except ConnectionError:
            return
        metrics = getattr(self.service.shoal, "metrics", None)
        if measured and metrics is not None:  # AWS/Lambda's function URL metrics
            metrics.lambda_hooks.url_request(*measured, response.status,
                                             (time.perf_counter() - started) * 1000)  # fmt: skip
        await _send(send, response, b"x-amzn-requestid", request_id)

    async def _handle(self, scope: Scope, receive: Receive, request_id: str,
                      measured: list[Any]) -> GatewayResponse:  # fmt: skip
        service = self.service
        url_id, _, rest = scope["path"][len(LAMBDA_URL_PREFIX) :].partition("/")
        url = service.urls.by_id.get(url_id)
        if url is None or _elsewhere(scope, url.region):
            return responses.forbidden()  # what AWS answers for an unknown function URL
        measured += [url.function_arn, url.qualifier]
        method = scope["method"]
        if url.cors is not None and method == "OPTIONS":
            headers = _header_map(scope)
            if cors.is_preflight(method, headers):
                return cors.preflight(url.cors, headers)
        try:
            body = await read_body(receive, MAX_BODY)
        except BodyTooLarge:
            return responses.too_large()
        refused = url_auth.refusal(service.shoal, url, scope, body)
        if refused is not None:
            return refused
        host, trace = _host_and_trace(scope)
        request = _request(scope, "/" + rest, body, trace)
        domain_name, domain_prefix = domain_of(host, f"{url_id}.lambda-url.localhost")
        context = Target(
            api_id=url_id,
            domain_name=domain_name,
            domain_prefix=domain_prefix,
            stage=DEFAULT_STAGE,
            route_key="$default",
            resource_path="$default",
            path_parameters=_EMPTY,
            stage_variables=_EMPTY,
            account_id=service.account_id,
            request_id=request_id,
        )
        event = build_v2(request, context, keep_cookie=True)
        # Function URLs have no integration timeout of their own: the function's applies.
        response = await _invoke(
            service, url.function_arn, url.qualifier, event, "2.0", None, trace,
            function_url=True,
        )
        if not scope.get(HOST_STYLE):
            locations.rebase(response.headers, f"{LAMBDA_URL_PREFIX}{url_id}", host)
        if url.cors is not None:
            cors.decorate(url.cors, _header_map(scope).get("origin"), response)
        return response


def _elsewhere(scope: Scope, region: str) -> bool:
    """The request's host names another region than the resource's."""
    named = scope.get(REGION_KEY)
    return named is not None and named != region


def _header_map(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
