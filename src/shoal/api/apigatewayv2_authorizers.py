"""API Gateway v2 authorizer handlers (Create/Get/Update/Delete Authorizer, GetAuthorizers,
ResetAuthorizersCache), and
the check of a route's ``AuthorizationType``/``AuthorizerId``/``AuthorizationScopes`` that
CreateRoute and UpdateRoute go through (:func:`check_route_members`, called from
:mod:`shoal.api.apigatewayv2`'s per-call preparation).

Members Shoal acts on are the authorizer's typed fields (:mod:`shoal.gateway.authorizers`); the
rest (``AuthorizerCredentialsArn``, ``IdentityValidationExpression``) are kept as given and
answered back.
"""

from __future__ import annotations

from typing import Any

from shoal.api.apigatewayv2_scope import gateway_of, page
from shoal.api.dispatch import Call, apigatewayv2_api
from shoal.gateway import authorizers
from shoal.gateway.authorizers import AUTHORIZER_ARGS, Authorizer

_HANDLED = ("ApiId", "AuthorizerId", *AUTHORIZER_ARGS)


def _extra(call: Call) -> dict[str, Any]:
    return {k: v for k, v in call.params.items() if k not in _HANDLED}


def _authorizer(a: Authorizer) -> dict[str, Any]:
    out: dict[str, Any] = {
        **a.extra,
        "AuthorizerId": a.authorizer_id,
        "AuthorizerType": a.authorizer_type,
        "IdentitySource": list(a.identity_source),
        "Name": a.name,
    }
    if a.authorizer_type == "JWT":
        out["JwtConfiguration"] = {"Audience": list(a.audience), "Issuer": a.issuer}
    else:
        out.update(
            AuthorizerUri=a.uri,
            AuthorizerPayloadFormatVersion=a.payload_version,
            AuthorizerResultTtlInSeconds=a.ttl_s,
            EnableSimpleResponses=a.simple_responses,
        )
    return out


def check_route_members(call: Call) -> None:
    """CreateRoute/UpdateRoute: the route's authorization members, as API Gateway checks them
    (for UpdateRoute, over the route's current ones)."""
    if call.operation not in ("CreateRoute", "UpdateRoute"):
        return
    gateway = gateway_of(call)
    api = gateway.apis.get(call.params["ApiId"])
    members: dict[str, Any] = {
        k: call.params[k]
        for k in ("AuthorizationType", "AuthorizerId", "AuthorizationScopes")
        if k in call.params
    }
    if call.operation == "UpdateRoute":
        old = gateway.apis.get_route(api.api_id, call.params["RouteId"]).extra
        members = {**old, **members}
        if members.get("AuthorizationType") in ("NONE", "AWS_IAM"):
            # A route that no longer uses an authorizer forgets it and its scopes, as on API
            # Gateway: the None reaches the route's kept members, which the answer leaves out.
            for name in ("AuthorizerId", "AuthorizationScopes"):
                if old.get(name) and name not in call.params:
                    call.params[name] = members[name] = None
    authorizers.check_route(api, gateway.authorizers.of(api.api_id), members)


@apigatewayv2_api.handles("CreateAuthorizer")
async def create_authorizer(call: Call) -> dict[str, Any]:
    gateway = gateway_of(call)
    api = gateway.apis.get(call.params["ApiId"])
    return _authorizer(gateway.authorizers.create(api, call.params, _extra(call)))


@apigatewayv2_api.handles("GetAuthorizer")
async def get_authorizer(call: Call) -> dict[str, Any]:
    p = call.params
    return _authorizer(gateway_of(call).authorizers.get(p["ApiId"], p["AuthorizerId"]))


@apigatewayv2_api.handles("GetAuthorizers")
async def get_authorizers(call: Call) -> dict[str, Any]:
    gateway = gateway_of(call)
    api = gateway.apis.get(call.params["ApiId"])
    items = sorted(gateway.authorizers.of(api.api_id).values(), key=lambda a: a.name)
    return page([_authorizer(a) for a in items], call.params)


@apigatewayv2_api.handles("UpdateAuthorizer")
async def update_authorizer(call: Call) -> dict[str, Any]:
    gateway = gateway_of(call)
    api = gateway.apis.get(call.params["ApiId"])
    found = gateway.authorizers.update(api, call.params["AuthorizerId"], call.params, _extra(call))
    gateway.lambda_authorizers.forget(api.api_id)  # cached answers were the old authorizer's
    return _authorizer(found)


@apigatewayv2_api.handles("DeleteAuthorizer")
async def delete_authorizer(call: Call) -> None:
    gateway = gateway_of(call)
    api = gateway.apis.get(call.params["ApiId"])
    gateway.authorizers.delete(api, call.params["AuthorizerId"])
    gateway.lambda_authorizers.forget(api.api_id)


@apigatewayv2_api.handles("ResetAuthorizersCache")
async def reset_authorizers_cache(call: Call) -> None:
    """The stage's cached Lambda authorizer answers are forgotten: the next request of each
    identity calls its authorizer again."""
    gateway = gateway_of(call)
    api = gateway.apis.get(call.params["ApiId"])
    stage = gateway.apis.get_stage(api.api_id, call.params["StageName"])
    gateway.lambda_authorizers.forget(api.api_id, stage.stage_name)
