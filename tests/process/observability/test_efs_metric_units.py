"""The AWS/EFS I/O metrics as CloudWatch's API shows them, checked against the EFS User Guide's
"CloudWatch metrics for Amazon EFS": every one by ``FileSystemId`` alone, in its documented
unit (bytes for the I/O counts and the credit balance, Bytes/Second for PermittedThroughput,
Percent for PercentIOLimit), and PercentIOLimit submitted for General Purpose file systems
only. Host I/O on a file system's own volume, through boto3 on a real server."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from conftest import ShoalServer, module_server, wait_for

FAST = {"SHOAL_METRICS_FLUSH_S": "0.2", "SHOAL_EFS_METRICS_S": "1", "SHOAL_EFS_IO_TICK_S": "0.5"}
UNITS = {"DataReadIOBytes": "Bytes", "DataWriteIOBytes": "Bytes", "MetadataIOBytes": "Bytes",
         "TotalIOBytes": "Bytes", "MeteredIOBytes": "Bytes", "BurstCreditBalance": "Bytes",
         "PermittedThroughput": "Bytes/Second", "PercentIOLimit": "Percent"}  # fmt: skip


srv = module_server("efs-units", FAST)


def _points(srv: ShoalServer, fs_id: str, name: str) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)
    points: list[dict[str, Any]] = srv.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/EFS", MetricName=name,
        Dimensions=[{"Name": "FileSystemId", "Value": fs_id}],
        StartTime=now - dt.timedelta(minutes=10), EndTime=now + dt.timedelta(minutes=2),
        Period=60, Statistics=["Sum", "SampleCount", "Minimum", "Maximum"],
    )["Datapoints"]  # fmt: skip
    return points


def _host_io(root: Path) -> None:
    """Writes with fsync, drops the cache, reads back: data and metadata on the volume."""
    path = root / "blob"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b"u" * (4 << 20))
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    with open(path, "rb") as f:
        assert len(f.read()) == 4 << 20
    os.rename(path, root / "moved")


def test_every_io_metric_is_in_its_documented_unit(srv: ShoalServer) -> None:
    efs = srv.client("efs")
    general = efs.create_file_system(CreationToken="units-gp")["FileSystemId"]
    max_io = efs.create_file_system(CreationToken="units-maxio",
                                    PerformanceMode="maxIO")["FileSystemId"]  # fmt: skip
    for fs_id in (general, max_io):
        _host_io(Path(srv.data_dir) / "filesystems" / fs_id)
    wait_for(lambda: all(_points(srv, fs, "DataReadIOBytes") for fs in (general, max_io)),
             timeout=20)  # fmt: skip
    for name, unit in UNITS.items():
        wait_for(lambda n=name: _points(srv, general, n), timeout=10)
        units = {p["Unit"] for p in _points(srv, general, name)}
        assert units == {unit}, (name, units)
    listed = srv.client("cloudwatch").list_metrics(Namespace="AWS/EFS", Dimensions=[
        {"Name": "FileSystemId", "Value": general}])["Metrics"]  # fmt: skip
    assert set(UNITS) <= {m["MetricName"] for m in listed}
    # (StorageBytes adds StorageClass, as on EFS; these have FileSystemId alone.)
    assert all(m["Dimensions"] == [{"Name": "FileSystemId", "Value": general}]
               for m in listed if m["MetricName"] in UNITS)  # fmt: skip
    # Max I/O: every metric but PercentIOLimit, which EFS submits for General Purpose only.
    assert _points(srv, max_io, "PermittedThroughput")
    assert not _points(srv, max_io, "PercentIOLimit")
