"""Authorizing a call: the one place every operation of every service is decided by the one
policy engine (:mod:`shoal.policy`), and a denial worded as that service words it.

:func:`authorize_call` is what dispatchers call, once the call is decoded and its principal
verified::

    authorize_call(call, shoal.iam.identity_policies, service="lambda")

It looks up the operation in :mod:`shoal.identity.actions`, builds the request context (the
global keys ``aws:SourceIp``, ``aws:SecureTransport``, ``aws:CurrentTime``, ``aws:EpochTime``,
``aws:RequestedRegion`` and the service's keys), and raises the service's ``AccessDenied…``
error when the engine denies. Resource-based policies (a Lambda function's policy, an EFS
file-system policy) are passed parsed, so they go through the same evaluator, with IAM's logic
for a request within one account: an explicit deny in either kind of policy denies; otherwise an
allow in either allows (a resource policy naming the principal's account only delegates to its
identity policies, :mod:`shoal.policy.engine`). Each service says what a call is authorized on
when its params alone cannot (:class:`Target`: an EFS mount target's file system) and which
resource policy applies, through the hook its dispatcher registers
(``ApiService.authorizes_on``). The account's root user is always allowed; a call made inside
Shoal (no principal) is not checked.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError
from shoal.identity.actions import Action, action_for
from shoal.policy.document import Kind, Policy, parse
from shoal.policy.engine import Decision, Principal, Request, evaluate

if TYPE_CHECKING:  # annotations only: shoal.api.dispatch calls down into this module
    from shoal.api.dispatch import Call

PoliciesFor = Callable[[Principal], Iterable[Policy]]


@dataclass(frozen=True)
class Target:
    """What a call is authorized on, as its service resolves it: ``resource`` replaces the
    ARN the params give (None: keep it), ``policies`` are the resource's resource-based
    policies."""

    resource: str | None = None
    policies: tuple[Policy, ...] = ()


TargetFor = Callable[["Call"], Target]

# service -> (error code, HTTP status) of its access denial.
DENIED: Mapping[str, tuple[str, int]] = {
    "lambda": ("AccessDeniedException", 403),
    "efs": ("AccessDeniedException", 403),
    "apigatewayv2": ("AccessDeniedException", 403),
    "ec2": ("UnauthorizedOperation", 403),
    "iam": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    # json services answer 400; CloudWatch keeps its query code (awsQueryCompatible).
    "logs": ("AccessDeniedException", 400),
    "kms": ("AccessDeniedException", 400),
    "cloudwatch": ("AccessDenied", 403),
}
EC2_HEAD = "You are not authorized to perform this operation. "


class MalformedPolicy(ValueError):
    """A stored resource policy that does not parse (it was validated when it was written)."""


@functools.lru_cache(maxsize=1024)
def resource_policy(document: str) -> Policy:
    """A stored resource-based policy (a Lambda function's policy, as
    ``PermissionService.get`` gives it), parsed once per change of its text."""
    return parse(document, Kind.RESOURCE, MalformedPolicy)


def is_root(principal: Principal) -> bool:
    return principal.arn.endswith(":root") and principal.arn.startswith("arn:aws:iam::")


@functools.lru_cache(maxsize=4)
def _iso_second(epoch: int) -> str:
    """``aws:CurrentTime`` to the second: formatted once per second, not once per request."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def context(
    call: Call, service_keys: Mapping[str, Any], now: float | None = None
) -> dict[str, Any]:
    """The request context: the global keys of the request and the service's own."""
    now = time.time() if now is None else now
    keys: dict[str, Any] = {
        "aws:securetransport": "true" if call.secure else "false",
        "aws:currenttime": _iso_second(int(now)),
        "aws:epochtime": str(int(now)),
        "aws:requestedregion": call.region,
    }
    if call.source_ip:
        keys["aws:sourceip"] = call.source_ip
    keys.update(service_keys)
    return keys


def denied(service: str, request: Request, decision: Decision) -> AwsError:
    """The service's error for a denial, worded as AWS words it: EFS names no resource ("on
    the specified resource") and no reason; EC2 prefixes its own sentence and names no
    resource for an action on ``*``."""
    code, status = DENIED[service]
    message = decision.message(request)
    if service == "efs":
        message = (
            f"User: {request.principal.arn} is not authorized to perform: {request.action} "
            "on the specified resource"
        )
    elif service == "ec2":
        if request.resource == "*":
            message = message.replace(" on resource: *", "", 1)
        message = EC2_HEAD + message
    return AwsError(code, message, status=status)


def authorize(
    call: Call,
    identity_policies: Iterable[Policy],
    resource_policies: Iterable[Policy] = (),
    *,
    service: str,
    action: Action | None = None,
    resource: str | None = None,
) -> None:
    """Raise the service's access-denied error unless ``call.principal`` may make ``call``.
    ``action`` overrides the table's (for a check other than the operation's own);
    ``resource`` the resource it is authorized on."""
    principal = call.principal
    if principal is None or is_root(principal):
        return
    if action is None:
        account = call.shoal.settings.account_id
        action = action_for(service, call.operation, call.params, call.region, account)
    if resource is not None:
        action = replace(action, resource=resource)
    if action.action is None:
        return
    request = Request(principal, action.action, action.resource, context(call, action.keys))
    decision = evaluate(request, identity_policies, resource_policies)
    if not decision.allowed:
        raise denied(service, request, decision)


def authorize_pass_role(call: Call, role_arn: str, identity_policies: Iterable[Policy],
                        *, service: str = "lambda") -> None:  # fmt: skip
    """``iam:PassRole`` of ``role_arn`` to ``service`` (CreateFunction's and
    UpdateFunctionConfiguration's ``Role``), with ``iam:PassedToService``."""
    keys = {"iam:passedtoservice": f"{service}.amazonaws.com"}
    pass_role = Action("iam:PassRole", role_arn, keys)
    authorize(call, identity_policies, service=service, action=pass_role)


def authorize_call(
    call: Call,
    policies_for: PoliciesFor,
    *,
    service: str,
    target_for: TargetFor | None = None,
) -> None:
    """What dispatchers call before a handler: ``policies_for(principal)`` gives the
    principal's identity-based policies (``shoal.iam.identity_policies``), ``target_for(call)``
    the resource and its resource-based policies (the service's hook); neither is called for
    the root user or an internal call. Raises the service's ``AwsError`` when denied."""
    principal = call.principal
    if principal is None or is_root(principal):
        return
    target = target_for(call) if target_for is not None else Target()
    authorize(call, list(policies_for(principal)), target.policies, service=service,
              resource=target.resource)  # fmt: skip
