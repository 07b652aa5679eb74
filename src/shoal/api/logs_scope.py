"""CloudWatch Logs' service object and what its handlers share: the log group a call names
(``logGroupName`` or ``logGroupIdentifier``, a name or an ARN), ARNs, and the AWS shapes of a
group and a stream.

Model-constraint failures answer ``InvalidParameterException`` (AWS's code for them in this
service, with the usual "1 validation error detected" message).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from shoal.api.dispatch import Call
from shoal.api.rpc_router import RpcApiService
from shoal.errors import AwsError
from shoal.observability.groups import Group, Stream
from shoal.observability.logs import LogService

# What CreateLogGroup and CreateLogStream answer for a name over 512 characters (recorded
# against AWS), in place of the generic model-constraint message.
LONG_NAME = "Invalid LogGroup or LogStream, both must have length less than or equal to 512."
_NAMED = ("CreateLogGroup", "CreateLogStream")


class LogsApiService(RpcApiService):
    """CloudWatch Logs' handlers: the json service, with Logs' own word for a long name."""

    def _parse(self, wire: ModuleType, op: Any, body: bytes) -> dict[str, Any]:
        try:
            return super()._parse(wire, op, body)
        except AwsError as e:
            too_long = "Member must have length less than or equal to 512" in e.message
            named = "at 'logGroupName'" in e.message or "at 'logStreamName'" in e.message
            if op.name in _NAMED and too_long and named:
                raise AwsError("InvalidParameterException", LONG_NAME, 400) from None
            raise


logs_api = LogsApiService("logs", validation_code="InvalidParameterException")


def service(call: Call) -> LogService:
    logs: LogService = call.shoal.logs
    return logs


def group_arn(call: Call, name: str) -> str:
    """``arn:aws:logs:REGION:ACCOUNT:log-group:NAME`` (the ``logGroupArn``)."""
    return f"arn:aws:logs:{call.region}:{call.shoal.settings.account_id}:log-group:{name}"


def name_from_arn(arn: str) -> str | None:
    """The group name of a log-group ARN (with or without the trailing ``:*``), else None."""
    parts = arn.split(":", 6)
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "logs":
        return None
    kind, _, rest = parts[5], None, parts[6]
    if kind != "log-group":
        return None
    return rest.removesuffix(":*") or None


def group_name(call: Call, required: bool = True) -> str | None:
    """The group the call names, by ``logGroupName`` or ``logGroupIdentifier``."""
    p = call.params
    name, ident = p.get("logGroupName"), p.get("logGroupIdentifier")
    if name is not None and ident is not None:
        raise AwsError(
            "ValidationException",
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
            400,
        )
    if ident is not None:
        if ident.startswith("arn:"):
            name = name_from_arn(ident)
            if name is None:
                raise AwsError("InvalidParameterException", f"Invalid log group ARN: {ident}")
        else:
            name = ident
    if name is None and required:
        raise AwsError(
            "InvalidParameterException", "Should provide either name or ARN of the log group."
        )
    return name


def group_shape(call: Call, g: Group) -> dict[str, Any]:
    arn = group_arn(call, g.name)
    out: dict[str, Any] = {
        "logGroupName": g.name,
        "creationTime": g.created,
        "metricFilterCount": 0,
        "arn": f"{arn}:*",
        "storedBytes": g.stored_bytes,
        "logGroupClass": g.log_class,
        "logGroupArn": arn,
        "deletionProtectionEnabled": False,
    }
    if g.retention is not None:
        out["retentionInDays"] = g.retention
    if g.kms:
        out["kmsKeyId"] = g.kms
    return out


def stream_shape(call: Call, g: Group, s: Stream) -> dict[str, Any]:
    out: dict[str, Any] = {
        "logStreamName": s.name,
        "creationTime": s.created,
        "arn": f"{group_arn(call, g.name)}:log-stream:{s.name}",
        "storedBytes": s.stored_bytes,
    }
    if s.first_ts is not None:
        out["firstEventTimestamp"] = s.first_ts
        out["lastEventTimestamp"] = s.last_ts
        out["lastIngestionTime"] = s.last_ingest
        out["uploadSequenceToken"] = str(10**55 + s.id)
    return out
