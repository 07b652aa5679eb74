"""File-system policies and the IAM decision of what a client may do on a file system.

A client reaching one file system through one access point may mount it
(``elasticfilesystem:ClientMount``, read-only by itself), write (``ClientWrite``) and act as
root (``ClientRootAccess``). How EFS decides, as its User Guide says ("Using IAM to control
access to file systems"), and how Shoal follows it:

- **A client that identifies itself with IAM** (EFS's mount helper with ``-o iam``; Lambda
  always mounts this way, as the function's execution role): EFS evaluates the file-system
  policy "along with any identity-based IAM policies", and "an allow permission on an action in
  either an IAM identity policy or a file system resource policy allows access for that
  action"; an explicit deny in either denies. Here the role's identity policies (the
  ``AmazonElasticFileSystemClientReadWriteAccess`` managed policy grants mount and write, the
  ``…ReadOnlyAccess`` one mount only) and the file-system policy go through the one policy
  engine (:mod:`shoal.policy`) with IAM's same-account logic.
- **No file-system policy**: "the default EFS file system policy grants full access to any
  client that can connect to the file system using a file system mount target" and is "in
  effect whenever a user-configured file system policy is not in effect". It is evaluated as
  the policy :data:`DEFAULT_POLICY` (all three actions to ``*`` on
  ``elasticfilesystem:AccessedViaMountTarget``), so an IAM client's own explicit deny still
  applies, as it would against the default policy on EFS.
- **An anonymous client** (an NFS client without IAM, the host's ``shoal fs mount``): only the
  file-system policy applies (``Principal`` ``*`` statements); without one, full access.

The context of every decision: ``elasticfilesystem:AccessPointArn`` (through an access point),
``elasticfilesystem:AccessedViaMountTarget`` (true: every Shoal client reaches a file system as
through a mount target) and ``aws:SecureTransport``: true for functions' and host mounts (they
never leave the machine) and for NFS clients through a mount target's TLS terminator, false for
plaintext NFS clients (:mod:`shoal.filesystems.targets` decides both). ``InvalidPolicyException``
answers a malformed document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from shoal import policy as engine
from shoal.errors import AwsError

CLIENT_MOUNT = "elasticfilesystem:ClientMount"
CLIENT_WRITE = "elasticfilesystem:ClientWrite"
CLIENT_ROOT = "elasticfilesystem:ClientRootAccess"
ANONYMOUS = engine.Principal(arn="anonymous")


@dataclass(frozen=True)
class Access:
    """What a principal may do through one access point. ``refusal``: why ``mount`` is
    False, worded for the mount failure ("" when it is allowed)."""

    mount: bool = True
    write: bool = True
    root: bool = True
    refusal: str = field(default="", compare=False)


FULL_ACCESS = Access()


def invalid(message: str) -> AwsError:
    return AwsError("InvalidPolicyException", message)


def parse(text: str) -> engine.Policy:
    """Parse and validate a policy document; raise ``InvalidPolicyException`` if malformed."""
    return engine.parse(text, engine.Kind.RESOURCE, invalid)


DEFAULT_POLICY = parse(
    json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [CLIENT_ROOT, CLIENT_WRITE, CLIENT_MOUNT],
                    "Condition": {
                        "Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}
                    },
                }
            ],
        }
    )
)


def role_session(role_arn: str, session: str) -> engine.Principal:
    """The principal of ``role_arn``'s session ``session`` (a function's: its name)."""
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    name = role_arn.rsplit("/", 1)[-1]
    return engine.Principal(
        arn=f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        account=account,
        role_arn=role_arn,
    )


def evaluate(
    doc: engine.Policy | None,
    *,
    principal: str | engine.Principal | None,
    file_system_arn: str,
    access_point_arn: str | None,
    identity: Iterable[engine.Policy] = (),
    secure_transport: bool = True,
) -> Access:
    """Decide the three client actions for ``principal`` (a role ARN or session; None: an
    anonymous client) given the file-system policy ``doc`` (None: the default) and the
    principal's identity-based policies; ``secure_transport``: the client's traffic is
    encrypted or never leaves the machine (``aws:SecureTransport``)."""
    if principal is None and doc is None:
        return FULL_ACCESS
    context = {
        "aws:securetransport": "true" if secure_transport else "false",
        "elasticfilesystem:accessedviamounttarget": "true",
    }
    if access_point_arn is not None:
        context["elasticfilesystem:accesspointarn"] = access_point_arn
    if principal is None:
        who, identity = ANONYMOUS, ()
    elif isinstance(principal, str):
        who = role_session(principal, "shoal")
    else:
        who = principal
    identity = list(identity)
    resource = [doc if doc is not None else DEFAULT_POLICY]

    def decide(action: str) -> engine.Decision:
        request = engine.Request(who, action, file_system_arn, context)
        return engine.evaluate(request, identity, resource)

    mount = decide(CLIENT_MOUNT)
    refusal = "" if mount.allowed else _refusal(mount)
    return Access(mount.allowed, decide(CLIENT_WRITE).allowed, decide(CLIENT_ROOT).allowed,
                  refusal)  # fmt: skip


def _refusal(decision: engine.Decision) -> str:
    if decision.explicit_deny:
        where = "the file system policy" if decision.source == "resource" else \
            "an identity-based policy"  # fmt: skip
        sid = f" (statement {decision.sid})" if decision.sid else ""
        return f"explicitly denied {CLIENT_MOUNT} in {where}{sid}"
    return f"neither the file system policy nor an identity-based policy allows {CLIENT_MOUNT}"


Policy = engine.Policy

__all__ = ["Access", "DEFAULT_POLICY", "FULL_ACCESS", "Policy", "evaluate", "parse",
           "role_session"]  # fmt: skip
