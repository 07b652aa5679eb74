"""KMS's authorization rule, table-driven: the key policy must allow or delegate to the
account before IAM policies count (shoal.kms.policies.gate); root is bound by it too."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shoal.errors import AwsError
from shoal.kms.policies import allows_root, default_policy, gate, managed_policy
from shoal.policy.engine import Principal

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = Principal(arn=f"arn:aws:iam::{ACCOUNT}:user/alice", account=ACCOUNT, user_name="alice")


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ONLY_BOB = _policy({"Effect": "Allow", "Action": "kms:*", "Resource": "*",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}})  # fmt: skip
ALICE_ENCRYPTS = _policy({"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
                          "Principal": {"AWS": ALICE.arn}})  # fmt: skip
DENY_ALICE = _policy(
    {"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Principal": {"AWS": ACCOUNT}},
    {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*", "Principal": {"AWS": ALICE.arn}},
)  # fmt: skip


@pytest.mark.parametrize(("policy", "action", "passes"), [
    (default_policy(ACCOUNT), "kms:Decrypt", True),  # delegated: IAM decides next
    (ONLY_BOB, "kms:Decrypt", False),  # neither alice nor the account: IAM cannot help
    (ALICE_ENCRYPTS, "kms:Encrypt", True),  # granted directly
    (ALICE_ENCRYPTS, "kms:Decrypt", False),
    (DENY_ALICE, "kms:Decrypt", True),  # left to the combined evaluation, which denies
    (managed_policy(ACCOUNT, "elasticfilesystem", "us-east-1"), "kms:Encrypt", False),
    (managed_policy(ACCOUNT, "elasticfilesystem", "us-east-1"), "kms:DescribeKey", True),
])  # fmt: skip
def test_gate(policy: str, action: str, passes: bool) -> None:
    if passes:
        gate(ALICE, action, KEY, policy, {})
        return
    with pytest.raises(AwsError) as e:
        gate(ALICE, action, KEY, policy, {})
    assert e.value.code == "AccessDeniedException"
    assert f"perform: {action} on resource: {KEY} because no resource-based policy" in (
        e.value.message
    )


def test_managed_key_policy_allows_efs_through_its_service() -> None:
    policy = managed_policy(ACCOUNT, "elasticfilesystem", "us-east-1")
    via = {"kms:viaservice": "elasticfilesystem.us-east-1.amazonaws.com",
           "kms:calleraccount": ACCOUNT}  # fmt: skip
    gate(ALICE, "kms:Decrypt", KEY, policy, via)
    with pytest.raises(AwsError):
        gate(ALICE, "kms:Decrypt", KEY, policy, {**via, "kms:calleraccount": "999999999999"})


@pytest.mark.parametrize(("policy", "action", "allowed"), [
    (default_policy(ACCOUNT), "kms:DisableKey", True),
    (ONLY_BOB, "kms:DisableKey", False),
    (DENY_ALICE, "kms:Decrypt", True),
    (managed_policy(ACCOUNT, "elasticfilesystem", "us-east-1"), "kms:DisableKey", False),
    (managed_policy(ACCOUNT, "elasticfilesystem", "us-east-1"), "kms:GetKeyPolicy", True),
])  # fmt: skip
def test_root_is_bound_by_the_key_policy(policy: str, action: str, allowed: bool) -> None:
    assert allows_root(policy, ACCOUNT, action, KEY, {}) is allowed
