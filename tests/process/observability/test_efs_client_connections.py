"""AWS/EFS ClientConnections counts every kind of client of a file system: a real NFS client
(libnfs) connected to its mount target, and a host mount made with ``shoal fs mount``."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from metrics_helpers import metrics_server, total

from conftest import ShoalServer, default_subnet, shoal_urlopen, unique_name, wait_for

__all__ = ["metrics_server"]
pytestmark = pytest.mark.nfs

_lib = ctypes.CDLL("libnfs.so.13", use_errno=True)
_lib.nfs_init_context.restype = ctypes.c_void_p
_lib.nfs_destroy_context.argtypes = [ctypes.c_void_p]
_lib.nfs4_set_client_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]


class _Url(ctypes.Structure):
    _fields_ = [("server", ctypes.c_char_p), ("path", ctypes.c_char_p), ("file", ctypes.c_char_p)]


_lib.nfs_parse_url_dir.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.nfs_parse_url_dir.restype = ctypes.POINTER(_Url)
_lib.nfs_destroy_url.argtypes = [ctypes.POINTER(_Url)]
_lib.nfs_mount.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
_lib.nfs_get_error.argtypes = [ctypes.c_void_p]
_lib.nfs_get_error.restype = ctypes.c_char_p


class NfsClient:
    """One NFSv4 client (libnfs), connected and mounted until closed."""

    def __init__(self, port: int, export: str) -> None:
        self.ctx = _lib.nfs_init_context()
        _lib.nfs4_set_client_name(self.ctx, uuid.uuid4().hex.encode())
        url = f"nfs://127.0.0.1{export}?version=4&nfsport={port}".encode()
        parsed = _lib.nfs_parse_url_dir(self.ctx, url)
        rc = -1 if not parsed else _lib.nfs_mount(self.ctx, parsed.contents.server,
                                                  parsed.contents.path)  # fmt: skip
        if parsed:
            _lib.nfs_destroy_url(parsed)
        if rc < 0:
            error = (_lib.nfs_get_error(self.ctx) or b"").decode()
            _lib.nfs_destroy_context(self.ctx)
            raise OSError(error)

    def close(self) -> None:
        _lib.nfs_destroy_context(self.ctx)


def shoal(server: ShoalServer, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHOAL_ENDPOINT": server.endpoint}
    return subprocess.run([sys.executable, "-m", "shoal", *argv], capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip


def connections(server: ShoalServer, fs_id: str) -> float | None:
    cw = server.client("cloudwatch")
    return total(cw, "AWS/EFS", "ClientConnections", {"FileSystemId": fs_id}, "Maximum",
                 period=60, minutes=2)  # fmt: skip


def test_nfs_clients_and_host_mounts_are_client_connections(
    metrics_server: ShoalServer, tmp_path: Path
) -> None:
    efs = metrics_server.client("efs")
    fs_id = efs.create_file_system(CreationToken=unique_name("tok"))["FileSystemId"]
    subnet = default_subnet(metrics_server)
    mt_id = efs.create_mount_target(FileSystemId=fs_id, SubnetId=subnet)["MountTargetId"]
    wait_for(lambda: efs.describe_mount_targets(MountTargetId=mt_id)["MountTargets"][0][
        "LifeCycleState"] == "available", timeout=60)  # fmt: skip
    with shoal_urlopen(f"{metrics_server.endpoint}/shoal/fs/mount-targets/{mt_id}") as r:
        port = int(json.load(r)["Port"])
    wait_for(lambda: connections(metrics_server, fs_id) is not None, timeout=30)
    assert connections(metrics_server, fs_id) == 0  # the target serves, nobody is connected

    client = NfsClient(port, f"/{fs_id}")
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
