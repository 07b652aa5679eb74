"""KMS's service object and what its handlers share: the key a call names, and how a call is
authorized on it.

Which key: ``KeyId`` (most operations), ``TargetKeyId`` (CreateAlias, UpdateAlias), the alias
of DeleteAlias, ``SourceKeyId`` or the ciphertext blob's key (ReEncrypt), ``KeyId`` or the
blob's (Decrypt). CreateKey, ListKeys, ListAliases and GenerateRandom name no key: they are
authorized on ``*`` by IAM policies alone.

Authorization, as KMS does it (:mod:`shoal.kms.policies`): the key policy must allow the call
or delegate it to the account; then the principal's IAM policies and the key policy are
evaluated together (an explicit deny anywhere decides). The account's root user is bound by
the key policy too — a key policy that names neither root nor the account locks it out, and an
AWS managed key's policy keeps its cryptographic operations for its service — so the prepare
hook checks root there, before the dispatcher skips root's IAM evaluation.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shoal.api.dispatch import Call
from shoal.api.rpc_router import RpcApiService
from shoal.identity.actions import Action, action_for
from shoal.identity.authorize import Target, authorize, context, is_root
from shoal.kms.models import Key
from shoal.kms.policies import allows_root, denial, gate, parsed
from shoal.kms.service import KmsService

kms_api = RpcApiService("kms")
_KEY_MEMBER = {"CreateAlias": "TargetKeyId", "UpdateAlias": "TargetKeyId",
               "ReEncrypt": "SourceKeyId"}  # fmt: skip
_NO_KEY = {"CreateKey", "ListKeys", "ListAliases", "GenerateRandom"}
_ALIAS_OPS = {"CreateAlias", "UpdateAlias", "DeleteAlias"}


def service(call: Call) -> KmsService:
    kms: KmsService = call.shoal.kms
    return kms


def key(call: Call, ident: str, *, managed: bool = False) -> Key:
    return service(call).find(call.region, ident, managed=managed)


def call_key(call: Call) -> Key | None:
    """The key the call is about (see the module docstring), None if it names none."""
    if call.operation in _NO_KEY:
        return None
    p, kms = call.params, service(call)
    if call.operation == "DeleteAlias":
        alias = kms.alias(call.region, str(p.get("AliasName")))
        return kms.find(call.region, alias.target) if alias is not None else None
    ident = p.get(_KEY_MEMBER.get(call.operation, "KeyId"))
    if ident is not None:
        return key(call, str(ident), managed=call.operation == "DescribeKey")
    blob = p.get("CiphertextBlob")
    if isinstance(blob, bytes):
        return kms.blob_key(call.region, blob)
    return None


def _action(call: Call) -> Action:
    return action_for("kms", call.operation, call.params, call.region,
                      call.shoal.settings.account_id)  # fmt: skip


def check_root(call: Call, key: Key, action: Action) -> None:
    """Root is allowed only what the key policy allows or delegates to the account."""
    if action.action is None or call.principal is None:
        return
    account = call.shoal.settings.account_id
    if not allows_root(key.policy, account, action.action, key.arn, context(call, action.keys)):
        raise denial(call.principal, action.action, key.arn)


@kms_api.prepares
def _prepare(call: Call) -> None:
    if call.principal is None or not is_root(call.principal):
        return
    found = call_key(call)
    if found is not None:
        check_root(call, found, _action(call))


@kms_api.authorizes_on
def _target(call: Call) -> Target:
    found = call_key(call)
    if found is None or call.principal is None:
        return Target()
    action = _action(call)
    if action.action is not None:
        gate(call.principal, action.action, found.arn, found.policy,
             context(call, action.keys))  # fmt: skip
        alias = call.params.get("AliasName")
        if call.operation in _ALIAS_OPS and isinstance(alias, str):
            # An alias operation needs IAM's permission on the alias too (the KMS Developer
            # Guide, "Controlling access to aliases"), and the key's on the key.
            arn = f"arn:aws:kms:{call.region}:{call.shoal.settings.account_id}:{alias}"
            authorize(call, list(call.shoal.iam.identity_policies(call.principal)),
                      service="kms", action=replace(action, resource=arn))  # fmt: skip
    return Target(resource=found.arn, policies=(parsed(found.policy),))


def authorize_key(call: Call, found: Key, name: str, keys: dict[str, Any]) -> None:
    """A second authorization a handler needs (ReEncrypt's ``kms:ReEncryptTo`` on its
    destination key), by the same rule as the call's own."""
    action = Action(name, found.arn, keys)
    principal = call.principal
    if principal is None:
        return
    if is_root(principal):
        check_root(call, found, action)
        return
    gate(principal, name, found.arn, found.policy, context(call, keys))
    authorize(call, list(call.shoal.iam.identity_policies(principal)), (parsed(found.policy),),
              service="kms", action=action)  # fmt: skip


def page(items: list[Any], p: dict[str, Any], ident: Any, default: int = 100
         ) -> tuple[list[Any], dict[str, Any]]:  # fmt: skip
    """One page of ``items`` (sorted by ``ident``) after ``Marker``, at most ``Limit``."""
    limit = p.get("Limit") or default
    marker = p.get("Marker")
    # After the marker's place in the order, so an item deleted between pages loses none.
    start = 0 if marker is None else sum(1 for i in items if ident(i) <= marker)
    chosen = items[start : start + limit]
    more = start + limit < len(items)
    out: dict[str, Any] = {"Truncated": more}
    if more:
        out["NextMarker"] = ident(chosen[-1])
    return chosen, out
