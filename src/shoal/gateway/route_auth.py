"""Who may call an HTTP API route: the route's ``AuthorizationType`` applied before its
integration is invoked.

- ``NONE``: anyone.
- ``JWT``: :mod:`shoal.gateway.jwt_auth`.
- ``CUSTOM``: a Lambda ``REQUEST`` authorizer, :mod:`shoal.gateway.lambda_auth`. A request
  without one of the authorizer's identity sources is refused 401 ``{"message":"Unauthorized"}``
  without calling the function, as API Gateway does.
- ``AWS_IAM``: the request must be SigV4-signed for ``execute-api`` (checked against the request
  as sent, as :mod:`shoal.gateway.url_auth` does for function URLs, with the API's verifier)
  and the caller's identity-based policies must allow ``execute-api:Invoke`` on the route ARN
  ``arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH`` (the request's path). Any
  refusal answers 403 ``{"message":"Forbidden"}``. The account's root user is always allowed.

:func:`check` answers the refusal, or puts the :class:`Grant` into the integration's event:
``requestContext.authorizer`` (and, for ``AWS_IAM`` in payload 1.0, ``requestContext.identity``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shoal.api.bodies import Scope, signed_request
from shoal.gateway import jwt_auth, url_auth
from shoal.gateway.authorizers import Authorizer
from shoal.gateway.events import HttpRequest, Target
from shoal.gateway.lambda_auth import forbidden, unauthorized
from shoal.gateway.mappings import Values, request_values
from shoal.gateway.responses import GatewayResponse
from shoal.identity import sigv4
from shoal.identity.authorize import is_root
from shoal.policy.engine import Request, evaluate

if TYPE_CHECKING:
    from shoal.gateway.service import GatewayService

log = logging.getLogger("shoal.gateway")

SIGNING_NAME = "execute-api"


@dataclass(frozen=True)
class RouteAuth:
    """A route's authorization, compiled with its API (:mod:`shoal.gateway.live`)."""

    kind: str = "NONE"  # NONE | JWT | CUSTOM | AWS_IAM
    authorizer_id: str | None = None
    scopes: tuple[str, ...] = ()


NO_AUTH = RouteAuth()


def route_auth(extra: Mapping[str, Any]) -> RouteAuth:
    kind = extra.get("AuthorizationType") or "NONE"
    if kind == "NONE":
        return NO_AUTH
    return RouteAuth(kind, extra.get("AuthorizerId"), tuple(extra.get("AuthorizationScopes") or ()))


@dataclass
class Grant:
    """What the integration's event says of the caller (payload 2.0 and 1.0)."""

    v2: dict[str, Any]
    v1: dict[str, Any]
    identity: dict[str, Any] = field(default_factory=dict)  # 1.0's requestContext.identity

    def apply(self, event: dict[str, Any], version: str) -> None:
        context = event["requestContext"]
        if version == "1.0":
            context["authorizer"] = self.v1
            context["identity"].update(self.identity)
        else:
            context["authorizer"] = self.v2


def route_arn(
    service: GatewayService, region: str, api_id: str, stage: str, method: str, path: str
) -> str:
    return f"arn:aws:execute-api:{region}:{service.account_id}:{api_id}/{stage}/{method}{path}"


def identity_values(sources: tuple[str, ...], values: Values) -> list[str] | None:
    """The identity sources' values in order (``$request.header.NAME``,
    ``$request.querystring.NAME``, ``$context.NAME``, ``$stageVariables.NAME``, read as
    parameter mappings read them); None when one is missing or empty."""
    found = []
    for source in sources:
        if source.startswith("route.request."):  # a WebSocket API's $request.
            source = "$request." + source[len("route.request.") :]
        value = values.lookup(source[1:]) if source.startswith("$") else ""
        if not value:
            return None
        found.append(value)
    return found


async def check(
    service: GatewayService,
    scope: Scope,
    body: bytes,
    api_id: str,
    region: str,
    auth: RouteAuth,
    build: Callable[[str], dict[str, Any]],
    event: dict[str, Any],
    version: str,
    arn: str,
    where: tuple[HttpRequest, Target, str],
    trace: str,
) -> GatewayResponse | None:
    """Authorize the request for the route: None to go on (``event``, the integration's of
    payload ``version``, then carries the grant), or the refusal to send. ``build(version)``
    makes the request's event in a payload version (for a Lambda authorizer's own); ``where``
    is the request, where it landed and the route's path, which identity sources read."""
    found = await _authorize(service, scope, body, api_id, region, auth, build, arn, where, trace)
    if isinstance(found, GatewayResponse):
        return found
    found.apply(event, version)
    return None


async def _authorize(
    service: GatewayService,
    scope: Scope,
    body: bytes,
    api_id: str,
    region: str,
    auth: RouteAuth,
    build: Callable[[str], dict[str, Any]],
    arn: str,
    where: tuple[HttpRequest, Target, str],
    trace: str,
) -> Grant | GatewayResponse:
    if auth.kind == "AWS_IAM":
        return _iam(service, scope, body, arn, region)
    authorizer = service.authorizers.of(api_id).get(auth.authorizer_id or "")
    if authorizer is None:
        log.warning("API %s: route authorizer %s is gone", api_id, auth.authorizer_id)
        return unauthorized()
    identity = identity_values(authorizer.identity_source, request_values(*where))
    if auth.kind == "JWT":
        value = identity[0] if identity else None
        found = await jwt_auth.authorize(service.jwks, authorizer, value, list(auth.scopes))
        if isinstance(found, GatewayResponse):
            return found
        return Grant(found, {"claims": found["jwt"]["claims"], "scopes": found["jwt"]["scopes"]})
    if identity is None and authorizer.identity_source:
        return unauthorized()
    own = build(authorizer.payload_version or "2.0")
    return await _custom(service, api_id, authorizer, own, arn, identity, trace)


async def _custom(
    service: GatewayService,
    api_id: str,
    authorizer: Authorizer,
    event: dict[str, Any],
    arn: str,
    identity: list[str] | None,
    trace: str,
) -> Grant | GatewayResponse:
    answer = await service.lambda_authorizers.authorize(
        api_id, authorizer, event, arn, identity or [], trace
    )
    if isinstance(answer, GatewayResponse):
        return answer
    v1 = {**answer.context}
    if answer.principal_id is not None:
        v1["principalId"] = answer.principal_id
    return Grant({"lambda": answer.context}, v1)


def _iam(
    service: GatewayService, scope: Scope, body: bytes, arn: str, region: str
) -> Grant | GatewayResponse:
    signed = signed_request(scope, body)
    shoal = service.shoal
    try:
        credential, signed_for = shoal.http.verifier.verify(signed)
    except sigv4.AuthFailure as failure:
        log.info("route %s: %s", arn, failure.message)
        return forbidden()
    if signed_for != SIGNING_NAME:
        return forbidden()
    principal = credential.principal
    if not (credential.root or is_root(principal)):
        request = Request(
            principal, "execute-api:Invoke", arn, url_auth.request_keys(scope, region)
        )
        decision = evaluate(request, shoal.iam.identity_policies(principal))
        if not decision.allowed:
            log.info("route %s: %s", arn, decision.message(request))
            return forbidden()
    who = {
        "accessKey": credential.access_key_id,
        "accountId": principal.account or service.account_id,
        "callerId": principal.user_id,
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": principal.arn,
        "userId": principal.user_id,
    }
    identity = {
        "accessKey": credential.access_key_id,
        "accountId": who["accountId"],
        "caller": principal.user_id,
        "user": principal.user_id,
        "userArn": principal.arn,
    }
    return Grant({"iam": who}, {}, identity)
