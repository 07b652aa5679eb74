"""An environment shows nothing of the host's layout: what a function can read in /proc (its
mounts, its own and its init's command line and environment, its memory map) and in its
interpreter's argv names no host path — not the repository, its virtual environment, the
server's data directory or the function's code directory — while naming the environment's own
mount points, so that a clean answer is not an empty one.

An access point's bind mount under /mnt shows, in mountinfo's root field, its directory's path
inside the file system's own volume (``/tree/<access point path>``, see
:mod:`shoal.filesystems.volumes`): a path of the volume's, never one of the host's, so every
field is checked, that one included."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest

from conftest import ROOT, ShoalServer, create_function, unique_name

APP = r'''
import sys


def read(path):
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


def handler(event, context):
    files = ["/proc/self/mountinfo", "/proc/1/mountinfo", "/proc/mounts", "/proc/self/cmdline",
             "/proc/1/cmdline", "/proc/2/cmdline", "/proc/self/environ", "/proc/1/environ",
             "/proc/self/maps", "/proc/1/maps"]
    out = {path: read(path) for path in files}
    out["sys.argv"] = " ".join(sys.argv + getattr(sys, "orig_argv", []))
    return out
'''


def _host_paths(srv: ShoalServer) -> list[str]:
    paths = {str(srv.data_dir), os.path.realpath(srv.data_dir), str(ROOT), sys.prefix}
    paths |= {os.path.realpath(p) for p in (ROOT, sys.prefix)}
    return sorted(paths)


@pytest.mark.parametrize("snap_start", [False, True], ids=["plain", "snapshot-start"])
def test_proc_shows_no_host_path(server: ShoalServer, snap_start: bool) -> None:
    lam, efs = server.client("lambda"), server.client("efs")
    fs_id = efs.create_file_system(CreationToken=unique_name("layout"))["FileSystemId"]
    ap = efs.create_access_point(
        FileSystemId=fs_id,
        PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory={
            "Path": "/layout",
            "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "750"},
        },
    )
    extra: dict[str, Any] = {"SnapStart": {"ApplyOn": "PublishedVersions"}} if snap_start else {}
    name = create_function(
        lam,
        code=APP,
        FileSystemConfigs=[{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/layout"}],
        **extra,
    )
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    seen = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, seen

    # Not an empty answer: the environment's own layout is there.
    mountinfo = seen["/proc/self/mountinfo"]
    for point in (" / / ", " /var/task ", " /tmp ", " /mnt/layout ", " /proc "):
        assert point in mountinfo, mountinfo
    assert "/var/task" in seen["/proc/mounts"] and "[heap]" in seen["/proc/self/maps"]
    for cmdline in ("/proc/self/cmdline", "/proc/1/cmdline", "/proc/2/cmdline"):
        assert seen[cmdline] == "/var/runtime/bootstrap\0", seen[cmdline]  # as on Lambda
    # The code is an overlay of its own (root "/"), the runtime part of the base.
    task = next(line for line in mountinfo.splitlines() if line.split(" ")[4] == "/var/task")
    assert task.split(" ")[3] == "/" and " overlay " in task, task

    # The access point's root field is its path inside the file system's volume.
    (ap_line,) = (line for line in mountinfo.splitlines() if line.split(" ")[4] == "/mnt/layout")
    assert ap_line.split(" ")[3] == "/tree/layout", ap_line
    # And nothing of the host, in any field.
    for path in _host_paths(server):
        leaks = {what: text for what, text in seen.items() if path in text}
        assert not leaks, f"{path} shows in {sorted(leaks)}"
    assert fs_id not in mountinfo  # not even the file system's directory on the host
