"""Lambda's names, put in the request's region before a handler sees them.

Lambda takes a function as a name, a partial ARN or a full ARN (:mod:`shoal.functions.arns`).
The services below the API know no request, so every ``FunctionName`` is turned here, in one
place, into the full ARN in the request's region: a name means the function of that region,
and a full ARN of another region is not found, as a regional Lambda answers. ``Resource``
(tagging) must already be an ARN; a function's in another region is refused the same way.
"""

from __future__ import annotations

from shoal.api.dispatch import Call, lambda_api
from shoal.functions import arns

_FUNCTION_MEMBERS = ("FunctionName",)


@lambda_api.prepares
def in_region(call: Call) -> None:
    """Rewrite the call's function references as ARNs in ``call.region``."""
    account = call.shoal.settings.account_id
    for member in _FUNCTION_MEMBERS:
        value = call.params.get(member)
        if isinstance(value, str):
            ref = arns.parse(value)
            arns.check_location(ref, call.region, account)
            call.params[member] = arns.function_arn(call.region, account, ref.name, ref.qualifier)
    resource = call.params.get("Resource")
    if isinstance(resource, str) and resource.startswith("arn:") and ":function:" in resource:
        arns.check_location(arns.parse(resource), call.region, account)
