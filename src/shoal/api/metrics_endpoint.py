"""``GET /metrics`` (Prometheus' scrape), mounted on the server's app by the metric service.

Authorized, never open: a request SigV4-signed for ``monitoring`` by the account's root user or
a principal whose policies allow ``cloudwatch:GetMetricData`` (the scrape reads every metric, as
that action does), or one with ``Authorization: Bearer <token>`` where the token is
``<data>/metrics-token`` (:mod:`shoal.observability.prometheus`; root makes it with
``shoal metrics-token``). Anything else is answered 403, before any metric is read.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from shoal.api.bodies import read_body, signed_request
from shoal.api.dispatch import Call
from shoal.errors import AwsError
from shoal.identity import sigv4
from shoal.identity.authorize import authorize_call
from shoal.observability.prometheus import bearer_ok, exposition

if TYPE_CHECKING:
    from shoal.core import Shoal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SIGNING_NAME = "monitoring"


class MetricsEndpoint:
    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] != "/metrics":
            await _send(send, 404, b"Not Found\n", "text/plain")
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _send(send, 405, b"Method Not Allowed\n", "text/plain")
            return
        refused = await self.refusal(scope, receive)
        if refused is not None:
            await _send(send, 403, refused.encode() + b"\n", "text/plain")
            return
        text = await asyncio.to_thread(exposition, self.shoal.metrics)  # off the event loop
        await _send(send, 200, text, CONTENT_TYPE)

    async def refusal(self, scope: Any, receive: Any) -> str | None:
        """Why the scrape is refused, or None when it may read the metrics."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        if auth.startswith("Bearer "):
            if bearer_ok(self.shoal.settings.data_dir, auth):
                return None
            return "The bearer token is not this server's metrics token."
        signed = signed_request(scope, await read_body(receive, 1024 * 1024))
        try:
            credential, signed_for = self.shoal.http.verifier.verify(signed)
        except sigv4.AuthFailure as e:
            return f"Not authenticated: {e}"
        if signed_for != SIGNING_NAME:
            return f"Sign /metrics for the service {SIGNING_NAME}, not {signed_for}."
        client = scope.get("client")
        call = Call(
            "GetMetricData", {}, self.shoal, headers, "", "", self.shoal.settings.region,
            principal=credential.principal, secure=scope.get("scheme") == "https",
            source_ip=client[0] if client else "",
        )  # fmt: skip
        try:
            authorize_call(call, self.shoal.iam.identity_policies, service="cloudwatch")
        except AwsError as e:
            return e.message
        return None


async def _send(send: Any, status: int, body: bytes, content_type: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
    ]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
