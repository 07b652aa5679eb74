"""KMS's key operations: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey,
ScheduleKeyDeletion, CancelKeyDeletion, UpdateKeyDescription, Get/Put/ListKeyPolicies.

Shoal's keys are symmetric (``SYMMETRIC_DEFAULT``, ``ENCRYPT_DECRYPT``, origin ``AWS_KMS``, one
region): other key specs, origins and multi-Region keys answer UnsupportedOperationException.
An AWS managed key can be described and used, never changed: its key policy allows its
account only to read it, which KMS's own authorization enforces (:mod:`shoal.api.kms_scope`).
"""

from __future__ import annotations

from typing import Any

from shoal.api.dispatch import Call
from shoal.api.kms_scope import key, kms_api, page, service
from shoal.api.kms_tags import checked_tags
from shoal.errors import AwsError
from shoal.identity.authorize import context, is_root
from shoal.kms.models import Key
from shoal.kms.policies import allows_root, malformed, parsed
from shoal.policy.engine import Request, evaluate

SYMMETRIC = "SYMMETRIC_DEFAULT"
LOCKOUT = "The new key policy will not allow you to update the key policy in the future."


def _check_spec(p: dict[str, Any]) -> None:
    spec = p.get("KeySpec") or p.get("CustomerMasterKeySpec") or SYMMETRIC
    if p.get("KeySpec") and p.get("CustomerMasterKeySpec"):
        raise AwsError("ValidationException", "You cannot specify KeySpec and "
                       "CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is "
                       "deprecated.")  # fmt: skip
    usage = p.get("KeyUsage") or "ENCRYPT_DECRYPT"
    if spec != SYMMETRIC:
        raise AwsError("UnsupportedOperationException", f"KeySpec {spec} is not supported")
    if usage != "ENCRYPT_DECRYPT":
        raise AwsError("ValidationException",
                       f"KeyUsage {usage} is not compatible with KeySpec {spec}")  # fmt: skip
    origin = p.get("Origin") or "AWS_KMS"
    if origin != "AWS_KMS":
        raise AwsError("UnsupportedOperationException", f"Origin {origin} is not supported")
    if p.get("MultiRegion") or p.get("CustomKeyStoreId") or p.get("XksKeyId"):
        raise AwsError("UnsupportedOperationException",
                       "Multi-Region keys and custom key stores are not supported")  # fmt: skip


def _lockout(call: Call, policy: str, arn: str) -> None:
    """The key-policy lockout safety check: the caller must still be able to PutKeyPolicy."""
    if call.params.get("BypassPolicyLockoutSafetyCheck") or call.principal is None:
        return
    parsed(policy)
    account = call.shoal.settings.account_id
    ctx = context(call, {})
    if is_root(call.principal):
        ok = allows_root(policy, account, "kms:PutKeyPolicy", arn, ctx)
    else:
        request = Request(call.principal, "kms:PutKeyPolicy", arn, ctx)
        decision = evaluate(request, (), (parsed(policy),))
        ok = decision.allowed or decision.delegated
    if not ok:
        raise malformed(LOCKOUT)


@kms_api.handles("CreateKey")
async def create_key(call: Call) -> dict[str, Any]:
    p, kms = call.params, service(call)
    _check_spec(p)
    tags = checked_tags(p.get("Tags") or [])
    policy = p.get("Policy")
    if policy is not None:
        _lockout(call, policy, f"arn:aws:kms:{call.region}:{kms.account}:key/*")
    made = kms.create_key(call.region, p.get("Description") or "", policy, tags)
    return {"KeyMetadata": made.metadata()}


@kms_api.handles("DescribeKey")
async def describe_key(call: Call) -> dict[str, Any]:
    return {"KeyMetadata": key(call, call.params["KeyId"], managed=True).metadata()}


@kms_api.handles("ListKeys")
async def list_keys(call: Call) -> dict[str, Any]:
    keys, out = page(service(call).keys(call.region), call.params, lambda k: k.id)
    return {"Keys": [{"KeyId": k.id, "KeyArn": k.arn} for k in keys], **out}


@kms_api.handles("EnableKey")
async def enable_key(call: Call) -> None:
    service(call).set_enabled(key(call, call.params["KeyId"]), True)


@kms_api.handles("DisableKey")
async def disable_key(call: Call) -> None:
    service(call).set_enabled(key(call, call.params["KeyId"]), False)


@kms_api.handles("ScheduleKeyDeletion")
async def schedule_key_deletion(call: Call) -> dict[str, Any]:
    days = call.params.get("PendingWindowInDays", 30)
    if not 7 <= days <= 30:
        bound = "greater than or equal to 7" if days < 7 else "less than or equal to 30"
        raise AwsError("ValidationException", f"1 validation error detected: Value '{days}' at "
                       f"'pendingWindowInDays' failed to satisfy constraint: Member must have "
                       f"value {bound}")  # fmt: skip
    found = service(call).schedule_deletion(key(call, call.params["KeyId"]), days)
    return {"KeyId": found.arn, "DeletionDate": found.deletion_date,
            "KeyState": found.state, "PendingWindowInDays": days}  # fmt: skip


@kms_api.handles("CancelKeyDeletion")
async def cancel_key_deletion(call: Call) -> dict[str, Any]:
    found = service(call).cancel_deletion(key(call, call.params["KeyId"]))
    return {"KeyId": found.arn}


@kms_api.handles("UpdateKeyDescription")
async def update_key_description(call: Call) -> None:
    found = key(call, call.params["KeyId"])
    service(call).update(found, description=call.params["Description"])


def _policy_name(call: Call) -> None:
    if call.params.get("PolicyName", "default") != "default":
        raise AwsError("NotFoundException", "No such policy exists")


@kms_api.handles("GetKeyPolicy")
async def get_key_policy(call: Call) -> dict[str, Any]:
    _policy_name(call)
    return {"Policy": key(call, call.params["KeyId"]).policy, "PolicyName": "default"}


@kms_api.handles("PutKeyPolicy")
async def put_key_policy(call: Call) -> None:
    _policy_name(call)
    found: Key = key(call, call.params["KeyId"])
    policy = call.params["Policy"]
    parsed(policy)
    _lockout(call, policy, found.arn)
    service(call).update(found, policy=policy)


@kms_api.handles("ListKeyPolicies")
async def list_key_policies(call: Call) -> dict[str, Any]:
    key(call, call.params["KeyId"])
    return {"PolicyNames": ["default"], "Truncated": False}


@kms_api.handles("GetKeyRotationStatus")
async def get_key_rotation_status(call: Call) -> dict[str, Any]:
    """Shoal does not rotate key material (EnableKeyRotation is not served): always off."""
    found = key(call, call.params["KeyId"])
    return {"KeyRotationEnabled": False, "KeyId": found.arn}
