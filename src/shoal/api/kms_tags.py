"""KMS's key tags: TagResource, UntagResource, ListResourceTags, and the rules CreateKey's
``Tags`` follow too (at most 50, no duplicate keys, none beginning with ``aws:``: the messages
AWS answers, as recorded in LocalStack's kms snapshots)."""

from __future__ import annotations

from typing import Any

from shoal.api.dispatch import Call
from shoal.api.kms_scope import key, kms_api, page, service
from shoal.errors import AwsError

MAX_TAGS = 50


def _tag_error(message: str) -> AwsError:
    return AwsError("TagException", message)


def checked_tags(tags: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    keys = [t["TagKey"] for t in tags]
    if len(set(keys)) != len(keys):
        raise _tag_error("Duplicate tag keys")
    if any(k.lower().startswith("aws:") for k in keys):
        raise _tag_error("Tags beginning with aws: are reserved")
    if len(tags) > MAX_TAGS:
        raise _tag_error("Too many tags")
    return tuple((t["TagKey"], t["TagValue"]) for t in tags)


@kms_api.handles("TagResource")
async def tag_resource(call: Call) -> None:
    found = key(call, call.params["KeyId"])
    new = dict(checked_tags(call.params["Tags"]))
    merged = {**dict(found.tags), **new}
    if len(merged) > MAX_TAGS:
        raise _tag_error("Too many tags")
    service(call).update(found, tags=tuple(merged.items()))


@kms_api.handles("UntagResource")
async def untag_resource(call: Call) -> None:
    found = key(call, call.params["KeyId"])
    gone = set(call.params["TagKeys"])
    service(call).update(found, tags=tuple(t for t in found.tags if t[0] not in gone))


@kms_api.handles("ListResourceTags")
async def list_resource_tags(call: Call) -> dict[str, Any]:
    found = key(call, call.params["KeyId"])
    tags, out = page(sorted(found.tags), call.params, lambda t: t[0], default=50)
    return {"Tags": [{"TagKey": k, "TagValue": v} for k, v in tags], **out}
