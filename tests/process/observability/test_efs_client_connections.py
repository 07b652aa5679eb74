"""AWS/EFS ClientConnections counts every kind of client of a file system: a real NFS client
(libnfs) connected to its mount target, and a host mount made with ``shoal fs mount``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from metrics_helpers import metrics_server, total

from conftest import ShoalServer, unique_name, wait_for
from nfs_client import NfsClient, mount_target, url

__all__ = ["metrics_server"]
pytestmark = pytest.mark.nfs


def shoal(server: ShoalServer, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHOAL_ENDPOINT": server.endpoint}
    return subprocess.run([sys.executable, "-m", "shoal", *argv], capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip


def connections(server: ShoalServer, fs_id: str) -> float | None:
    """The most connections seen in the last two minutes (the counts only rise here); over
    both minutes, as the window holds one datapoint per minute once a minute has turned."""
    cw = server.client("cloudwatch")
    return total(cw, "AWS/EFS", "ClientConnections", {"FileSystemId": fs_id}, "Maximum",
                 period=60, minutes=2)  # fmt: skip


def test_nfs_clients_and_host_mounts_are_client_connections(
    metrics_server: ShoalServer, tmp_path: Path
) -> None:
    efs = metrics_server.client("efs")
    fs_id = efs.create_file_system(CreationToken=unique_name("tok"))["FileSystemId"]
    mt_id, port = mount_target(metrics_server, fs_id)
    wait_for(lambda: connections(metrics_server, fs_id) is not None, timeout=30)
    assert connections(metrics_server, fs_id) == 0  # the target serves, nobody is connected

    client = NfsClient(url(port, fs_id))
    where = tmp_path / "mnt"
    where.mkdir()
    mounted = False
    try:
        wait_for(lambda: connections(metrics_server, fs_id) == 1, timeout=30)
        run = shoal(metrics_server, "fs", "mount", fs_id, str(where))
        assert run.returncode == 0, run.stderr
        mounted = True
        wait_for(lambda: connections(metrics_server, fs_id) == 2, timeout=30)
    finally:
        client.close()
        if mounted:
            assert shoal(metrics_server, "fs", "unmount", str(where)).returncode == 0
    efs.delete_mount_target(MountTargetId=mt_id)
