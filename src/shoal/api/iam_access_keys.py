"""IAM users' access keys: create (the secret is shown once), list, activate/deactivate,
delete, and when a key was last used."""

from __future__ import annotations

from typing import Any

from shoal.api.iam_scope import iam, page
from shoal.api.query_router import FormCall, iam_api
from shoal.errors import AwsError
from shoal.iam.models import AccessKey


def _user(call: FormCall) -> str:
    """The user named, else the calling user (IAM's default); the account root has none here."""
    name = call.params.get("UserName") or (call.principal and call.principal.user_name)
    if not name:
        raise AwsError("ValidationError", "Must specify userName when calling with "
                       "non-User credentials", 400)  # fmt: skip
    return name


def _metadata(key: AccessKey) -> dict[str, Any]:
    return {"UserName": key.user, "AccessKeyId": key.id, "Status": key.status,
            "CreateDate": key.created}  # fmt: skip


@iam_api.handles("CreateAccessKey")
async def create_access_key(call: FormCall) -> dict[str, Any]:
    key = iam(call).directory.create_key(_user(call))
    return {"AccessKey": {**_metadata(key), "SecretAccessKey": key.secret}}


@iam_api.handles("ListAccessKeys")
async def list_access_keys(call: FormCall) -> dict[str, Any]:
    keys = iam(call).directory.keys_of(_user(call))
    return page(call, keys, "AccessKeyMetadata", _metadata)


@iam_api.handles("UpdateAccessKey")
async def update_access_key(call: FormCall) -> None:
    p = call.params
    iam(call).directory.update_key(_user(call), p["AccessKeyId"], p["Status"])


@iam_api.handles("DeleteAccessKey")
async def delete_access_key(call: FormCall) -> None:
    iam(call).directory.delete_key(_user(call), call.params["AccessKeyId"])


@iam_api.handles("GetAccessKeyLastUsed")
async def get_access_key_last_used(call: FormCall) -> dict[str, Any]:
    key = iam(call).directory.owner_of_key(call.params["AccessKeyId"])
    # Shoal does not record use yet: AWS's answer for a key never used.
    return {"UserName": key.user, "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}}
