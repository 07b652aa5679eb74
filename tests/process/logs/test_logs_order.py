"""Events put out of order across PutLogEvents calls (each call's own events are in order, as
AWS requires) into two streams, read back in
timestamp order through boto3: GetLogEvents forwards and backwards page by page, the
FilterLogEvents paginator, and the streams' described times and sizes (the store keeps a
batch's events as one chunk, and chunks overlap in time: reads merge them)."""

from __future__ import annotations

import time
from typing import Any

from conftest import ShoalServer, unique_name


def test_out_of_order_events_read_back_in_time_order(server: ShoalServer) -> None:
    logs = server.client("logs")
    group = f"/test/{unique_name('order')}"
    logs.create_log_group(logGroupName=group)
    t = int(time.time() * 1000) - 60_000
    calls = {"a": [[10, 30, 50], [20, 30, 60], [5, 40]], "b": [[25, 55], [1]]}
    for stream, batches in calls.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        for offsets in batches:
            logs.put_log_events(
                logGroupName=group, logStreamName=stream,
                logEvents=[{"timestamp": t + o, "message": f"{stream}{o}"} for o in offsets],
            )  # fmt: skip
    want_a = ["a5", "a10", "a20", "a30", "a30", "a40", "a50", "a60"]  # equal times: as put

    def page(**kw: Any) -> dict[str, Any]:
        return dict(logs.get_log_events(logGroupName=group, logStreamName="a", limit=3, **kw))

    forward, kw = [], {"startFromHead": True}
    for _ in range(10):
        p = page(**kw)
        if not p["events"]:
            assert p["nextForwardToken"] == kw["nextToken"]  # the same token at the end
            break
        forward += [e["message"] for e in p["events"]]
        kw = {"nextToken": p["nextForwardToken"]}
    assert forward == want_a
    backward, kw = [], {}
    for _ in range(10):  # from the end, as GetLogEvents reads by default
        p = page(**kw)
        if not p["events"]:
            break
        backward = [e["message"] for e in p["events"]] + backward
        kw = {"nextToken": p["nextBackwardToken"]}
    assert backward == want_a
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, PaginationConfig={"PageSize": 2}
    )
    events = [e for p in pages for e in p["events"]]
    assert [e["message"] for e in events] == sorted(
        [*want_a, "b1", "b25", "b55"], key=lambda m: int(m[1:])
    )
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    hits = logs.filter_log_events(logGroupName=group, filterPattern="a3", startTime=t + 20,
                                  endTime=t + 40)["events"]  # fmt: skip
    assert [e["message"] for e in hits] == ["a30", "a30"]
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    got = {s["logStreamName"]: (s["firstEventTimestamp"], s["lastEventTimestamp"],
                                s["storedBytes"]) for s in streams}  # fmt: skip
    assert got == {"a": (t + 5, t + 60, sum(map(len, want_a))), "b": (t + 1, t + 55, 8)}
