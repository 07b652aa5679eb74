"""CloudWatch Logs' tags on log groups: TagLogGroup/UntagLogGroup/ListTagsLogGroup (by name,
the older API) and TagResource/UntagResource/ListTagsForResource (by ARN)."""

from __future__ import annotations

from typing import Any

from shoal.api.dispatch import Call
from shoal.api.logs_scope import logs_api, name_from_arn, service
from shoal.errors import AwsError
from shoal.observability.groups import not_found


def _by_arn(call: Call) -> str:
    arn = call.params["resourceArn"]
    name = name_from_arn(arn)
    if name is None:
        raise AwsError("InvalidParameterException", f"Invalid ARN: {arn}")
    region = arn.split(":")[3]
    if region != call.region or arn.split(":")[4] != call.shoal.settings.account_id:
        raise not_found()
    return name


async def _tag(call: Call, name: str, add: dict[str, str] | None,
               remove: list[str] | None) -> None:  # fmt: skip
    logs = service(call)
    await logs.write(logs.groups.tag, call.region, name, add, remove)


async def _list(call: Call, name: str) -> dict[str, Any]:
    logs = service(call)
    group = await logs.read(logs.groups.get, call.region, name)
    return {"tags": group.tags}


@logs_api.handles("TagLogGroup")
async def tag_log_group(call: Call) -> None:
    await _tag(call, call.params["logGroupName"], call.params["tags"], None)


@logs_api.handles("UntagLogGroup")
async def untag_log_group(call: Call) -> None:
    await _tag(call, call.params["logGroupName"], None, call.params["tags"])


@logs_api.handles("ListTagsLogGroup")
async def list_tags_log_group(call: Call) -> dict[str, Any]:
    return await _list(call, call.params["logGroupName"])


@logs_api.handles("TagResource")
async def tag_resource(call: Call) -> None:
    await _tag(call, _by_arn(call), call.params["tags"], None)


@logs_api.handles("UntagResource")
async def untag_resource(call: Call) -> None:
    await _tag(call, _by_arn(call), None, call.params["tagKeys"])


@logs_api.handles("ListTagsForResource")
async def list_tags_for_resource(call: Call) -> dict[str, Any]:
    return await _list(call, _by_arn(call))
