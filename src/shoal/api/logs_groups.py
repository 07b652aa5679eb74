"""CloudWatch Logs' groups and streams: Create/Delete/DescribeLogGroups,
Create/Delete/DescribeLogStreams, Put/DeleteRetentionPolicy.

Listing tokens: DescribeLogGroups continues after a group name, DescribeLogStreams at an
offset (both opaque to clients); a token that is neither is AWS's "The specified nextToken is
invalid.". Changes run on the log service's writer thread, after the events handed to it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from shoal.api.dispatch import Call
from shoal.api.logs_scope import group_name, group_shape, logs_api, service, stream_shape
from shoal.errors import AwsError
from shoal.observability.events import bad_token
from shoal.observability.groups import RETENTION_DAYS
from shoal.observability.logs import now_ms


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_token() from None


# What a DescribeLogGroups with logGroupNamePattern answers of each group, as real AWS does
# (its guide says "only arn, creationTime, and logGroupName"; recorded answers hold these).
PATTERN_KEYS = ("logGroupName", "creationTime", "metricFilterCount", "arn", "logGroupClass",
                "logGroupArn")  # fmt: skip


@logs_api.handles("CreateLogGroup")
async def create_log_group(call: Call) -> None:
    p, logs = call.params, service(call)
    await logs.write(
        logs.groups.create, call.region, p["logGroupName"], now_ms(logs.clock),
        p.get("tags"), p.get("logGroupClass"), p.get("kmsKeyId"),
    )  # fmt: skip


@logs_api.handles("DeleteLogGroup")
async def delete_log_group(call: Call) -> None:
    logs = service(call)
    await logs.write(logs.groups.delete, call.region, call.params["logGroupName"])


@logs_api.handles("DescribeLogGroups")
async def describe_log_groups(call: Call) -> dict[str, Any]:
    p, logs = call.params, service(call)
    prefix, pattern = p.get("logGroupNamePrefix"), p.get("logGroupNamePattern")
    if prefix and pattern:
        raise AwsError(
            "InvalidParameterException",
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        )
    after = _decode(p["nextToken"]) if p.get("nextToken") else None
    limit = p.get("limit") or 50
    found = await logs.read(
        logs.groups.find, call.region, prefix, pattern, after, limit, p.get("logGroupClass")
    )
    wanted = p.get("logGroupIdentifiers")
    if wanted:
        found = [g for g in found if g.name in wanted or group_shape(call, g)["logGroupArn"]
                 in wanted]  # fmt: skip
    shapes = [group_shape(call, g) for g in found[:limit]]
    if pattern:  # As AWS answers a pattern search (recorded): no storedBytes, retention
        shapes = [{k: s[k] for k in PATTERN_KEYS} for s in shapes]
    out: dict[str, Any] = {"logGroups": shapes}
    if len(found) > limit:
        out["nextToken"] = _encode(found[limit - 1].name)
    return out


@logs_api.handles("CreateLogStream")
async def create_log_stream(call: Call) -> None:
    p, logs = call.params, service(call)
    await logs.write(
        logs.groups.create_stream, call.region, p["logGroupName"], p["logStreamName"],
        now_ms(logs.clock),
    )  # fmt: skip


@logs_api.handles("DeleteLogStream")
async def delete_log_stream(call: Call) -> None:
    p, logs = call.params, service(call)
    await logs.write(logs.groups.delete_stream, call.region, p["logGroupName"], p["logStreamName"])


@logs_api.handles("DescribeLogStreams")
async def describe_log_streams(call: Call) -> dict[str, Any]:
    p, logs = call.params, service(call)
    name = group_name(call)
    by_time = p.get("orderBy") == "LastEventTime"
    prefix = p.get("logStreamNamePrefix")
    if by_time and prefix:
        raise AwsError(
            "InvalidParameterException",
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        )
    offset = 0
    if p.get("nextToken"):
        text = _decode(p["nextToken"])
        if not text.startswith("o/") or not text[2:].isdigit():
            raise bad_token()
        offset = int(text[2:])
    limit = p.get("limit") or 50
    group = await logs.read(logs.groups.get, call.region, name)
    found = await logs.read(
        logs.groups.streams, group, prefix, by_time, bool(p.get("descending")), offset, limit
    )
    out: dict[str, Any] = {"logStreams": [stream_shape(call, group, s) for s in found[:limit]]}
    if len(found) > limit:
        out["nextToken"] = _encode(f"o/{offset + limit}")
    return out


@logs_api.handles("PutRetentionPolicy")
async def put_retention_policy(call: Call) -> None:
    p, logs = call.params, service(call)
    days = p["retentionInDays"]
    if days not in RETENTION_DAYS:
        allowed = ", ".join(map(str, RETENTION_DAYS))
        raise AwsError(
            "InvalidParameterException",
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{allowed}]",
        )
    await logs.write(logs.groups.set_retention, call.region, p["logGroupName"], days)


@logs_api.handles("DeleteRetentionPolicy")
async def delete_retention_policy(call: Call) -> None:
    logs = service(call)
    await logs.write(logs.groups.set_retention, call.region, call.params["logGroupName"], None)
