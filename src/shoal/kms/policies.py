"""Key policies: the ones KMS writes, and KMS's rule for combining them with IAM policies.

Every KMS key has exactly one key policy (``default``). KMS differs from other services in one
way (the KMS Developer Guide, "Key policies"): a principal may use a key only if the key policy
allows it, directly, or by naming the account (``arn:aws:iam::ACCOUNT:root``), which delegates
to the account's IAM policies. An IAM policy alone is not enough when the key policy does not
delegate. :func:`gate` checks that part with the one engine (:mod:`shoal.policy.engine`); the
dispatcher's ordinary evaluation (identity and key policy together: an explicit deny anywhere
decides, else an allow) then decides the rest.

The default key policy (CreateKey without ``Policy``) lets the account's IAM policies decide;
an AWS managed key's (``alias/aws/elasticfilesystem``) allows the cryptographic operations only
through EFS (``kms:ViaService``) and read operations to the account, as AWS writes it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from shoal.errors import AwsError
from shoal.policy.document import Kind, Policy, parse
from shoal.policy.engine import Principal, Request, evaluate


def malformed(message: str) -> AwsError:
    return AwsError("MalformedPolicyDocumentException", message)


def default_policy(account: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }],
    }, indent=2)  # fmt: skip


def managed_policy(account: str, service: str, region: str) -> str:
    """The key policy of the AWS managed key of ``service`` (``elasticfilesystem``)."""
    return json.dumps({
        "Version": "2012-10-17",
        "Id": f"auto-{service}-1",
        "Statement": [
            {
                "Sid": "Allow access to EFS for all principals in the account that are "
                       "authorized to use EFS",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*",
                           "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:ViaService": f"{service}.{region}.amazonaws.com",
                    "kms:CallerAccount": account,
                }},
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*",
            },
        ],
    }, indent=2)  # fmt: skip


def _malformed_factory(message: str) -> AwsError:
    return malformed(message)


@functools.lru_cache(maxsize=512)
def parsed(document: str) -> Policy:
    """A key policy parsed once per text (MalformedPolicyDocumentException if it is not one)."""
    return parse(document, Kind.RESOURCE, _malformed_factory)


def denial(principal: Principal, action: str, resource: str) -> AwsError:
    return AwsError(
        "AccessDeniedException",
        f"User: {principal.arn} is not authorized to perform: {action} on resource: "
        f"{resource} because no resource-based policy allows the {action} action",
        400,
    )


def gate(principal: Principal, action: str, resource: str, policy: str,
         context: Mapping[str, Any]) -> None:  # fmt: skip
    """Raise AccessDeniedException unless the key policy allows ``action`` to ``principal``
    directly or delegates it to the account (see the module docstring). An explicit deny is
    left to the combined evaluation, which words it."""
    decision = evaluate(Request(principal, action, resource, context), (), (parsed(policy),))
    if not (decision.allowed or decision.delegated or decision.explicit_deny):
        raise denial(principal, action, resource)


def allows_root(
    policy: str, account: str, action: str, resource: str, context: Mapping[str, Any]
) -> bool:
    """Whether the key policy lets the account's root user make ``action`` (for the key-policy
    lockout check and AWS managed keys, where root is bound by the key policy too)."""
    root = Principal(arn=f"arn:aws:iam::{account}:root", account=account, user_id=account)
    decision = evaluate(Request(root, action, resource, context), (), (parsed(policy),))
    return decision.allowed or decision.delegated  # delegated: root's IAM allows everything
