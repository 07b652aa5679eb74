"""Lambda ``REQUEST`` authorizers, as HTTP APIs run them ("Working with AWS Lambda authorizers
for HTTP APIs" in the API Gateway developer guide).

The authorizer function gets the request (payload 2.0: the integration event without the body,
with ``type: REQUEST``, ``routeArn`` and ``identitySource`` as a list; payload 1.0: the 1.0
event without the body, with ``methodArn``, and ``identitySource``/``authorizationToken``
comma-joined) and answers either a simple response (2.0 with ``EnableSimpleResponses``:
``{"isAuthorized": bool, "context": {...}}``) or an IAM policy (``principalId``,
``policyDocument``, ``context``) that the one policy engine (:mod:`shoal.policy`) evaluates for
``execute-api:Invoke`` on the route ARN. A denial answers 403 ``{"message":"Forbidden"}``; an
authorizer that fails or answers something else, 500 ``{"message":"Internal Server Error"}``.

With ``AuthorizerResultTtlInSeconds`` above 0 the answer is cached per stage, authorizer and
identity-source values (a policy is cached as a policy and evaluated per route, as API Gateway
does), owned by the event loop and bounded (:data:`MAX_CACHED`); ``ResetAuthorizersCache``
empties a stage's.

The function is invoked through the gateway's invoker as the gateway itself (see
:mod:`shoal.gateway.service` on the resource-based permission AWS would want).
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from shoal.errors import AwsError
from shoal.gateway import responses
from shoal.gateway.authorizers import Authorizer
from shoal.gateway.responses import GatewayResponse
from shoal.gateway.targets import parse_function_uri
from shoal.policy.document import Kind, Policy, parse
from shoal.policy.engine import Principal, Request, evaluate

log = logging.getLogger("shoal.gateway")

ACTION = "execute-api:Invoke"
MAX_CACHED = 4096


def forbidden() -> GatewayResponse:
    return responses.GatewayResponse(
        403, [(b"content-type", b"application/json")], b'{"message":"Forbidden"}'
    )


def unauthorized() -> GatewayResponse:
    return responses.GatewayResponse(
        401, [(b"content-type", b"application/json")], b'{"message":"Unauthorized"}'
    )


class BadAnswer(ValueError):
    pass


@dataclass(frozen=True)
class Answer:
    """An authorizer's answer: a simple yes/no, or a policy to evaluate per route."""

    allowed: bool | None  # None: decided by ``policy``
    policy: Policy | None
    principal_id: str | None
    context: dict[str, Any]

    def allows(self, route_arn: str) -> bool:
        if self.allowed is not None:
            return self.allowed
        assert self.policy is not None  # an answer without `allowed` has a policy
        who = Principal(self.principal_id or "authorizer")
        return evaluate(Request(who, ACTION, route_arn), (self.policy,)).allowed


def parse_answer(payload: bytes, authorizer: Authorizer) -> Answer:
    try:
        doc = json.loads(payload)
    except ValueError:
        raise BadAnswer("not JSON") from None
    if not isinstance(doc, dict):
        raise BadAnswer("not an object")
    context = doc.get("context") or {}
    if not isinstance(context, dict):
        raise BadAnswer("context is not an object")
    if authorizer.simple_responses:
        allowed = doc.get("isAuthorized")
        if not isinstance(allowed, bool):
            raise BadAnswer("isAuthorized is not a boolean")
        return Answer(allowed, None, None, context)
    document = doc.get("policyDocument")
    principal = doc.get("principalId")
    if document is None or not isinstance(principal, str):
        raise BadAnswer("principalId and policyDocument are required")
    policy = parse(document, Kind.IDENTITY, BadAnswer)
    return Answer(None, policy, principal, context)


def request_event(
    event: dict[str, Any], authorizer: Authorizer, route_arn: str, identity: list[str]
) -> dict[str, Any]:
    """The authorizer's event, from the integration event of its payload version."""
    out = {k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")}
    if authorizer.payload_version == "2.0":
        return {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": route_arn,
            "identitySource": identity,
            **{k: v for k, v in out.items() if k != "version"},
        }
    joined = ",".join(identity)
    return {
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": route_arn,
        "identitySource": joined,
        "authorizationToken": joined,
        **{k: v for k, v in out.items() if k != "version"},
    }


class LambdaAuthorizers:
    """Runs Lambda authorizers and caches their answers; one per gateway, event loop only."""

    def __init__(self, gateway: Any) -> None:
        self._gateway = gateway  # its invoker, read per call (the gateway's, as integrations)
        # (api id, stage, authorizer id, identity values) -> (monotonic expiry, answer); LRU
        # order. Per stage, as API Gateway caches (and ResetAuthorizersCache resets) them.
        self._cache: OrderedDict[tuple[str, str, str, tuple[str, ...]], tuple[float, Answer]] = (
            OrderedDict()
        )

    def forget(self, api_id: str, stage: str | None = None) -> None:
        """Forget the API's cached answers (only ``stage``'s, when given)."""
        for key in [k for k in self._cache if k[0] == api_id and stage in (None, k[1])]:
            del self._cache[key]

    async def authorize(
        self,
        api_id: str,
        authorizer: Authorizer,
        event: dict[str, Any],
        route_arn: str,
        identity: list[str],
        trace: str,
    ) -> Answer | GatewayResponse:
        """The answer that allows the request, or the refusal to send."""
        stage = route_arn.split(":", 5)[-1].split("/")[1]  # API_ID/STAGE/METHOD/PATH
        key = (api_id, stage, authorizer.authorizer_id, tuple(identity))
        answer: Answer | None = None
        if authorizer.ttl_s:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > time.monotonic():
                self._cache.move_to_end(key)
                answer = cached[1]
        if answer is None:
            found = await self._invoke(
                authorizer, request_event(event, authorizer, route_arn, identity), trace
            )
            if isinstance(found, GatewayResponse):
                return found
            answer = found
            if authorizer.ttl_s:
                self._cache[key] = (time.monotonic() + authorizer.ttl_s, answer)
                while len(self._cache) > MAX_CACHED:
                    self._cache.popitem(last=False)
        return answer if answer.allows(route_arn) else forbidden()

    async def _invoke(
        self, authorizer: Authorizer, event: dict[str, Any], trace: str
    ) -> Answer | GatewayResponse:
        assert authorizer.uri is not None  # REQUEST authorizers have one (authorizers.build)
        function, qualifier = parse_function_uri(authorizer.uri)
        payload = json.dumps(event, separators=(",", ":")).encode()
        try:
            result = await self._gateway.invoker.invoke(
                function, qualifier, payload, payload_is_json=True, trace_id=trace
            )
        except AwsError as e:
            log.warning("authorizer %s: invoke failed: %s: %s", authorizer.name, e.code, e.message)
            return responses.internal_error()
        if result.function_error:
            log.info("authorizer %s: function error %s", authorizer.name, result.error_type)
            return responses.internal_error()
        try:
            return parse_answer(result.payload, authorizer)
        except BadAnswer as e:
            log.info("authorizer %s: bad answer: %s", authorizer.name, e)
            return responses.internal_error()
