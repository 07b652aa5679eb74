"""What the CloudWatch metrics tests share: a private server evaluating alarms and flushing
fast, a time window around now, and statistics of one metric."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

from conftest import ShoalServer, module_server

FAST = {"SHOAL_ALARM_INTERVAL_S": "0.2", "SHOAL_METRICS_FLUSH_S": "0.2",
        "SHOAL_EFS_METRICS_S": "0.2"}  # fmt: skip


metrics_server = module_server("metrics", FAST, name="metrics_server")


def window(minutes: int = 10) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(minutes=minutes), now + dt.timedelta(minutes=minutes)


def total(cw: Any, namespace: str, name: str, dims: dict[str, str], stat: str = "Sum",
          period: int = 3600, minutes: int = 30) -> float | None:  # fmt: skip
    """``stat`` of the metric over the ``minutes`` either side of now (None: no datapoint).

    The window holds one datapoint per ``period`` with data (two once a period boundary has
    passed): Sum and SampleCount are added over them, Maximum and Minimum taken over them, and
    Average (which cannot be combined without the counts) is the latest period's."""
    start, end = window(minutes)
    points = cw.get_metric_statistics(
        Namespace=namespace, MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=start, EndTime=end, Period=period, Statistics=[stat],
    )["Datapoints"]  # fmt: skip
    if not points:
        return None
    values = [float(p[stat]) for p in sorted(points, key=lambda p: p["Timestamp"])]
    pick = {"Sum": sum, "SampleCount": sum, "Maximum": max, "Minimum": min}.get(
        stat, lambda v: v[-1])  # fmt: skip
    return float(pick(values))


def aws_v2(srv: ShoalServer, *args: str) -> subprocess.CompletedProcess[str]:
    """``/usr/bin/aws`` (CLI v2, the query protocol for CloudWatch) with the root keys."""
    env = {
        "PATH": "/usr/bin:/bin", "HOME": str(Path(srv.data_dir).parent), "LANG": "C.UTF-8",
        "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true",
    }  # fmt: skip
    return subprocess.run(
        ["/usr/bin/aws", "--endpoint-url", srv.endpoint, "--output", "json", *args],
        env=env, capture_output=True, text=True, timeout=120, cwd="/",
    )  # fmt: skip
