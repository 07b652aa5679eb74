"""``shoal logs FUNCTION [--follow] [--since SECONDS]``: a function's log events.

A client of CloudWatch Logs' API as any AWS tool is: FilterLogEvents (through boto3's
paginator) on the function's group ``/aws/lambda/FUNCTION`` (or on the group named, when
FUNCTION starts with ``/``), in the region the AWS tools would use. One line per event, in the
shape of ``aws logs tail``. ``--follow`` polls every half second until Ctrl-C; a group not made
yet (a function never invoked) prints nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from shoal.cli.client import client

POLL_S = 0.5


def group_of(function: str) -> str:
    return function if function.startswith("/") else f"/aws/lambda/{function}"


def fetch(logs: Any, group: str, start_ms: int) -> Iterator[dict[str, Any]]:
    """The group's events at or after ``start_ms``, in time order."""
    try:
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, startTime=start_ms
        ):
            yield from page["events"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise


def format_event(event: dict[str, Any]) -> str:
    when = dt.datetime.fromtimestamp(event["timestamp"] / 1000, dt.UTC)
    stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"{stamp} {event.get('logStreamName', '')} {event['message']}"


def _logs(args: argparse.Namespace) -> int:
    logs = client("logs", args.endpoint_url, read_timeout=60)
    group = group_of(args.function)
    start = 0 if args.since is None else int((time.time() - args.since) * 1000)
    # Events at the last timestamp seen come again in the next poll: skip them by id.
    seen: set[str] = set()
    while True:
        for event in fetch(logs, group, start):
            if event["eventId"] in seen:
                continue
            if event["timestamp"] > start:
                start, seen = event["timestamp"], set()
            seen.add(event["eventId"])
            print(format_event(event))
        sys.stdout.flush()
        if not args.follow:
            return 0
        time.sleep(POLL_S)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("logs", help="print a function's log events")
    p.add_argument("function", help="a function name, or a log group name starting with /")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    p.add_argument(
        "--since",
        type=float,
        metavar="SECONDS",
        help="only events from the last SECONDS (default: all)",
    )
    p.add_argument(
        "--endpoint-url",
        help="Shoal endpoint (default $SHOAL_ENDPOINT, else http://127.0.0.1:9000)",
    )
    p.set_defaults(func=_logs)
