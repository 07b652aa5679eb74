"""CloudWatch Logs' events: PutLogEvents, GetLogEvents, FilterLogEvents.

PutLogEvents keeps AWS's rules: a batch is at most 10,000 events and 1,048,576 bytes (each
event's UTF-8 message plus 26 bytes), in chronological order, spanning at most 24 hours;
events more than two hours ahead, more than 14 days old or older than the group's retention
are not stored but reported in ``rejectedLogEventsInfo``. Sequence tokens are accepted and
ignored, as AWS now does. Events are stored before the call answers (persist first).
"""

from __future__ import annotations

from typing import Any

from shoal.api.dispatch import Call
from shoal.api.logs_scope import group_name, logs_api, service
from shoal.errors import AwsError
from shoal.observability import events as reads
from shoal.observability.logs import now_ms
from shoal.observability.logstore import Pending

MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
TOO_NEW_MS = 2 * 3600 * 1000
TOO_OLD_MS = 14 * 86_400_000
MAX_SPAN_MS = 24 * 3600 * 1000


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def _check_batch(events: list[dict[str, Any]]) -> None:
    size = sum(len(e["message"].encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD
               for e in events)  # fmt: skip
    if size > MAX_BATCH_BYTES:
        raise _invalid(f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}")
    stamps = [e["timestamp"] for e in events]
    if any(a > b for a, b in zip(stamps, stamps[1:], strict=False)):
        raise _invalid(
            "Log events in a single PutLogEvents request must be in chronological order."
        )
    if stamps[-1] - stamps[0] > MAX_SPAN_MS:
        raise _invalid(
            "The batch of log events in a single PutLogEvents request cannot span more than "
            "24 hours."
        )


@logs_api.handles("PutLogEvents")
async def put_log_events(call: Call) -> dict[str, Any]:
    p, logs = call.params, service(call)
    events: list[dict[str, Any]] = p["logEvents"]
    _check_batch(events)
    group = await logs.read(logs.groups.get, call.region, p["logGroupName"])
    await logs.read(logs.groups.stream, group, p["logStreamName"])
    now = now_ms(logs.clock)
    expired_before = now - group.retention * 86_400_000 if group.retention else None
    rejected: dict[str, int] = {}
    kept: list[Pending] = []
    for i, e in enumerate(events):
        ts = e["timestamp"]
        if ts > now + TOO_NEW_MS:
            rejected.setdefault("tooNewLogEventStartIndex", i)
        elif ts < now - TOO_OLD_MS:
            rejected["tooOldLogEventEndIndex"] = i + 1
        elif expired_before is not None and ts < expired_before:
            rejected["expiredLogEventEndIndex"] = i + 1
        else:
            kept.append(Pending(call.region, group.name, p["logStreamName"], ts, now, e["message"]))
    if kept:
        await logs.write(logs.put, kept)
    out: dict[str, Any] = {"nextSequenceToken": str(10**55 + now)}
    if rejected:
        out["rejectedLogEventsInfo"] = rejected
    return out


@logs_api.handles("GetLogEvents")
async def get_log_events(call: Call) -> dict[str, Any]:
    p, logs = call.params, service(call)
    group = await logs.read(logs.groups.get, call.region, group_name(call))
    stream = await logs.read(logs.groups.stream, group, p["logStreamName"])
    if p.get("nextToken"):
        reads.parse_token(p["nextToken"], "fb")  # a bad token is refused before any read
    page = await logs.read(
        reads.stream_page, logs.db, stream.id, p.get("startTime"), p.get("endTime"),
        p.get("nextToken"), p.get("limit") or 10_000, bool(p.get("startFromHead")),
    )  # fmt: skip
    return {
        "events": [
            {"timestamp": e.ts, "message": e.message, "ingestionTime": e.ingest}
            for e in page.events
        ],
        "nextForwardToken": page.forward,
        "nextBackwardToken": page.backward,
    }


@logs_api.handles("FilterLogEvents")
async def filter_log_events(call: Call) -> dict[str, Any]:
    p, logs = call.params, service(call)
    names, prefix = p.get("logStreamNames"), p.get("logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise _invalid("You cannot specify both logStreamNames and logStreamNamePrefix.")
    group = await logs.read(logs.groups.get, call.region, group_name(call))
    streams = await logs.read(logs.groups.stream_ids, group, names, prefix)
    restrict = None if names is None and prefix is None else list(streams)
    found = await logs.read(
        reads.filter_group, logs.db, group, restrict, p.get("startTime"), p.get("endTime"),
        p.get("filterPattern"), p.get("nextToken"), p.get("limit") or 10_000,
    )  # fmt: skip
    out: dict[str, Any] = {
        "events": [
            {
                "logStreamName": streams.get(e.stream_id, ""),
                "timestamp": e.ts,
                "message": e.message,
                "ingestionTime": e.ingest,
                "eventId": str(e.id).zfill(56),
            }
            for e in found.events
        ],
        "searchedLogStreams": [
            {"logStreamName": n, "searchedCompletely": found.next_token is None}
            for n in sorted(streams.values())
        ],
    }
    if found.next_token:
        out["nextToken"] = found.next_token
    return out
