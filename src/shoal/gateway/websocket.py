"""The WebSocket data plane: one ASGI ``websocket`` scope per client connection.

A client connects to ``ws://{host}/execute-api/{apiId}/{stage}`` (or, by host,
``ws://{apiId}.execute-api.localhost:{port}/{stage}``; ``wss://`` when Shoal serves TLS): the
API's ``ApiEndpoint`` followed by the stage, as ``wss://{apiId}.execute-api.{region}.
amazonaws.com/{stage}`` on AWS. Then, as API Gateway runs a WebSocket API:

1. ``$connect``: its authorizer (a Lambda ``REQUEST`` authorizer or ``AWS_IAM``, through
   :mod:`shoal.gateway.route_auth`) and its function decide; a refusal, or a function answer
   whose ``statusCode`` is not 2xx, refuses the handshake with that HTTP status. Without a
   ``$connect`` route every client is accepted.
2. Each message goes to the route the API's route selection expression picks
   (:mod:`shoal.gateway.websocket_live`), invoked as its own task, so that messages are handled
   concurrently, as on AWS. A two-way route (one with a ``RouteResponseSelectionExpression``)
   sends the function's answer back; a message without a route gets API Gateway's
   ``Forbidden`` message, a failed integration its ``Internal server error``.
3. The connection ends when the client closes it, after :attr:`idle_s` without a message from
   the client (API Gateway: 10 minutes), after :attr:`max_s` in all (2 hours), or on
   ``DeleteConnection``; the server closes with 1001 "Going away" on the timeouts. Then
   ``$disconnect`` is invoked (best effort: its answer is not the client's, who is gone).

The two times are the server's ``--websocket-idle-timeout`` and ``--websocket-max-duration``
(shorter for tests). Frames and messages over API Gateway's quotas are refused by the protocol
itself (:mod:`shoal.gateway.websocket_frames`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from shoal.api.bodies import Receive, Scope, Send
from shoal.errors import AwsError
from shoal.gateway import route_auth, websocket_events
from shoal.gateway.connections import Connection, new_connection_id
from shoal.gateway.events import HttpRequest, Target, domain_of, new_request_id
from shoal.gateway.responses import GatewayResponse
from shoal.gateway.websocket_events import Upgrade
from shoal.gateway.websocket_live import LiveWebSocketApi, LiveWsRoute
from shoal.gateway.websocket_metrics import WebSocketMetrics
from shoal.invocation.tracing import trace_header

if TYPE_CHECKING:
    from shoal.gateway.service import GatewayService

log = logging.getLogger("shoal.gateway")

EXECUTE_API_PREFIX = "/execute-api/"
IDLE_S = 600.0  # API Gateway's idle connection timeout
MAX_S = 7200.0  # and its maximum connection duration
IN_FLIGHT = 64  # messages of one connection being handled at once
_JSON = [(b"content-type", b"application/json")]


def _refusal(status: int, message: str) -> GatewayResponse:
    return GatewayResponse(status, list(_JSON), json.dumps({"message": message}).encode())


class WebSocketApp:
    """The ASGI app of ``websocket`` scopes under ``/execute-api/``."""

    def __init__(self, service: GatewayService, idle_s: float = IDLE_S, max_s: float = MAX_S):
        self.service = service
        self.idle_s = idle_s
        self.max_s = max_s
        self.metrics = WebSocketMetrics(service.shoal)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        service = self.service
        api_id, _, rest = scope["path"][len(EXECUTE_API_PREFIX) :].partition("/")
        live = service.live_ws.get(api_id)
        stage_name = rest.strip("/").partition("/")[0]
        stage = live.stages.get(stage_name) if live is not None else None
        named = scope.get("shoal.region")
        if live is None or live.disabled or stage is None or named not in (None, live.region):
            try:
                await _refuse(send, _refusal(403, "Forbidden"))
            except OSError:
                pass  # the client is gone already
            return
        sent = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        lower = {k.lower(): v for k, v in sent}
        trace = trace_header(lower.get("x-amzn-trace-id"))
        client = scope.get("client")
        source_ip = client[0] if client else "127.0.0.1"
        up = Upgrade(
            api_id=api_id,
            stage=stage.stage_name,
            domain_name=domain_of(lower.get("host"), f"{api_id}.execute-api.localhost")[0],
            connection_id=new_connection_id(),
            connected_at_ms=int(time.time() * 1000),
            source_ip=source_ip,
            user_agent=lower.get("user-agent", ""),
            headers=websocket_events.event_headers(sent, source_ip, scope, trace),
            raw_query=scope.get("query_string", b"").decode("latin-1"),
            stage_variables=dict(stage.stage_variables),
        )
        accepted = await self._connect(scope, live, up, trace)
        refused = isinstance(accepted, GatewayResponse)
        self.metrics.connect(live.region, api_id, up.stage, refused)
        try:
            if isinstance(accepted, GatewayResponse):
                await _refuse(send, accepted)
                return
            accept: dict[str, Any] = {"type": "websocket.accept"}
            if accepted.get("subprotocol"):  # what the $connect function chose of the client's
                accept["subprotocol"] = accepted["subprotocol"]
            await send(accept)
        except OSError:  # the client went during its $connect: nothing to serve or close
            return
        connection = Connection(
            up.connection_id, api_id, up.stage, live.region, up.source_ip, up.user_agent,
            up.connected_at_ms, send, authorizer=accepted.get("authorizer"),
            identity=accepted.get("identity"),
        )  # fmt: skip
        service.connections.add(connection)
        try:
            await self._serve(connection, live, up, receive, trace)
        finally:
            service.connections.remove(connection.connection_id)
        route = self.service.live_ws.get(api_id, live).routes.get("$disconnect")
        if route is not None and route.target is not None:
            event = websocket_events.disconnect_event(
                up, connection.close_code, connection.close_reason, connection.authorizer,
                connection.identity,
            )
            await self._invoke(route, up, event, trace)

    async def _connect(
        self, scope: Scope, live: LiveWebSocketApi, up: Upgrade, trace: str
    ) -> dict[str, Any] | GatewayResponse:
        """The refusal of the handshake, or what the connection's events say of its caller
        from now on: ``authorizer`` (a Lambda authorizer's grant) or ``identity`` (an
        ``AWS_IAM`` caller's ``requestContext.identity``), and the ``subprotocol`` the
        function's ``Sec-WebSocket-Protocol`` header chose of those the client offered."""
        route = live.routes.get("$connect")
        if route is None:
            return {}
        event = websocket_events.connect_event(up)
        granted: dict[str, Any] = {}
        if route.auth is not route_auth.NO_AUTH:
            arn = (
                f"arn:aws:execute-api:{live.region}:{self.service.account_id}:"
                f"{up.api_id}/{up.stage}/$connect"
            )
            refused = await route_auth.check(
                self.service, _as_http(scope), b"", up.api_id, live.region,
                route.auth, lambda _version: websocket_events.connect_event(up), event, "1.0",
                arn, _where(scope, up, self.service.account_id, event), trace,
            )  # fmt: skip
            if refused is not None:
                return refused
            if route.auth.kind == "AWS_IAM":  # the caller is in requestContext.identity
                granted = {"identity": dict(event["requestContext"]["identity"])}
                event["requestContext"].pop("authorizer", None)
            else:
                granted = {"authorizer": event["requestContext"].get("authorizer")}
        if route.target is None:
            return granted
        found = await self._invoke(route, up, event, trace)
        if found is None:
            return _refusal(500, "Internal server error")
        refused = websocket_events.connect_refusal(found)
        if refused is not None:
            return refused
        chosen = websocket_events.connect_subprotocol(found)
        if chosen is not None and chosen in scope.get("subprotocols", ()):
            granted["subprotocol"] = chosen
        return granted

    async def _serve(
        self, connection: Connection, live: LiveWebSocketApi, up: Upgrade, receive: Receive,
        trace: str,
    ) -> None:  # fmt: skip
        """Read messages until the connection ends; each message is handled as a task, at most
        :data:`IN_FLIGHT` at once: past that the connection is not read (the protocol stops
        reading the socket), so one client cannot queue unbounded work."""
        tasks: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(IN_FLIGHT)

        def done(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            slots.release()

        async def read() -> None:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    code = int(message.get("code") or 1005)
                    connection.client_closed = True
                    connection.request_close(code, _client_reason(code, message.get("reason")))
                    return
                if message["type"] != "websocket.receive":
                    continue
                connection.last_active = time.time()
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                await slots.acquire()  # released when the message's task is done
                task = asyncio.ensure_future(self._message(connection, live, up, data, trace))
                tasks.add(task)
                task.add_done_callback(done)

        reader = asyncio.ensure_future(read())
        ends_at = up.connected_at_ms / 1000 + self.max_s
        try:
            while not connection.closing.is_set():
                now = time.time()
                deadline = min(connection.last_active + self.idle_s, ends_at)
                if now >= deadline:
                    connection.request_close(1001, "Going away")
                    break
                try:
                    await asyncio.wait_for(connection.closing.wait(), deadline - now)
                except TimeoutError:
                    continue
        finally:
            reader.cancel()
            if not connection.client_closed:
                try:
                    await connection.send(
                        {"type": "websocket.close", "code": connection.close_code,
                         "reason": connection.close_reason}
                    )  # fmt: skip
                except (OSError, RuntimeError):
                    pass  # the client went at the same moment
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _message(
        self, connection: Connection, live: LiveWebSocketApi, up: Upgrade, data: str | bytes,
        trace: str,
    ) -> None:  # fmt: skip
        live = self.service.live_ws.get(up.api_id, live)  # the API as it is now
        route = live.select(data)
        if route is None or route.target is None:
            self.metrics.message(live.region, up.api_id, up.stage, client_error=True)
            await _tell(connection, "Forbidden")
            return
        event = websocket_events.message_event(up, route.route_key, data, connection.authorizer,
                                               connection.identity)  # fmt: skip
        started = time.perf_counter()
        payload = await self._invoke(route, up, event, trace)
        self.metrics.message(live.region, up.api_id, up.stage, integration_error=payload is None,
                             integration_ms=(time.perf_counter() - started) * 1000)  # fmt: skip
        if payload is None:
            await _tell(connection, "Internal server error")
            return
        if route.two_way:
            answer = websocket_events.route_response(payload)
            if answer is not None and not connection.closing.is_set():
                try:
                    await connection.send_message(answer)
                except (OSError, RuntimeError):
                    pass

    async def _invoke(
        self, route: LiveWsRoute, up: Upgrade, event: dict[str, Any], trace: str
    ) -> bytes | None:
        """The function's answer, or None when the invocation failed or timed out (the
        function then runs on to its end, as after an HTTP API's integration timeout)."""
        assert route.target is not None
        function, qualifier = route.target.resolve(up.stage_variables)
        payload = json.dumps(event, separators=(",", ":")).encode()
        task = asyncio.ensure_future(
            self.service.invoker.invoke(
                function, qualifier, payload, payload_is_json=True, trace_id=trace
            )
        )
        try:
            result = await asyncio.wait_for(asyncio.shield(task), route.timeout_s)
        except TimeoutError:
            task.add_done_callback(_drop_result)
            return None
        except AwsError as e:
            log.warning("WebSocket route %s: invoke of %s failed: %s", route.route_key,
                        function, e.code)  # fmt: skip
            return None
        if result.function_error:
            return None
        return result.payload  # type: ignore[no-any-return]


def _where(
    scope: Scope, up: Upgrade, account: str, event: dict[str, Any]
) -> tuple[HttpRequest, Target, str]:
    """The upgrade request as what identity sources read (``$request.header.NAME``,
    ``$request.querystring.NAME``, ``$context.NAME``, ``$stageVariables.NAME``)."""
    request = HttpRequest(
        method="GET",
        raw_path=f"/{up.stage}",
        raw_query=up.raw_query,
        headers=[(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]],
        body=b"",
        source_ip=up.source_ip,
        protocol="HTTP/1.1",
    )
    target = Target(
        api_id=up.api_id,
        domain_name=up.domain_name,
        domain_prefix=domain_of(up.domain_name, up.domain_name)[1],
        stage=up.stage,
        route_key="$connect",
        resource_path="$connect",
        path_parameters={},
        stage_variables=up.stage_variables,
        account_id=account,
        request_id=event["requestContext"]["requestId"],
    )
    return request, target, "/"


def _as_http(scope: Scope) -> Scope:
    """The upgrade request as the HTTP GET it is, for SigV4 and IAM's aws:SecureTransport."""
    return {**scope, "method": "GET", "scheme": "https" if scope.get("scheme") == "wss" else "http"}


def _client_reason(code: int, reason: Any) -> str:
    if reason:
        return str(reason)
    return "Client-side close frame status not set" if code == 1005 else ""


async def _tell(connection: Connection, message: str) -> None:
    text = websocket_events.client_error(message, connection.connection_id, new_request_id())
    try:
        await connection.send({"type": "websocket.send", "text": text})
    except (OSError, RuntimeError):
        pass


async def _refuse(send: Send, response: GatewayResponse) -> None:
    """Refuse the handshake with an HTTP answer (ASGI's ``websocket.http.response``)."""
    headers = [*response.headers, (b"content-length", str(len(response.body)).encode())]
    await send({"type": "websocket.http.response.start", "status": response.status,
                "headers": headers})  # fmt: skip
    await send({"type": "websocket.http.response.body", "body": response.body})


def _drop_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("invocation after an integration timeout failed: %r", task.exception())
