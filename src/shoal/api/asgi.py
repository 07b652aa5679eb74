"""The ASGI application: one port for every AWS API and for the HTTP triggers.

Routing is by path prefix: ``/v2/`` is API Gateway v2, ``/2015-02-01/`` is EFS, other
``/20YY-MM-DD/`` paths are Lambda, ``/`` with ``X-Amz-Target`` is a json service and
``/service/…`` a smithy-rpc-v2-cbor one (:mod:`shoal.api.rpc_router`), ``/`` otherwise is an
``Action=`` service (EC2, IAM, STS: :mod:`shoal.api.query_router`),
``/shoal/`` is Shoal's own API (logs, environments, file-system paths, health); components may
mount their own ASGI apps on a prefix (the HTTP gateway does). The body is read whole, up to
:data:`MAX_BODY`, before dispatch.

Every API request is signed with SigV4 (:mod:`shoal.identity.sigv4`), from loopback too: there
is no unauthenticated mode. Shoal's own endpoints are signed for the service ``shoal`` by the
account's root user (``/shoal/health`` is open). HTTP APIs and function URLs are the mounts'
to authenticate (an ``AWS_IAM`` URL or route checks its own signature).

Every answer of this app, errors and 404s included, names its request in ``x-amzn-RequestId``
(boto3's ``ResponseMetadata['RequestId']``): the id is made here, once per request, handed to
the service (an Invoke's invocation runs under it; EC2 writes it in its XML too), and added by
:func:`send_response`. The mounted apps (the HTTP gateway) name their requests themselves.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from shoal.api import admission, authentication
from shoal.api.bodies import (
    ASGIApp,
    BodyTooLarge,
    Receive,
    Scope,
    Send,
    gunzip,
    json_response,
    read_body,
)
from shoal.api.codec import HttpResponse
from shoal.api.dispatch import ApiService, apigatewayv2_api, efs_api, lambda_api
from shoal.api.query_router import QueryRouter, query_router
from shoal.api.rpc_router import RpcRouter, cbor_router, json_router
from shoal.api.scope import is_region
from shoal.gateway.domain_routing import MAPPED, DomainRoutes
from shoal.gateway.host_routing import EXECUTE_API_PREFIX, LAMBDA_URL_PREFIX, host_routed
from shoal.identity import sigv4
from shoal.invocation.request import new_request_id

if TYPE_CHECKING:
    from shoal.core import Shoal


_GATEWAY_PREFIXES = (EXECUTE_API_PREFIX, LAMBDA_URL_PREFIX)
# Large enough for a 50 MB zip sent base64 in a JSON body.
MAX_BODY = 80 * 1024 * 1024


class BadParameter(ValueError):
    """A query parameter of a ``/shoal/`` endpoint that cannot be used; ``str()`` says why."""


# A Lambda function name (the log directory is named after it): no "/", no "." or "..".
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,140}$")


def int_param(
    query: Mapping[str, list[str]], name: str, default: int, minimum: int, maximum: int = 2**63
) -> int:
    """The integer query parameter ``name`` (``default`` when absent), or BadParameter."""
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[0])
    except ValueError:
        raise BadParameter(f"Parameter {name} must be an integer, not {values[0][:64]!r}") from None
    if not minimum <= value <= maximum:
        raise BadParameter(f"Parameter {name} must be between {minimum} and {maximum}")
    return value


async def send_response(send: Send, response: HttpResponse, request_id: str) -> None:
    headers = [(_header_name(k), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"x-amzn-requestid", request_id.encode()))
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


_HEADER_NAMES: dict[str, bytes] = {}  # header name -> its wire form (a few dozen names)


def _header_name(name: str) -> bytes:
    wire = _HEADER_NAMES.get(name)
    if wire is None:
        wire = name.lower().encode("latin-1")
        if len(_HEADER_NAMES) < 1024:
            _HEADER_NAMES[name] = wire
    return wire


def base_url(scope: Scope, headers: dict[str, str]) -> str:
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


class ShoalApp:
    """Routes each request to the AWS service whose path prefix it has, or to a mount."""

    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.mounts: list[tuple[str, ASGIApp]] = []
        # Custom domain names' host map, when the gateway component set it.
        self.domain_routes: DomainRoutes | None = None
        self.admission = admission.Admission.for_settings(shoal.settings)
        self.authenticator = authentication.Authenticator(shoal)
        # Prometheus' scrape of the CloudWatch metrics (authorized by the endpoint itself).
        from shoal.api.metrics_endpoint import MetricsEndpoint

        self.mount("/metrics", MetricsEndpoint(shoal))

    def allow_host(self, entry: str) -> None:
        """Serve requests that name ``entry`` (``name[:port]``) as their Host too: the address
        the environments reach the API by (shoal.core.SandboxComponent)."""
        settings = self.shoal.settings
        allowed = (*settings.allowed_hosts, entry)
        self.admission = admission.Admission.for_settings(settings, allowed)

    def mount(self, prefix: str, app: ASGIApp) -> None:
        self.mounts.append((prefix, app))
        self.mounts.sort(key=lambda m: -len(m[0]))

    def _service(self, path: str, headers: list[tuple[bytes, bytes]]
                 ) -> ApiService | QueryRouter | RpcRouter | None:  # fmt: skip
        if path == "/":
            if any(name == b"x-amz-target" for name, _ in headers):
                return json_router
            return query_router  # Action= protocols, told apart by their credential scope
        if path.startswith("/service/"):
            return cbor_router
        if path.startswith("/v2/"):
            return apigatewayv2_api
        if path.startswith("/2015-02-01/"):
            return efs_api
        if len(path) > 12 and path[1:3] == "20" and path[11] == "/":
            return lambda_api
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        # {apiId}.execute-api.localhost and {urlId}.lambda-url.localhost name an HTTP API or a
        # function URL by host, as on AWS; they become their path-routed form.
        routed = host_routed(scope)
        if routed is not None:
            scope = routed
        elif self.domain_routes is not None and (mapped := self.domain_routes.routed(scope)):
            # A custom domain's (shoal.gateway.domain_routing): its Host is served since the
            # domain exists, and only the Host rule of admission applies to an HTTP API.
            scope = routed = mapped
        refusal = None if MAPPED in scope else self._refusal(scope, routed is not None)
        if refusal is not None:
            await send_response(send, refusal[0], refusal[1])
            return
        path: str = scope["path"]
        if path.startswith("/shoal/") and path != "/shoal/health":
            # Shoal's own endpoints (logs, environments, the file systems' host paths) are
            # root's: signed for the service "shoal" by the account's root credentials.
            receive, refused = await self.authenticator.shoal_caller(scope, receive)
            if refused is not None:
                await send_response(send, refused, new_request_id())
                return
        for prefix, app in self.mounts:
            if path.startswith(prefix):
                await app(scope, receive, send)
                return
        request_id = new_request_id()
        if path.startswith("/shoal/"):
            await send_response(send, self._shoal_api(path, scope), request_id)
            return
        service = self._service(path, scope["headers"])
        if service is None:
            await send_response(send, json_response(404, {"message": "Not Found"}), request_id)
            return
        try:
            body = await read_body(receive, MAX_BODY)
        except BodyTooLarge:
            await send_response(
                send,
                service.too_large() if isinstance(service, RpcRouter) else json_response(
                    413,
                    {"Type": "User", "message": "Request entity too large"},
                    [("x-amzn-ErrorType", "RequestTooLargeException")],
                ),
                request_id,
            )  # fmt: skip
            return
        except ConnectionError:
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        qs = scope.get("query_string", b"")
        query = parse_qs(qs.decode(), keep_blank_values=True) if qs else {}
        # Operations are matched on the path as sent, still percent-encoded: a label may hold
        # an ARN with "/" in it (EFS ResourceId); the router decodes each label after matching.
        raw = scope.get("raw_path")
        wire_path = raw.decode("latin-1") if raw else path
        # Every request is signed: there is no unauthenticated mode, not even on loopback.
        signed = sigv4.SignedRequest(
            scope["method"], wire_path, qs.decode("latin-1"), headers, body,
            scope.get("scheme") == "https",
        )  # fmt: skip
        try:
            credential = self.authenticator.credential(signed, service)
        except sigv4.AuthFailure as failure:
            named = authentication.named_service(service, signed, query)
            refused = service.auth_error(failure, named, request_id)
            await send_response(send, refused, request_id)
            return
        if headers.get("content-encoding") == "gzip":  # botocore gzips large PutMetricData
            try:
                body = gunzip(body, MAX_BODY)
            except (ValueError, zlib.error, BodyTooLarge):
                await send_response(send, json_response(
                    400, {"message": "The request body is not valid gzip (or too large)"},
                    [("x-amzn-ErrorType", "SerializationException")]), request_id)  # fmt: skip
                return
        client = scope.get("client")
        response = await service.dispatch(
            self.shoal,
            scope["method"],
            wire_path,
            query,
            headers,
            body,
            base_url(scope, headers),
            request_id,
            credential,
            client[0] if client else "",
        )
        if response is None:
            response = json_response(
                404,
                {"message": f"No operation for {scope['method']} {path}"},
                [("x-amzn-ErrorType", "UnknownOperationException")],
            )
        await send_response(send, response, request_id)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket connection: a WebSocket API's (the gateway's, by path or by host, under
        the gateway's admission rules); anything else is refused with 403."""
        routed = host_routed(scope)
        if routed is not None:
            scope = routed
        gateway = getattr(self.shoal, "gateway", None)
        if (
            gateway is None
            or not scope["path"].startswith(EXECUTE_API_PREFIX)
            or self.admission.refusal(scope["headers"], True) is not None
        ):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # a 403 to the handshake
            return
        await gateway.websocket(scope, receive, send)

    @property
    def verifier(self) -> sigv4.Verifier:
        """The one SigV4 verifier: the API's, and function URLs' with ``AuthType AWS_IAM``
        (:mod:`shoal.gateway.url_auth`)."""
        return self.authenticator.verifier

    def _refusal(self, scope: Scope, host_named: bool) -> tuple[HttpResponse, str] | None:
        """The 403 for what a browser sends cross-site or under a foreign Host name
        (:mod:`shoal.api.admission`) with its request id, or None when the request may go on.
        Synchronous: the admitted path (every invoke) costs no coroutine."""
        path: str = scope["path"]
        gateway = host_named or path.startswith(_GATEWAY_PREFIXES)
        reason = self.admission.refusal(scope["headers"], gateway)
        if reason is None:
            return None
        request_id = new_request_id()
        service = None if gateway else self._service(path, scope["headers"])
        if isinstance(service, QueryRouter | RpcRouter):
            return service.refused(reason, request_id), request_id
        name = service.model.name if service else None
        return admission.refused(reason, name, gateway), request_id

    def _shoal_api(self, path: str, scope: Scope) -> HttpResponse:
        """Shoal's own endpoints: ``/shoal/health``,
        ``/shoal/logs/{function}?start=MS&limit=N[&region=R]`` (the server's default region
        unless R), ``/shoal/environments[?function=NAME]``. A bad parameter answers 400 with
        ``{"message"}``."""
        try:
            return self._shoal_endpoint(path, scope)
        except BadParameter as e:
            return json_response(
                400, {"message": str(e)}, [("x-amzn-ErrorType", "InvalidParameterValueException")]
            )

    def _shoal_endpoint(self, path: str, scope: Scope) -> HttpResponse:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if path == "/shoal/health":
            return json_response(200, {"status": "ok"})
        if path.startswith("/shoal/logs/"):
            function = unquote(path[len("/shoal/logs/") :])
            if not _FUNCTION_NAME.match(function):
                raise BadParameter(f"Not a function name: {function!r}")
            start = int_param(query, "start", 0, minimum=0)
            limit = int_param(query, "limit", 10000, minimum=1)
            region = query.get("region", [self.shoal.settings.region])[0]
            if not is_region(region):
                raise BadParameter(f"Not a region: {region!r}")
            # The function's group (its LoggingConfig's), else Lambda's default for the name.
            fn = self.shoal.functions.get(
                f"arn:aws:lambda:{region}:{self.shoal.settings.account_id}:function:{function}"
            )
            group = fn.log_group if fn is not None else None
            events = list(self.shoal.logs.events(region, function, start, limit, group))
            return json_response(200, {"events": events})
        if path == "/shoal/environments":  # ?function=NAME: one function's environments
            return json_response(200, self.shoal.invoker.describe(query.get("function", [None])[0]))
        return json_response(404, {"message": "Not Found"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.shoal.start()
                except Exception as e:
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    raise
                await send({"type": "lifespan.startup.complete"})
                # Printed once everything is started; tests and scripts wait for this line.
                settings = self.shoal.settings
                print(
                    f"Shoal listening on {settings.endpoint()} (data in {settings.data_dir})",
                    flush=True,
                )
                if self.shoal.root.generated:
                    print(root_notice(settings), flush=True)
            elif message["type"] == "lifespan.shutdown":
                await self.shoal.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def root_notice(settings: Any) -> str:
    """Said once, on the start that made the root credentials: where they are and how to use
    them (``shoal credentials`` shows them again)."""
    from shoal.identity.root import credentials_path

    return (
        f"Root credentials made in {credentials_path(settings.data_dir)} (0600; "
        "`shoal credentials` shows them). Use them with:\n"
        f"  export AWS_SHARED_CREDENTIALS_FILE={credentials_path(settings.data_dir)} "
        f"AWS_PROFILE=shoal AWS_ENDPOINT_URL={settings.endpoint()}"
    )
