"""Escape attempts from inside a function: each must fail to reach anything outside the
access point's root (the rest of the file system, the host, other access points' files)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fs_helpers import PROBE, invoke, make_ap, make_fn, make_fs

from conftest import ShoalServer, unique_name


@pytest.fixture(scope="module")
def setup(server: ShoalServer, efs_client: Any, lambda_client: Any) -> dict[str, Any]:
    fs_id = make_fs(efs_client)
    ap = make_ap(efs_client, fs_id)
    name = make_fn(lambda_client, PROBE, ap["AccessPointArn"])
    root = server.data_dir / "filesystems" / fs_id
    invoke(lambda_client, name, {"code": "result = 1"})  # first mount creates /message
    secret = root / "secret.txt"  # outside the access point root, readable by everyone
    secret.write_text("outside")
    os.chmod(secret, 0o644)
    return {"fs_id": fs_id, "ap": ap, "fn": name, "root": root, "secret": secret}


def probe(lam: Any, setup: dict[str, Any], code: str) -> Any:
    return invoke(lam, setup["fn"], {"code": code})


def test_planted_symlink_does_not_lead_outside(lambda_client: Any, setup: dict[str, Any]) -> None:
    host_secret = str(setup["secret"])
    out = probe(
        lambda_client,
        setup,
        f"""
os.symlink("../secret.txt", "/mnt/fs/rel")
os.symlink({host_secret!r}, "/mnt/fs/abs")
os.symlink("/", "/mnt/fs/slash")
result = {{
    "rel": attempt(lambda: open("/mnt/fs/rel").read()),
    "abs": attempt(lambda: open("/mnt/fs/abs").read()),
    "slash": attempt(lambda: open("/mnt/fs/slash" + {host_secret!r}).read()),
}}""",
    )
    assert "ok" not in out["rel"] and "ok" not in out["abs"], out
    # "/" inside the environment is its own minimal root, not the host's.
    assert "ok" not in out["slash"], out
    # On the host the planted links stay what they are: links inside the tree.
    assert (setup["root"] / "message" / "rel").is_symlink()


def test_dotdot_traversal_stops_at_the_mount(lambda_client: Any, setup: dict[str, Any]) -> None:
    out = probe(
        lambda_client,
        setup,
        """
result = {
    "up": attempt(lambda: open("/mnt/fs/../secret.txt").read()),
    "upup": attempt(lambda: open("/mnt/fs/../../secret.txt").read()),
    "mnt": attempt(lambda: sorted(os.listdir("/mnt/fs/.."))),
    "fd": attempt(lambda: os.open("../secret.txt", os.O_RDONLY,
                                  dir_fd=os.open("/mnt/fs", os.O_DIRECTORY))),
}""",
    )
    assert out["up"]["errno"] == "ENOENT" and out["upup"]["errno"] == "ENOENT", out
    assert out["mnt"]["ok"] == ["fs"]
    assert "ok" not in out["fd"]


def test_root_directory_symlink_cannot_redirect_another_access_point(
    efs_client: Any, lambda_client: Any, setup: dict[str, Any]
) -> None:
    # A function plants /message/next -> "/" hoping a later access point at /message/next
    # (mounted by the host, following links) would expose the host's root.
    probe(lambda_client, setup, 'os.symlink("/", "/mnt/fs/next"); result = 1')
    victim = make_ap(efs_client, setup["fs_id"], path="/message/next")
    name = make_fn(lambda_client, PROBE, victim["AccessPointArn"])
    with pytest.raises(ClientError) as e:
        invoke(lambda_client, name, {"code": "result = os.listdir('/mnt/fs')"})
    assert e.value.response["Error"]["Code"] == "EFSMountFailureException"
    assert "not a directory" in e.value.response["Error"]["Message"]


def test_hard_links_across_the_mount_fail(lambda_client: Any, setup: dict[str, Any]) -> None:
    out = probe(
        lambda_client,
        setup,
        """
open("/tmp/mine", "w").write("x")
result = {
    "task": attempt(lambda: os.link("/var/task/app.py", "/mnt/fs/app-link")),
    "tmp": attempt(lambda: os.link("/tmp/mine", "/mnt/fs/tmp-link")),
    "out": attempt(lambda: os.link("/mnt/fs/../secret.txt", "/mnt/fs/s-link")),
}""",
    )
    assert out["task"]["errno"] == "EXDEV" and out["tmp"]["errno"] == "EXDEV", out
    assert "ok" not in out["out"]


def test_host_made_hard_link_is_the_same_file_with_its_own_mode(
    lambda_client: Any, setup: dict[str, Any]
) -> None:
    # Documented behaviour: a hard link an administrator makes on the host, inside the access
    # point's tree, is the same inode as its target. The function reaches it, and the kernel
    # checks the inode's owner and mode against the function's uid, as for any file.
    private = setup["root"] / unique_name("private")
    private.write_text("root only")
    os.chmod(private, 0o600)
    public = setup["root"] / unique_name("public")
    public.write_text("everyone")
    os.chmod(public, 0o644)
    os.link(private, setup["root"] / "message" / "private-link")
    os.link(public, setup["root"] / "message" / "public-link")
    out = probe(
        lambda_client,
        setup,
        """
result = {
    "private": attempt(lambda: open("/mnt/fs/private-link").read()),
    "public": attempt(lambda: open("/mnt/fs/public-link").read()),
    "relink": attempt(lambda: os.link("/mnt/fs/private-link", "/mnt/fs/again")),
}""",
    )
    assert out["private"]["errno"] == "EACCES"
    assert out["public"] == {"ok": "everyone"}
    # fs.protected_hardlinks: a user cannot link a file it neither owns nor can read+write.
    assert out["relink"]["errno"] == "EPERM"


def test_proc_does_not_lead_to_the_host(
    lambda_client: Any, setup: dict[str, Any], server: ShoalServer
) -> None:
    pid = server.process.pid
    data = str(server.data_dir)
    out = probe(
        lambda_client,
        setup,
        f"""
def look(path):
    return attempt(lambda: sorted(os.listdir(path)))
result = {{
    "pid1_root_data": attempt(lambda: os.listdir("/proc/1/root" + {data!r})),
    "server_root": look("/proc/{pid}/root"),
    "server_cwd": look("/proc/{pid}/cwd"),
    "pid1_secret": attempt(lambda: open("/proc/1/root" + {str(setup["secret"])!r}).read()),
    "me": os.getpid(),
}}""",
    )
    assert "ok" not in out["pid1_root_data"], out
    assert "ok" not in out["pid1_secret"], out
    assert "ok" not in out["server_root"] and "ok" not in out["server_cwd"], out


def test_cannot_act_as_another_uid(lambda_client: Any, setup: dict[str, Any]) -> None:
    out = probe(
        lambda_client,
        setup,
        """
open("/mnt/fs/mine", "w").write("x")
result = {
    "chown_root": attempt(lambda: os.chown("/mnt/fs/mine", 0, 0)),
    "chown_other": attempt(lambda: os.chown("/mnt/fs/mine", 4242, 4242)),
    "setuid": attempt(lambda: os.setuid(0)),
    "stat": list(os.stat("/mnt/fs/mine")[4:6]),
}""",
    )
    assert out["chown_root"]["errno"] == "EPERM" and out["chown_other"]["errno"] == "EPERM"
    assert out["setuid"]["errno"] == "EPERM"
    assert out["stat"] == [1001, 1001]


def test_read_only_policy_means_erofs(
    efs_client: Any, lambda_client: Any, setup: dict[str, Any]
) -> None:
    fs_id = make_fs(efs_client)
    ap = make_ap(efs_client, fs_id)
    efs_client.put_file_system_policy(FileSystemId=fs_id, Policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": "elasticfilesystem:ClientMount"}]}))  # fmt: skip
    name = make_fn(lambda_client, PROBE, ap["AccessPointArn"])
    out = invoke(
        lambda_client,
        name,
        {
            "code": """
result = {
    "write": attempt(lambda: open("/mnt/fs/x", "w")),
    "mkdir": attempt(lambda: os.mkdir("/mnt/fs/d")),
    "list": attempt(lambda: os.listdir("/mnt/fs")),
}"""
        },
    )
    assert out["write"]["errno"] == "EROFS" and out["mkdir"]["errno"] == "EROFS", out
    assert out["list"] == {"ok": []}


def test_denied_mount_fails_the_invoke(efs_client: Any, lambda_client: Any) -> None:
    fs_id = make_fs(efs_client)
    ap = make_ap(efs_client, fs_id)
    efs_client.put_file_system_policy(FileSystemId=fs_id, Policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/someone-else"},
        "Action": "elasticfilesystem:ClientMount"}]}))  # fmt: skip
    name = make_fn(lambda_client, PROBE, ap["AccessPointArn"])
    with pytest.raises(ClientError) as e:
        invoke(lambda_client, name, {"code": "result = 1"})
    assert e.value.response["Error"]["Code"] == "EFSMountFailureException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_another_access_points_private_files(
    efs_client: Any, lambda_client: Any, setup: dict[str, Any]
) -> None:
    fs_id = make_fs(efs_client)
    private = make_ap(efs_client, fs_id, uid=1001, gid=1001, path="/one", mode="700")
    whole = make_ap(efs_client, fs_id, uid=1002, gid=1002, path="/", mode="755")
    owner = make_fn(lambda_client, PROBE, private["AccessPointArn"])
    other = make_fn(lambda_client, PROBE, whole["AccessPointArn"])
    invoke(lambda_client, owner, {"code": 'open("/mnt/fs/secret", "w").write("s"); result = 1'})
    out = invoke(
        lambda_client,
        other,
        {
            "code": """
result = {
    "list": attempt(lambda: os.listdir("/mnt/fs/one")),
    "read": attempt(lambda: open("/mnt/fs/one/secret").read()),
    "rename": attempt(lambda: os.rename("/mnt/fs/one", "/mnt/fs/mine")),
}"""
        },
    )
    assert out["list"]["errno"] == "EACCES" and out["read"]["errno"] == "EACCES", out
    assert out["rename"]["errno"] in ("EACCES", "EPERM")
