"""The three ways to reach a file system apply one identity rule (shoal.filesystems.identity).

For each (PosixUser, policy) a function, an NFS client (root on this host, from a privileged
port, claiming uid 0 and then 4242) and a host mount made by ``shoal fs mount`` (used by root)
each write one file into the same access point; the owners on disk, and the refusals, agree.
"""

from __future__ import annotations

import errno
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fs_helpers import invoke, make_fn, make_fs, shoal_cli

from conftest import ShoalServer
from nfs_client import mount_target

pytestmark = pytest.mark.nfs

WRITER = """
import os

def handler(event, context):
    me = [os.getuid(), os.getgid(), sorted(os.getgroups())]
    path = "/mnt/fs/" + event["name"]
    try:
        with open(path, "w") as f:
            f.write("x")
    except OSError as e:
        return {"errno": e.errno, "me": me}
    st = os.stat(path)
    return {"owner": [st.st_uid, st.st_gid], "me": me}
"""
NO_ROOT = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
MOUNT_ONLY = ["elasticfilesystem:ClientMount"]
REFUSED = "refused"
SQUASHED = (65534, 65534)


def over_nfs(port: int, ap_id: str, root: Path, name: str, uid: int) -> Any:
    url = f"nfs://127.0.0.1/{ap_id}/{name}?version=4&nfsport={port}&uid={uid}&gid={uid}"
    run = subprocess.run(["nfs-cp", "/etc/hostname", url], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    if run.returncode != 0:
        assert not (root / name).exists()
        return REFUSED
    st = (root / name).stat()
    return (st.st_uid, st.st_gid)


def on_host(server: ShoalServer, fs_id: str, ap_id: str | None, root: Path, name: str,
            where: Path) -> Any:  # fmt: skip
    """Mount with ``shoal fs mount`` (the access point, or the whole file system) at ``where``,
    write ``name`` there as root, unmount; ``root`` is the mounted directory on disk."""
    extra = ["--access-point", ap_id] if ap_id else []
    mounted = shoal_cli(server, "fs", "mount", fs_id, str(where), *extra)
    assert mounted.returncode == 0, mounted.stderr
    try:
        (where / name).write_text("x")
    except OSError as e:
        assert e.errno == errno.EROFS
        return REFUSED
    finally:
        assert shoal_cli(server, "fs", "unmount", str(where)).returncode == 0
    st = (root / name).stat()
    return (st.st_uid, st.st_gid)


CASES = {
    # PosixUser, policy actions, the AP root's owner (a directory every identity of the case
    # may write: see shoal.filesystems.hostmount on host mounts and unmapped owners) -> the
    # owner of what each writes: function, NFS claiming 0, NFS claiming 4242, host mount.
    "posix-user": ((1001, 1002), None, (1001, 1002),
                   (1001, 1002), (1001, 1002), (1001, 1002), (1001, 1002)),
    "root-posix-user-without-root-access": ((0, 0), NO_ROOT, SQUASHED,
                                            SQUASHED, SQUASHED, SQUASHED, SQUASHED),
    "no-posix-user-without-root-access": (None, NO_ROOT, (4242, 4242),
                                          "itself", SQUASHED, (4242, 4242), SQUASHED),
    "no-posix-user-no-policy": (None, None, (0, 0), "itself", (0, 0), (4242, 4242), (0, 0)),
    "read-only": ((1001, 1002), MOUNT_ONLY, (1001, 1002),
                  REFUSED, REFUSED, REFUSED, REFUSED),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_functions_nfs_and_host_mounts_agree(
    case: str, server: ShoalServer, efs_client: Any, lambda_client: Any, tmp_path: Path
) -> None:
    user, actions, owner, function, nfs_root, nfs_other, host = CASES[case]
    fs_id = make_fs(efs_client)
    posix = {"PosixUser": {"Uid": user[0], "Gid": user[1]}} if user else {}
    ap = efs_client.create_access_point(FileSystemId=fs_id, **posix, RootDirectory={
        "Path": "/shared",
        "CreationInfo": {"OwnerUid": owner[0], "OwnerGid": owner[1], "Permissions": "777"},
    })  # fmt: skip
    if actions is not None:
        efs_client.put_file_system_policy(FileSystemId=fs_id, Policy=json.dumps({
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": actions}],
        }))  # fmt: skip
    _, port = mount_target(server, fs_id)
    root = server.data_dir / "filesystems" / fs_id / "shared"

    name = make_fn(lambda_client, WRITER, ap["AccessPointArn"])
    body = invoke(lambda_client, name, {"name": "function"})
    lambda_client.delete_function(FunctionName=name)
    if "errno" in body:
        assert body["errno"] == errno.EROFS
        got_function: Any = REFUSED
    else:
        got_function = tuple(body["owner"])
    if function == "itself":  # the client's identity passes: the sandbox's own, never root
        function = tuple(body["me"][:2])
        assert function[0] != 0
    assert got_function == function
    assert over_nfs(port, ap["AccessPointId"], root, "nfs-root", 0) == nfs_root
    assert over_nfs(port, ap["AccessPointId"], root, "nfs-other", 4242) == nfs_other
    where = tmp_path / "mnt"
    assert on_host(server, fs_id, ap["AccessPointId"], root, "host", where) == host
    if user is None:  # the whole file system follows the same rule (no PosixUser)
        whole = root.parent
        assert on_host(server, fs_id, None, whole, "shared/host-whole", where / "whole") == host
