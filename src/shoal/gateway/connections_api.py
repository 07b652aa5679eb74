"""The ``@connections`` management API (botocore's ``apigatewaymanagementapi``, rest-json):
``PostToConnection``, ``GetConnection`` and ``DeleteConnection`` on an open WebSocket
connection.

Where it is served. On AWS the endpoint is ``https://{apiId}.execute-api.{region}.
amazonaws.com/{stage}``, with ``@connections/{connectionId}`` after it. Shoal answers the same
operations at:

- ``{base}/execute-api/{apiId}/{stage}/@connections/{id}`` (the API's ``ApiEndpoint`` and the
  stage, the ``endpoint_url`` code builds from the WebSocket event), and by host,
  ``{apiId}.execute-api.localhost:{port}/{stage}/@connections/{id}``;
- ``{base}/@connections/{id}``: Shoal's API endpoint itself, so that a function's
  ``boto3.client("apigatewaymanagementapi")`` reaches it through ``AWS_ENDPOINT_URL`` with no
  ``endpoint_url`` of its own (a connection id names one connection of one API and stage).

Who may call it. Every request is SigV4-signed for the service ``execute-api`` (by a user, or a
function with its role's credentials) and the caller's identity policies must allow
``execute-api:ManageConnections`` on
``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/@connections/{id}``, as on
AWS; the account's root user always may. A refusal is ``ForbiddenException`` (403). A
connection that is not open (gone, never was, still in its ``$connect``, or of another API or
stage than the path names) is ``GoneException`` (410), as the model says. ``Data`` over the
128 KB message quota is ``PayloadTooLargeException`` (413).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import TYPE_CHECKING

from shoal.api.bodies import BodyTooLarge, Receive, Scope, Send, read_body, signed_request
from shoal.gateway import url_auth
from shoal.gateway.connections import MAX_MESSAGE, Connection
from shoal.identity import sigv4
from shoal.identity.authorize import is_root
from shoal.invocation.request import new_request_id
from shoal.policy.engine import Request, evaluate

if TYPE_CHECKING:
    from shoal.gateway.service import GatewayService

log = logging.getLogger("shoal.gateway")

CONNECTIONS = "/@connections/"
SIGNING_NAME = "execute-api"
ACTION = "execute-api:ManageConnections"


def _error(status: int, code: str, message: str | None) -> tuple[int, str, bytes]:
    return status, code, json.dumps({"message": message}).encode()


def _gone() -> tuple[int, str, bytes]:
    return _error(410, "GoneException", None)


def _forbidden() -> tuple[int, str, bytes]:
    return _error(403, "ForbiddenException", "Forbidden")


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class ConnectionsApi:
    """The ASGI app of ``…/@connections/{connectionId}`` HTTP requests."""

    def __init__(self, service: GatewayService) -> None:
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        try:
            status, code, body = await self._handle(scope, receive)
        except ConnectionError:
            return
        headers = [(b"content-type", b"application/json"), (b"x-amzn-requestid",
                   request_id.encode()), (b"content-length", str(len(body)).encode())]  # fmt: skip
        if code:
            headers.append((b"x-amzn-errortype", code.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, str, bytes]:
        head, _, connection_id = scope["path"].partition(CONNECTIONS)
        api_id = stage = None
        if head.startswith("/execute-api/"):  # …/execute-api/{apiId}/{stage}/@connections/
            api_id, _, stage = head[len("/execute-api/") :].partition("/")
        elif head:
            return _error(404, "NotFoundException", "Not Found")
        try:
            body = await read_body(receive, MAX_MESSAGE * 2)
        except BodyTooLarge:
            return _error(413, "PayloadTooLargeException", "Message too long")
        shoal = self.service.shoal
        try:
            credential, signed_for = shoal.http.verifier.verify(signed_request(scope, body))
        except sigv4.AuthFailure as failure:
            log.info("@connections: %s", failure.message)
            return _forbidden()
        if signed_for != SIGNING_NAME:
            return _forbidden()
        method = scope["method"]
        if method not in ("POST", "GET", "DELETE") or not connection_id or "/" in connection_id:
            return _error(404, "NotFoundException", "Not Found")
        connection = self.service.connections.get(connection_id)
        if connection is None or (api_id is not None and (
                connection.api_id != api_id or connection.stage != stage)):  # fmt: skip
            return _gone()
        arn = (
            f"arn:aws:execute-api:{connection.region}:{self.service.account_id}:"
            f"{connection.arn_prefix}/{method}/@connections/{connection_id}"
        )
        principal = credential.principal
        if not (credential.root or is_root(principal)):
            keys = url_auth.request_keys(scope, connection.region)
            request = Request(principal, ACTION, arn, keys)
            decision = evaluate(request, shoal.iam.identity_policies(principal))
            if not decision.allowed:
                log.info("@connections %s: %s", arn, decision.message(request))
                return _forbidden()
        return await self._operation(method, connection, body)

    async def _operation(
        self, method: str, connection: Connection, body: bytes
    ) -> tuple[int, str, bytes]:
        if method == "GET":
            doc = {
                "connectedAt": _iso(connection.connected_at),
                "identity": {"sourceIp": connection.source_ip,
                             "userAgent": connection.user_agent},
                "lastActiveAt": _iso(connection.last_active_at),
            }  # fmt: skip
            return 200, "", json.dumps(doc).encode()
        if method == "DELETE":
            connection.request_close(1000, "Connection deleted")
            return 204, "", b""
        if len(body) > MAX_MESSAGE:
            return _error(413, "PayloadTooLargeException", "Message too long")
        if connection.closing.is_set():
            return _gone()
        try:
            await connection.send_message(body)
        except (OSError, RuntimeError):
            return _gone()
        self.service.websocket.metrics.message(connection.region, connection.api_id,
                                               connection.stage)  # fmt: skip
        return 200, "", b""
