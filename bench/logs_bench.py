"""CloudWatch Logs over a million events: FilterLogEvents through boto3 against a real server.

One log group, 100 streams, 1,000,000 events spread over the last 24 hours (10,000 a stream),
put with PutLogEvents (10,000 events a call). 100 of them say ``ERROR rare``. Rows:

- FilterLogEvents for ``ERROR rare`` over the whole day (every event read and matched: the
  paginator follows nextToken to the end), against the baseline of the same search over the
  same events kept as JSON lines (the storage before the log database): ``json.loads`` of
  each line and the same substring test, in this process, no HTTP;
- the same search over one hour of the day (the group's time index: only that hour is read);
- the first 100 events of an hour, no pattern; GetLogEvents' first page of one stream.

Run: ``./run bench logs_bench`` (or ``.venv/bin/python -m bench logs_bench``).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import aws_client, shoal_server, table

GROUP = "/bench/logs"
STREAMS = 100
PER_STREAM = 10_000
HOUR = 3_600_000
DAY = 24 * HOUR


def message(k: int, i: int) -> str:
    if i % 1000 == 0 and k % 10 == 0:
        return f"ERROR rare failure in stream {k} at {i}"
    return f"INFO request {k}-{i} handled in {i % 97} ms user=u{i % 1000}"


def populate(logs: Any, base: int) -> float:
    logs.create_log_group(logGroupName=GROUP)
    t0 = time.perf_counter()
    step = DAY // PER_STREAM
    for k in range(STREAMS):
        stream = f"2026/12/04/[$LATEST]{k:032x}"
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        events = [{"timestamp": base + i * step + k, "message": message(k, i)}
                  for i in range(PER_STREAM)]  # fmt: skip
        logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)
    return time.perf_counter() - t0


def filter_all(logs: Any, **kwargs: Any) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = 0
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=GROUP, **kwargs):
        n += len(page["events"])
    return time.perf_counter() - t0, n


def baseline(base: int, pattern: str) -> tuple[float, int]:
    """The same search over JSON lines files, one a stream (the storage before)."""
    step = DAY // PER_STREAM
    with tempfile.TemporaryDirectory(prefix="logs-bench-") as d:
        files = []
        for k in range(STREAMS):
            path = Path(d) / f"{k}.log"
            with path.open("w") as f:
                for i in range(PER_STREAM):
                    ts = base + i * step + k
                    f.write(json.dumps({"timestamp": ts, "message": message(k, i)}) + "\n")
            files.append(path)
        t0 = time.perf_counter()
        found = []
        for path in files:
            with path.open() as f:
                for line in f:
                    event = json.loads(line)
                    if all(t in event["message"] for t in pattern.split()):
                        found.append(event)
        found.sort(key=lambda e: e["timestamp"])
        return time.perf_counter() - t0, len(found)


def timed(call: Any) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = len(call()["events"])
    return time.perf_counter() - t0, n


def best(fn: Any, repeat: int = 3) -> tuple[float, int]:
    runs = [fn() for _ in range(repeat)]
    return min(r[0] for r in runs), runs[0][1]


def run() -> str:
    base = int(time.time() * 1000) - DAY
    rows: list[tuple[str, str, str, str, str]] = []
    with shoal_server() as endpoint:
        logs = aws_client(endpoint, "logs")
        put_s = populate(logs, base)
        n = STREAMS * PER_STREAM
        rows.append((f"PutLogEvents, {n:,} events in {STREAMS} calls (events/s)",
                     f"{n / put_s:,.0f}", "", "", ""))  # fmt: skip
        full, hits = best(lambda: filter_all(logs, filterPattern="ERROR rare"))
        assert hits == 100, hits
        old, old_hits = best(lambda: baseline(base, "ERROR rare"), 1)
        assert old_hits == hits
        rows.append((f"FilterLogEvents 'ERROR rare' over 1,000,000 events / a day ({hits} hits), s",
                     f"{full:.2f}", f"{old:.2f} (JSON lines scan, in process)",
                     f"{full / old:.2f}×", "≤ 1×"))  # fmt: skip
        hour, _ = best(lambda: filter_all(logs, filterPattern="ERROR rare",
                                          startTime=base + 5 * HOUR,
                                          endTime=base + 6 * HOUR - 1))  # fmt: skip
        rows.append(("the same over one hour of it (~41,700 events), s", f"{hour:.3f}",
                     f"{full:.2f} (the whole day)", f"{hour / full:.3f}×", "≈ 1/24"))  # fmt: skip
        first, _ = best(lambda: timed(lambda: logs.filter_log_events(
            logGroupName=GROUP, startTime=base + 5 * HOUR, limit=100)), 5)  # fmt: skip
        rows.append(("FilterLogEvents first 100 events of an hour, ms", f"{first * 1000:.1f}",
                     "", "", ""))  # fmt: skip
        stream = f"2026/12/04/[$LATEST]{7:032x}"
        page, _ = best(lambda: timed(lambda: logs.get_log_events(
            logGroupName=GROUP, logStreamName=stream, startFromHead=True, limit=100,
        )), 5)  # fmt: skip
        rows.append(("GetLogEvents first 100 events of a 10,000-event stream, ms",
                     f"{page * 1000:.1f}", "", "", ""))  # fmt: skip
    return table("CloudWatch Logs: 1,000,000 events (logs_bench)", rows)


if __name__ == "__main__":
    print(run())
