"""Lambda's resource-based policy operations: AddPermission, RemovePermission, GetPolicy, and
the function's policy as the resource policy every signed call on that function is authorized
with. The documents are :mod:`shoal.functions.permissions`'s; this module maps shapes."""

from __future__ import annotations

import json
from typing import Any

from shoal.api.dispatch import Call, lambda_api
from shoal.functions.permissions import PermissionService
from shoal.identity.actions import function_arn
from shoal.identity.authorize import Target, resource_policy


def _svc(call: Call) -> PermissionService:
    service: PermissionService = call.shoal.permissions
    return service


@lambda_api.handles("AddPermission")
async def add_permission(call: Call) -> dict[str, Any]:
    return {"Statement": json.dumps(_svc(call).add(call.params), separators=(",", ":"))}


@lambda_api.handles("RemovePermission")
async def remove_permission(call: Call) -> None:
    p = call.params
    _svc(call).remove(p["FunctionName"], p["StatementId"], p.get("Qualifier"), p.get("RevisionId"))


@lambda_api.handles("GetPolicy")
async def get_policy(call: Call) -> dict[str, Any]:
    policy, revision = _svc(call).get(call.params["FunctionName"], call.params.get("Qualifier"))
    return {"Policy": policy, "RevisionId": revision}


@lambda_api.authorizes_on
def function_policy(call: Call) -> Target:
    """The policy of the function (or version, or alias) the call names, if it has one."""
    if not isinstance(call.params.get("FunctionName"), str):
        return Target()
    arn = function_arn(call.params, call.region, call.shoal.settings.account_id)
    document = _svc(call).document(arn)
    return Target(policies=(resource_policy(document),)) if document else Target()
