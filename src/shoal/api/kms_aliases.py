"""KMS's aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

An alias is ``alias/NAME`` in one region and points at one key (never at another alias). The
``alias/aws/`` prefix is AWS's, for its managed keys (:mod:`shoal.kms.service`): customers can
neither create nor change such aliases.
"""

from __future__ import annotations

from typing import Any

from shoal.api.dispatch import Call
from shoal.api.kms_scope import key, kms_api, page, service
from shoal.errors import AwsError
from shoal.kms.identifiers import ALIAS_PREFIX, MANAGED_PREFIX
from shoal.kms.models import PENDING_DELETION, Key

PREFIX_MESSAGE = (
    'Alias must start with the prefix "alias/". Please see '
    "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)


def _name(call: Call) -> str:
    name = str(call.params["AliasName"])
    if not name.startswith(ALIAS_PREFIX):
        raise AwsError("ValidationException", PREFIX_MESSAGE)
    if name.startswith(MANAGED_PREFIX):
        raise AwsError("InvalidAliasNameException",
                       f"Alias {name} cannot begin with reserved prefix alias/aws/")  # fmt: skip
    return name


def _target(call: Call) -> Key:
    ident = str(call.params["TargetKeyId"])
    if ident.startswith(ALIAS_PREFIX) or ":alias/" in ident:
        raise AwsError("ValidationException", "Aliases must refer to keys. Not aliases")
    found = key(call, ident)
    if found.state == PENDING_DELETION:
        raise AwsError("KMSInvalidStateException", f"{found.arn} is pending deletion.")
    return found


@kms_api.handles("CreateAlias")
async def create_alias(call: Call) -> None:
    name = _name(call)
    service(call).put_alias(call.region, name, _target(call), create=True)


@kms_api.handles("UpdateAlias")
async def update_alias(call: Call) -> None:
    name = _name(call)
    service(call).put_alias(call.region, name, _target(call), create=False)


@kms_api.handles("DeleteAlias")
async def delete_alias(call: Call) -> None:
    service(call).delete_alias(call.region, _name(call))


@kms_api.handles("ListAliases")
async def list_aliases(call: Call) -> dict[str, Any]:
    key_id = call.params.get("KeyId")
    target = key(call, key_id).id if key_id is not None else None
    aliases, out = page(service(call).aliases(call.region, target), call.params,
                        lambda a: a.name, default=50)  # fmt: skip
    return {"Aliases": [a.entry() for a in aliases], **out}
