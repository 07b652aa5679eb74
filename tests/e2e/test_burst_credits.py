"""The seed's warning, end to end (issue 14 item 3; examples/burst_credits): a small bursting
file system holds a function's libraries, which it reads at init. Under load the burst credits
run out, the file system is held to its baseline, and inits time out;
``put-function-concurrency --reserved-concurrent-executions 0`` stops the invocations while the
credits recover; switching the file system to provisioned throughput removes the problem.

The user's steps go through the AWS CLI v2 (concurrency, UpdateFileSystem, CloudWatch) and
boto3 (the function, the invocations); ``SHOAL_EFS_BURST_CREDITS`` makes the scenario take
seconds instead of hours. The file system is a loop-backed volume of its own, the device the
server throttles."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, ShoalServer, create_function, start_server, wait_for
from shoal.filesystems import blkio
from shoal.filesystems.throughput import MiB

sys.path.insert(0, str(ROOT / "tests" / "process" / "filesystems"))
from loop_volume import loop_volume  # noqa: E402

EXAMPLE = ROOT / "examples" / "burst_credits"
LIBS_MIB = 48  # 16 MiB metered per cold start; at the baseline's 3 MiB/s of reads, 16 s
ENV = {"SHOAL_METRICS_FLUSH_S": "0.2", "SHOAL_EFS_METRICS_S": "1", "SHOAL_EFS_IO_TICK_S": "0.2",
       "SHOAL_EFS_BURST_CREDITS": str(80 * MiB)}  # fmt: skip


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[ShoalServer]:
    server = start_server(tmp_path / "data", env=ENV)
    try:
        yield server
    finally:
        server.stop()


def aws(srv: ShoalServer, *args: str) -> Any:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(srv.data_dir.parent), "LANG": "C.UTF-8",
           "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}  # fmt: skip
    argv = ["/usr/bin/aws", "--endpoint-url", srv.endpoint, "--output", "json", *args]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def points(srv: ShoalServer, fs_id: str, name: str, statistic: str, period: int,
           back_s: float) -> list[dict[str, Any]]:  # fmt: skip
    """``aws cloudwatch get-metric-statistics`` of an AWS/EFS metric, oldest first."""
    now = dt.datetime.now(dt.UTC)
    out = aws(srv, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/EFS",
              "--metric-name", name, "--dimensions", f"Name=FileSystemId,Value={fs_id}",
              "--start-time", (now - dt.timedelta(seconds=back_s)).isoformat(),
              "--end-time", (now + dt.timedelta(seconds=60)).isoformat(),
              "--period", str(period), "--statistics", statistic)  # fmt: skip
    return sorted(out["Datapoints"], key=lambda p: p["Timestamp"])


def latest(srv: ShoalServer, fs_id: str, name: str, statistic: str = "Minimum") -> float:
    """The metric's newest one-second data point."""
    found = points(srv, fs_id, name, statistic, 1, 30)
    return float(found[-1][statistic]) if found else -1.0


def wave(lam: Any, name: str, n: int) -> list[dict[str, Any]]:
    """``n`` invocations at once; each one's outcome."""

    def one(_: int) -> dict[str, Any]:
        try:
            r = lam.invoke(FunctionName=name, Payload=b"{}")
        except lam.exceptions.TooManyRequestsException as e:
            return {"throttled": str(e)}
        return {"error": r.get("FunctionError"), "body": json.loads(r["Payload"].read())}

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_credits_run_out_inits_time_out_concurrency_0_recovers_provisioned_fixes(
    srv: ShoalServer,
) -> None:
    efs, lam = srv.client("efs"), srv.client("lambda")
    fs_id = efs.create_file_system(CreationToken="burst-libs")["FileSystemId"]
    root = srv.data_dir / "filesystems" / fs_id
    with loop_volume(root) as dev:
        wait_for(lambda: blkio.limits(dev) == (300 * MiB, 100 * MiB), timeout=10)
        # The libraries: big files, written on the host as `shoal fs mount` would.
        libs = root / "libs"
        libs.mkdir(mode=0o755)
        os.chown(libs, 1001, 1001)
        for i in range(3):
            with open(libs / f"lib{i}.so", "wb") as f:
                f.write(os.urandom(LIBS_MIB // 3 * MiB))
                os.fsync(f.fileno())
        ap = efs.create_access_point(
            FileSystemId=fs_id, PosixUser={"Uid": 1001, "Gid": 1001},
            RootDirectory={"Path": "/libs"},
        )  # fmt: skip
        name = create_function(
            lam, code=(EXAMPLE / "lambda_function.py").read_text(),
            handler="app.handler", Timeout=5,
            FileSystemConfigs=[{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/libs"}],
        )  # fmt: skip
        # Bursting: a cold start reads its 48 MiB at once.
        (first,) = wave(lam, name, 1)
        assert first["error"] is None and first["body"]["loaded"] == LIBS_MIB * MiB, first
        # Under load every new environment reads them again; the credits run out, the file
        # system is held to its baseline (1 MiB/s, reads at 3), and inits time out.
        # (Rising load: each wave needs more environments than the last one left.)
        outcomes: list[dict[str, Any]] = []
        for n in (2, 4, 6, 8):
            outcomes += wave(lam, name, n)
            timed_out = [o for o in outcomes if o.get("error")]
            if timed_out:
                break
        assert timed_out, outcomes
        assert "timed out" in json.dumps(timed_out[0]["body"]), timed_out[0]
        balance = points(srv, fs_id, "BurstCreditBalance", "Minimum", 60, 300)
        assert min(p["Minimum"] for p in balance) == 0.0
        low = points(srv, fs_id, "PermittedThroughput", "Minimum", 60, 300)
        assert min(p["Minimum"] for p in low) == 1 * MiB  # the baseline
        # Reserved concurrency 0 stops the invocations; the credits recover meanwhile.
        aws(srv, "lambda", "put-function-concurrency", "--function-name", name,
            "--reserved-concurrent-executions", "0")  # fmt: skip
        (stopped,) = wave(lam, name, 1)
        assert "throttled" in stopped, stopped
        wait_for(lambda: latest(srv, fs_id, "BurstCreditBalance") >= 4 * MiB, timeout=30)
        # Provisioned throughput removes the problem: every cold start is fast again.
        aws(srv, "efs", "update-file-system", "--file-system-id", fs_id, "--throughput-mode",
            "provisioned", "--provisioned-throughput-in-mibps", "64")  # fmt: skip
        wait_for(lambda: blkio.limits(dev) == (192 * MiB, 64 * MiB), timeout=10)
        aws(srv, "lambda", "delete-function-concurrency", "--function-name", name)
        lam.update_function_configuration(FunctionName=name, Description="new environments")
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        outcomes = wave(lam, name, 3)
        assert all(o.get("error") is None and "body" in o for o in outcomes), outcomes
        assert all(o["body"]["loaded"] == LIBS_MIB * MiB for o in outcomes)
        assert latest(srv, fs_id, "PermittedThroughput", "Maximum") == 64 * MiB
        srv.stop()
        assert blkio.limits(dev) == (None, None)
