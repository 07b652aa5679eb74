"""``shoal logs FUNCTION [--follow] [--since SECONDS]``: a function's log events.

Reads Shoal's own endpoint ``GET /shoal/logs/{function}?start=MS`` (JSON
``{"events": [{"timestamp", "message", "logStreamName"}]}``) and prints one line per event, in
the shape of ``aws logs tail``. ``--follow`` polls every half second until Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from typing import Any
from urllib.parse import quote, unquote

from shoal.cli.client import endpoint, urlopen

POLL_S = 0.5


def fetch(base: str, function: str, start_ms: int) -> list[dict[str, Any]]:
    url = f"{base}/shoal/logs/{quote(function, safe='')}?start={start_ms}"
    # The function of the region the AWS tools would use; the server's default otherwise.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        url += f"&region={quote(region, safe='')}"
    with urlopen(url, timeout=30) as response:
        events: list[dict[str, Any]] = json.load(response)["events"]
    return events


def format_event(event: dict[str, Any]) -> str:
    when = dt.datetime.fromtimestamp(event["timestamp"] / 1000, dt.UTC)
    stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # The log service names streams by their (percent-quoted) file names; show AWS's name.
    stream = unquote(event.get("logStreamName", ""))
    return f"{stamp} {stream} {event['message']}"


def _logs(args: argparse.Namespace) -> int:
    base = endpoint(args.endpoint_url)
    start = 0 if args.since is None else int((time.time() - args.since) * 1000)
    # Events at the last timestamp seen may arrive in two polls: remember them to skip repeats.
    seen: set[tuple[int, str, str]] = set()
    while True:
        for event in fetch(base, args.function, start):
            key = (event["timestamp"], event.get("logStreamName", ""), event["message"])
            if key in seen:
                continue
            if event["timestamp"] > start:
                start, seen = event["timestamp"], set()
            seen.add(key)
            print(format_event(event))
        sys.stdout.flush()
        if not args.follow:
            return 0
        time.sleep(POLL_S)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("logs", help="print a function's log events")
    p.add_argument("function")
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
