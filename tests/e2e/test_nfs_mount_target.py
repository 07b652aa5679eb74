"""The seed's file system reached over NFSv4 through a mount target, as another host would.

boto3 creates the file system, the access point (1001:1001, /message, 750) and the mount
target; libnfs's userspace tools (nfs-cp, nfs-cat, nfs-ls) play the NFS client; a function with
the same access point shares the files, with the access point's ownership on both sides.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    ShoalServer,
    create_function,
    default_subnet,
    shoal_urlopen,
    start_server,
    wait_for,
)
from seed_setup import seed_access_point

pytestmark = pytest.mark.nfs

READER = """
import json, os

def handler(event, context):
    path = "/mnt/msg/from-nfs.txt"
    st = os.stat(path)
    with open(path) as f:
        text = f.read()
    with open("/mnt/msg/from-function.txt", "w") as f:
        f.write("written by " + context.function_name + "\\n")
    out = os.stat("/mnt/msg/from-function.txt")
    return {"text": text, "owner": [st.st_uid, st.st_gid], "wrote": [out.st_uid, out.st_gid],
            "me": [os.getuid(), os.getgid()]}
"""


def nfs_url(address: str, port: int, path: str) -> str:
    return f"nfs://{address}{path}?version=4&nfsport={port}"


def nfs(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def target_port(endpoint: str, mt_id: str) -> int:
    """The port is Shoal's addition (EFS targets all use 2049): its own endpoint gives it."""
    with shoal_urlopen(f"{endpoint}/shoal/fs/mount-targets/{mt_id}") as r:
        return int(json.load(r)["Port"])


def make_target(srv: ShoalServer) -> tuple[str, str, str, str, int]:
    """A file system with the seed's access point and an available mount target."""
    efs = srv.client("efs")
    ap = seed_access_point(efs, "nfs")
    fs_id = ap["FileSystemId"]
    mt_id = efs.create_mount_target(FileSystemId=fs_id, SubnetId=default_subnet(srv))[
        "MountTargetId"
    ]

    def available() -> dict[str, Any] | None:
        (mt,) = efs.describe_mount_targets(MountTargetId=mt_id)["MountTargets"]
        assert mt["LifeCycleState"] in ("creating", "available"), "".join(srv.output[-40:])
        return mt if mt["LifeCycleState"] == "available" else None

    wait_for(available, timeout=60)
    return fs_id, ap["AccessPointId"], ap["AccessPointArn"], mt_id, target_port(srv.endpoint, mt_id)


def ganesha_pids(data_dir: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "ganesha.nfsd" in cmdline and str(data_dir) in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


def test_file_written_over_nfs_is_read_by_a_function_and_back(
    server: ShoalServer, efs_client: Any, lambda_client: Any, tmp_path: Path
) -> None:
    fs_id, ap_id, ap_arn, mt_id, port = make_target(server)
    (mt,) = efs_client.describe_mount_targets(FileSystemId=fs_id)["MountTargets"]
    address = mt["IpAddress"]
    assert mt["MountTargetId"] == mt_id

    local = tmp_path / "from-nfs.txt"
    local.write_text("hello from another host\n")
    run = nfs("nfs-cp", str(local), nfs_url(address, port, f"/{ap_id}/from-nfs.txt"))
    assert run.returncode == 0, run.stdout + run.stderr

    name = create_function(
        lambda_client, code=READER,
        FileSystemConfigs=[{"Arn": ap_arn, "LocalMountPath": "/mnt/msg"}],
    )  # fmt: skip
    resp = lambda_client.invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, body
    assert body["text"] == "hello from another host\n"
    assert body["owner"] == [1001, 1001]  # squashed by the access point export
    assert body["wrote"] == [1001, 1001] == body["me"]

    run = nfs("nfs-cat", nfs_url(address, port, f"/{ap_id}/from-function.txt"))
    assert (run.returncode, run.stdout) == (0, f"written by {name}\n"), run.stderr
    # The whole file system is exported beside the access point, with the tree as it is.
    run = nfs("nfs-ls", nfs_url(address, port, f"/{fs_id}/message"))
    assert run.returncode == 0, run.stderr
    lines = {line.split()[-1]: line.split() for line in run.stdout.splitlines()}
    assert set(lines) >= {"from-nfs.txt", "from-function.txt"}
    assert lines["from-nfs.txt"][2:4] == ["1001", "1001"]

    # Deleting the mount target stops serving it.
    efs_client.delete_mount_target(MountTargetId=mt_id)
    wait_for(lambda: not efs_client.describe_mount_targets(FileSystemId=fs_id)["MountTargets"])
    wait_for(lambda: nfs("nfs-ls", nfs_url(address, port, f"/{ap_id}")).returncode != 0)
    lambda_client.delete_function(FunctionName=name)


def test_ganesha_stops_with_shoal_and_comes_back_with_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "shoal"
    srv = start_server(data_dir)
    try:
        _, ap_id, _, _, port = make_target(srv)
        assert len(ganesha_pids(data_dir)) == 1
        assert srv.stop() == 0
        assert ganesha_pids(data_dir) == []  # stopped with Shoal

        # The mount target is persisted: a new Shoal serves it again, on the same port.
        srv = start_server(data_dir)
        wait_for(lambda: nfs("nfs-ls", nfs_url("127.0.0.1", port, f"/{ap_id}")).returncode == 0)
        assert len(ganesha_pids(data_dir)) == 1
        # Killed outright, Shoal cannot stop its ganesha: the kernel does (parent-death signal).
        srv.stop(signal.SIGKILL)
        wait_for(lambda: not ganesha_pids(data_dir))
    finally:
        srv.stop()
        for pid in ganesha_pids(data_dir):
            os.kill(pid, signal.SIGKILL)


CONNECT = """
import socket

def handler(event, context):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((event["address"], event["port"]))
        return "connected"
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()
"""


def test_a_function_cannot_reach_a_mount_target(server: ShoalServer, lambda_client: Any) -> None:
    """The whole-file-system export trusts the client's uid (AUTH_SYS, no root squash): it is
    for other hosts, never for functions, which see the file system only through their access
    point. From an environment, the target's address is not this host's."""
    fs_id, _, _, mt_id, port = make_target(server)
    (mt,) = server.client("efs").describe_mount_targets(MountTargetId=mt_id)["MountTargets"]
    socket.create_connection((mt["IpAddress"], port), timeout=2).close()  # the host can
    name = create_function(lambda_client, code=CONNECT)
    response = lambda_client.invoke(
        FunctionName=name, Payload=json.dumps({"address": mt["IpAddress"], "port": port})
    )
    outcome = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, outcome
    assert outcome in ("ConnectionRefusedError", "TimeoutError", "OSError"), outcome
