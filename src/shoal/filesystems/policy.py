"""File-system policies: IAM JSON resource policies for the three EFS client actions.

A policy decides, for one principal (a function's execution role, or ``None`` for an anonymous
NFS client) reaching one file system through one access point, whether it may mount
(``elasticfilesystem:ClientMount``), write (``ClientWrite``) and act as root
(``ClientRootAccess``). Parsing and evaluation are the one policy engine's
(:mod:`shoal.policy`); what is EFS's is here: the three actions, the context keys a mount
carries (``elasticfilesystem:AccessPointArn``, ``aws:SecureTransport``: always true, Shoal's
mounts never cross a network), ``InvalidPolicyException`` for a malformed document, and that
no policy at all grants everything, as on EFS. Shoal has no IAM identity policies yet, so a
file-system policy is the only source of an Allow.
"""

from __future__ import annotations

from dataclasses import dataclass

from shoal import policy as engine
from shoal.errors import AwsError

CLIENT_MOUNT = "elasticfilesystem:ClientMount"
CLIENT_WRITE = "elasticfilesystem:ClientWrite"
CLIENT_ROOT = "elasticfilesystem:ClientRootAccess"
ANONYMOUS = engine.Principal(arn="anonymous")


@dataclass(frozen=True)
class Access:
    """What a principal may do through one access point."""

    mount: bool = True
    write: bool = True
    root: bool = True


FULL_ACCESS = Access()


def invalid(message: str) -> AwsError:
    return AwsError("InvalidPolicyException", message)


def parse(text: str) -> engine.Policy:
    """Parse and validate a policy document; raise ``InvalidPolicyException`` if malformed."""
    return engine.parse(text, engine.Kind.RESOURCE, invalid)


def evaluate(
    doc: engine.Policy | None,
    *,
    principal: str | None,
    file_system_arn: str,
    access_point_arn: str | None,
) -> Access:
    """Decide the three client actions for ``principal`` (a role ARN, None = anonymous)."""
    if doc is None:
        return FULL_ACCESS
    context = {"aws:securetransport": "true"}
    if access_point_arn is not None:
        context["elasticfilesystem:accesspointarn"] = access_point_arn
    who = ANONYMOUS
    if principal is not None:
        parts = principal.split(":")
        who = engine.Principal(arn=principal, account=parts[4] if len(parts) > 5 else "")

    def allowed(action: str) -> bool:
        request = engine.Request(who, action, file_system_arn, context)
        return engine.evaluate(request, resource=[doc]).allowed

    return Access(allowed(CLIENT_MOUNT), allowed(CLIENT_WRITE), allowed(CLIENT_ROOT))


Policy = engine.Policy

__all__ = ["Access", "FULL_ACCESS", "Policy", "evaluate", "parse"]
