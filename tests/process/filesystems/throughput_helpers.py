"""What the throughput tests (and ``bench/throughput_bench.py``) share: the server settings that
make throughput observable in seconds, the function that streams through a file system, and
the AWS/EFS statistics as CloudWatch's API gives them."""

from __future__ import annotations

import ctypes
import datetime as dt
import os
from pathlib import Path
from typing import Any

from shoal.filesystems.throughput import MiB

FAST = {"SHOAL_METRICS_FLUSH_S": "0.2", "SHOAL_EFS_METRICS_S": "1", "SHOAL_EFS_IO_TICK_S": "0.5",
        "SHOAL_EFS_BURST_CREDITS": str(48 * MiB)}  # fmt: skip

# A handler that writes ``event["mib"]`` MiB with fsync, evicts the file from the page cache
# and reads it back: the seconds each took, as the function saw them, and the bytes read.
STREAM = """
import os, time

def handler(event, context):
    path, chunk = "/mnt/fs/stream.bin", b"x" * (1 << 20)
    start = time.monotonic()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for _ in range(event["mib"]):
        os.write(fd, chunk)
    os.fsync(fd)
    write_s = time.monotonic() - start
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    start, got = time.monotonic(), 0
    fd = os.open(path, os.O_RDONLY)
    while block := os.read(fd, 1 << 20):
        got += len(block)
    os.close(fd)
    return {"write_s": write_s, "read_s": time.monotonic() - start, "bytes": got}
"""

_libc = ctypes.CDLL(None, use_errno=True)


def fs_root(srv: Any, fs_id: str) -> Path:
    return Path(srv.data_dir) / "filesystems" / fs_id


def syncfs(path: Path) -> None:
    """Writes out the file system that holds ``path`` (its journal too): a new volume's first
    journal commit, its formatting metadata, then shares no throttle with a test's writes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs")
    finally:
        os.close(fd)


def stat(srv: Any, fs_id: str, name: str, statistic: str,
         since: float | None = None) -> float | None:  # fmt: skip
    """``statistic`` of an AWS/EFS metric of ``fs_id`` over the last minutes (None: no data;
    Sum and SampleCount added over the minutes, Minimum and Maximum taken over them).
    ``since`` (epoch seconds): one-second points from then on only."""
    now = dt.datetime.now(dt.UTC)
    start = dt.datetime.fromtimestamp(since, dt.UTC) if since else now - dt.timedelta(minutes=10)
    points = srv.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/EFS", MetricName=name,
        Dimensions=[{"Name": "FileSystemId", "Value": fs_id}],
        StartTime=start, EndTime=now + dt.timedelta(minutes=2),
        Period=1 if since else 60, Statistics=[statistic],
    )["Datapoints"]  # fmt: skip
    values = [float(p[statistic]) for p in points]
    if not values:
        return None
    pick = {"Minimum": min, "Maximum": max}.get(statistic, sum)
    return pick(values)
