"""Function URLs with ``AuthType AWS_IAM``: a request must be signed with SigV4 for the
``lambda`` service, and its principal allowed ``lambda:InvokeFunctionUrl`` on the function
(qualified by the URL's alias, if it has one).

As Lambda's developer guide ("Control access to Lambda function URLs") describes it, the
function's resource-based policy and the caller's identity-based policies decide together,
with IAM's same-account logic (:mod:`shoal.policy.engine`): an explicit deny in either denies,
an allow in either allows, so ``aws lambda add-permission --action lambda:InvokeFunctionUrl
--principal arn:aws:iam::ACCOUNT:user/NAME --function-url-auth-type AWS_IAM`` is enough for that
user. The request context carries ``lambda:FunctionUrlAuthType`` (``AWS_IAM``) and the global
keys (``aws:SourceIp``, ``aws:SecureTransport``, ``aws:CurrentTime``…). The account's root user
is always allowed.

Every refusal (unsigned, a bad or expired signature, an unknown key, signed for another
service, not allowed) answers what a function URL answers: 403, ``{"Message":"Forbidden"}``,
``x-amzn-ErrorType: AccessDeniedException``. ``AuthType NONE`` URLs never come here: they are
public, as on AWS.

The signature is checked against the request as the client sent it
(:func:`shoal.api.bodies.signed_request`): the wire path (for a host-routed request, the path
before routing), the query string and the body. The verifier is the API's
(``ShoalApp.verifier``), so the same keys sign both.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shoal.api.bodies import Scope, signed_request
from shoal.gateway.models import FunctionUrl
from shoal.gateway.responses import GatewayResponse
from shoal.identity import sigv4
from shoal.identity.authorize import is_root, resource_policy
from shoal.policy.engine import Request, evaluate

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.gateway")

ACTION = "lambda:InvokeFunctionUrl"
SIGNING_NAME = "lambda"


def forbidden() -> GatewayResponse:
    """A function URL's 403 for a request IAM refuses."""
    headers = [(b"content-type", b"application/json"),
               (b"x-amzn-errortype", b"AccessDeniedException")]  # fmt: skip
    return GatewayResponse(403, headers, b'{"Message":"Forbidden"}')


def refusal(shoal: Shoal, url: FunctionUrl, scope: Scope, body: bytes) -> GatewayResponse | None:
    """The 403 when ``url`` is ``AWS_IAM`` and the request may not invoke it; None to go on."""
    if url.auth_type != "AWS_IAM":
        return None
    signed = signed_request(scope, body)
    try:
        credential, signed_for = shoal.http.verifier.verify(signed)
    except sigv4.AuthFailure as failure:
        log.info("function URL %s: %s", url.url_id, failure.message)
        return forbidden()
    if signed_for != SIGNING_NAME:
        return forbidden()
    principal = credential.principal
    if credential.root or is_root(principal):
        return None
    resource = url.qualified_arn
    document = shoal.permissions.document(resource)
    request = Request(principal, ACTION, resource, request_keys(scope, url.region))
    decision = evaluate(
        request,
        shoal.iam.identity_policies(principal),
        (resource_policy(document),) if document else (),
    )
    if decision.allowed:
        return None
    log.info("function URL %s: %s", url.url_id, decision.message(request))
    return forbidden()


def request_keys(scope: Scope, region: str) -> dict[str, Any]:
    now = time.time()
    keys: dict[str, Any] = {
        "lambda:functionurlauthtype": "AWS_IAM",
        "aws:securetransport": "true" if scope.get("scheme") == "https" else "false",
        "aws:currenttime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": str(int(now)),
        "aws:requestedregion": region,
    }
    client = scope.get("client")
    if client:
        keys["aws:sourceip"] = client[0]
    return keys
