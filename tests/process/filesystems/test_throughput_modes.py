"""Throughput modes enforced on a file system's own volume, as a user sees them: a function's
measured rates, the AWS/EFS metrics through CloudWatch's API, and UpdateFileSystem's errors,
all through boto3 against a real server."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fs_helpers import invoke, make_ap, make_fn
from loop_volume import loop_volume
from throughput_helpers import FAST, STREAM, fs_root, stat

from conftest import ShoalServer, module_server, start_server, wait_for
from shoal.filesystems import blkio
from shoal.filesystems.throughput import MiB

srv = module_server("throughput", FAST)


def stream_fn(srv: ShoalServer, fs_id: str) -> str:
    ap = make_ap(srv.client("efs"), fs_id, path="/data", mode="755")
    return make_fn(srv.client("lambda"), STREAM, ap["AccessPointArn"], Timeout=120)


def test_provisioned_8_mibps_holds_a_function_to_8_mibps_and_reads_to_24(srv: ShoalServer) -> None:
    efs = srv.client("efs")
    fs_id = efs.create_file_system(CreationToken="prov8", ThroughputMode="provisioned",
                                   ProvisionedThroughputInMibps=8.0)["FileSystemId"]  # fmt: skip
    with loop_volume(fs_root(srv, fs_id)) as dev:
        # The server finds the volume at its next tick and throttles it: reads at three times
        # the rate, since a read is metered at a third.
        wait_for(lambda: blkio.limits(dev) == (24 * MiB, 8 * MiB), timeout=10)
        name = stream_fn(srv, fs_id)
        out = invoke(srv.client("lambda"), name, {"mib": 64})
        assert out["bytes"] == 64 * MiB
        write_rate = 64 / out["write_s"]
        read_rate = 64 / out["read_s"]
        assert 8 * 0.85 <= write_rate <= 8 * 1.15, out
        assert 24 * 0.85 <= read_rate <= 24 * 1.15, out

        # The metered throughput, as CloudWatch shows it: writes in full, reads at a third.
        def published() -> bool:
            read = stat(srv, fs_id, "DataReadIOBytes", "Sum") or 0
            return read >= 64 * MiB

        wait_for(published, timeout=15)
        written = stat(srv, fs_id, "DataWriteIOBytes", "Sum") or 0
        read = stat(srv, fs_id, "DataReadIOBytes", "Sum") or 0
        metered = stat(srv, fs_id, "MeteredIOBytes", "Sum") or 0
        assert written >= 64 * MiB
        assert metered == pytest.approx(written + read / 3, rel=0.05)
        permitted = stat(srv, fs_id, "PermittedThroughput", "Maximum")
        assert permitted == 8 * MiB
        # Creating the file and opening it twice are metadata operations (4 KiB each).
        assert (stat(srv, fs_id, "MetadataIOBytes", "Sum") or 0) >= 2 * 4096
        assert 0 <= (stat(srv, fs_id, "PercentIOLimit", "Maximum") or -1) <= 100
        srv.client("lambda").delete_function(FunctionName=name)
        # Deleting the file system removes its throttle (before its volume is detached).
        for ap in efs.describe_access_points(FileSystemId=fs_id)["AccessPoints"]:
            efs.delete_access_point(AccessPointId=ap["AccessPointId"])
        efs.delete_file_system(FileSystemId=fs_id)
        assert blkio.limits(dev) == (None, None)


def test_bursting_credits_follow_the_formula_and_the_server_removes_throttles_at_stop(
    tmp_path: Path,
) -> None:
    """A new bursting file system starts with SHOAL_EFS_BURST_CREDITS (48 MiB here), earns at
    the baseline (1 MiB/s for a small one) and spends what is metered; empty, it is held to
    the baseline; idle, it earns again."""
    server = start_server(tmp_path / "data", env=FAST)
    try:
        efs = server.client("efs")
        created = time.time()  # its balance is earning from its first tick on
        fs_id = efs.create_file_system(CreationToken="burst")["FileSystemId"]
        with loop_volume(fs_root(server, fs_id)) as dev:
            wait_for(lambda: blkio.limits(dev) == (300 * MiB, 100 * MiB), timeout=10)
            name = stream_fn(server, fs_id)
            invoke(server.client("lambda"), name, {"mib": 16})  # metered ≈ 16 + 16/3 MiB
            ran = time.time()
            wait_for(lambda: (stat(server, fs_id, "DataReadIOBytes", "Sum") or 0) >= 16 * MiB,
                     timeout=10)  # fmt: skip
            metered = stat(server, fs_id, "MeteredIOBytes", "Sum") or 0
            lowest = stat(server, fs_id, "BurstCreditBalance", "Minimum") or 0
            assert metered >= (16 + 16 / 3) * MiB
            # The formula: initial + baseline × elapsed − metered, elapsed at most the time
            # since creation (plus a tick).
            assert 48 * MiB - metered <= lowest <= 48 * MiB - metered + MiB * (ran - created + 1)
            # Spending past the balance empties it and holds the device to the baseline.
            invoke(server.client("lambda"), name, {"mib": 40})
            wait_for(lambda: stat(server, fs_id, "BurstCreditBalance", "Minimum") == 0.0,
                     timeout=10)  # fmt: skip
            wait_for(lambda: stat(server, fs_id, "PermittedThroughput", "Minimum") == MiB,
                     timeout=10)  # fmt: skip
            assert stat(server, fs_id, "PermittedThroughput", "Maximum") == 100 * MiB
            # Idle, it earns again at the baseline, and may go above it again (by as much as
            # its balance pays for over a tick).
            wait_for(lambda: (blkio.limits(dev)[1] or 0) > 1 * MiB, timeout=15)
            server.stop()
            assert blkio.limits(dev) == (None, None)  # the server removed its rules at stop
            # The balance was persisted: a restart goes on from it, not from a new 48 MiB.
            restarted = time.time()
            server = start_server(server.data_dir, env=FAST)
            wait_for(lambda: stat(server, fs_id, "BurstCreditBalance", "Maximum", restarted),
                     timeout=10)  # fmt: skip
            assert (stat(server, fs_id, "BurstCreditBalance", "Maximum", restarted) or 0) < 24 * MiB
            server.stop()
    finally:
        server.stop()


def _error(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response  # type: ignore[no-any-return]


def test_provisioned_changes_follow_efs_rules(srv: ShoalServer) -> None:
    efs = srv.client("efs")
    fs_id = efs.create_file_system(CreationToken="changes", ThroughputMode="provisioned",
                                   ProvisionedThroughputInMibps=8.0)["FileSystemId"]  # fmt: skip
    # The first decrease is allowed; then, for 24 hours, no other decrease or mode change
    # (increases stay allowed, and each starts the 24 hours again: the User Guide's rule).
    efs.update_file_system(FileSystemId=fs_id, ProvisionedThroughputInMibps=4.0)
    for change in ({"ProvisionedThroughputInMibps": 2.0}, {"ThroughputMode": "bursting"},
                   {"ThroughputMode": "elastic"}):  # fmt: skip
        r = _error(lambda c=change: efs.update_file_system(FileSystemId=fs_id, **c))
        assert r["Error"]["Code"] == "TooManyRequests"
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert "Wait until" in r["Error"]["Message"]
    assert efs.update_file_system(FileSystemId=fs_id, ProvisionedThroughputInMibps=32.0)[
        "ProvisionedThroughputInMibps"] == 32.0  # fmt: skip
    r = _error(lambda: efs.update_file_system(FileSystemId=fs_id,
                                              ProvisionedThroughputInMibps=5000.0))  # fmt: skip
    assert r["Error"]["Code"] == "ThroughputLimitExceeded"
    (fs,) = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"]
    assert (fs["ThroughputMode"], fs["ProvisionedThroughputInMibps"]) == ("provisioned", 32.0)
    # CreateFileSystem's defaults stay EFS's: bursting.
    other = efs.create_file_system(CreationToken="defaults")
    assert other["ThroughputMode"] == "bursting" and "ProvisionedThroughputInMibps" not in other


def test_elastic_has_no_throttle(srv: ShoalServer) -> None:
    efs = srv.client("efs")
    fs_id = efs.create_file_system(CreationToken="to-elastic")["FileSystemId"]
    with loop_volume(fs_root(srv, fs_id)) as dev:
        wait_for(lambda: blkio.limits(dev) == (300 * MiB, 100 * MiB), timeout=10)  # bursting
        efs.update_file_system(FileSystemId=fs_id, ThroughputMode="elastic")
        wait_for(lambda: blkio.limits(dev) == (None, None), timeout=10)
        # Host I/O on the volume is metered all the same, reads in full in elastic mode.
        with open(fs_root(srv, fs_id) / "blob", "wb") as f:
            f.write(b"y" * (4 * MiB))
            os.fsync(f.fileno())
        wait_for(lambda: (stat(srv, fs_id, "DataWriteIOBytes", "Sum") or 0) >= 4 * MiB,
                 timeout=10)  # fmt: skip
        assert stat(srv, fs_id, "PermittedThroughput", "Maximum") == 1 << 30  # EFS's figure
        efs.delete_file_system(FileSystemId=fs_id)
