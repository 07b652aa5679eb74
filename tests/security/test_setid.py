"""Nothing from a file system is set-id or a device on the host (issue 10, item 2).

Set-uid and set-gid programs and device nodes are written into a file system's tree by root on
the host and by a function whose access point gives it another user's uid and gid 0, then run
or opened by an unprivileged local user through every host path to the tree: the data
directory's own (the file systems' directory, bind-mounted onto itself ``nosuid,nodev``) and
``shoal fs mount``. ``run_as_suid`` lets set-id bits take effect (no ``no_new_privs``), and
``shoal fs mount --suid`` shows the same program *does* give its owner's identity where the
mount allows it, so an inert bit is Shoal's doing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    ROLE,
    RUNTIME,
    LocalUser,
    ShoalServer,
    run_as_suid,
    unique_name,
)

IDS = r"""
#include <stdio.h>
#include <unistd.h>
int main(void) {
    printf("%d %d %d %d\n", (int)getuid(), (int)geteuid(), (int)getgid(), (int)getegid());
    return 0;
}
"""

# The access point of the function variant: another local user's uid, and gid 0 among its
# secondary groups, which lets it give a file to group 0 and make it set-gid.
OTHER_UID = 4242


@pytest.fixture(scope="module")
def ids_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny program printing its real and effective uid and gid."""
    d = tmp_path_factory.mktemp("ids")
    (d / "ids.c").write_text(IDS)
    subprocess.run(["cc", "-O2", "-o", str(d / "ids"), str(d / "ids.c")], check=True)
    return d / "ids"


def run_program(user: LocalUser, program: Path) -> subprocess.CompletedProcess[str]:
    """Exec ``program`` from a shell of ``user``'s: setpriv itself looks up the program it execs
    while it still holds root's capabilities, so a path the user cannot reach would work."""
    return run_as_suid(user, ["/bin/sh", "-c", 'exec "$0"', str(program)])


def ids(user: LocalUser, program: Path) -> tuple[int, int, int, int]:
    out = run_program(user, program)
    assert out.returncode == 0, out.stderr
    uid, euid, gid, egid = map(int, out.stdout.split())
    return uid, euid, gid, egid


def shoal(srv: ShoalServer, *argv: str) -> str:
    env = {**os.environ, "SHOAL_ENDPOINT": srv.endpoint}
    out = subprocess.run([sys.executable, "-m", "shoal", *argv], capture_output=True, text=True,
                         timeout=120, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


@contextlib.contextmanager
def fs_mount(srv: ShoalServer, where: Path, fs_id: str, *flags: str) -> Iterator[Path]:
    """``shoal fs mount`` at a place every user reaches, unmounted afterwards."""
    where.mkdir(mode=0o755, parents=True, exist_ok=True)
    shoal(srv, "fs", "mount", fs_id, str(where), *flags)
    try:
        yield where
    finally:
        shoal(srv, "fs", "unmount", str(where))


def mount_options(path: Path) -> set[str]:
    """The per-mount options of the mount ``path`` is (the last one stacked there)."""
    found: set[str] | None = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == str(path):
                found = set(fields[5].split(","))
    assert found is not None, f"{path} is not a mount point"
    return found


@pytest.fixture(scope="module")
def fs_id(attacked_server: ShoalServer) -> str:
    efs = attacked_server.client("efs")
    return str(efs.create_file_system(CreationToken=unique_name("fs"))["FileSystemId"])


@pytest.fixture
def spot(exposed_root: Path) -> Iterator[Path]:
    path = exposed_root / f"mnt-{uuid.uuid4().hex[:8]}"
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.rmdir()


def plant(program: Path, where: Path, owner: tuple[int, int], mode: int) -> Path:
    shutil.copy(program, where)
    os.chown(where, *owner)
    os.chmod(where, mode)  # after chown, which clears set-id bits
    assert where.stat().st_mode & 0o7777 == mode
    return where


def test_the_file_systems_directory_is_a_nosuid_nodev_mount(attacked_server: ShoalServer) -> None:
    fs_dir = attacked_server.data_dir / "filesystems"
    assert {"nosuid", "nodev"} <= mount_options(fs_dir)


def test_a_setuid_root_program_in_a_tree_gives_nothing_on_the_host(
    attacked_server: ShoalServer, attacker: LocalUser, ids_program: Path, fs_id: str,
    spot: Path,
) -> None:  # fmt: skip
    data = attacked_server.data_dir
    tree = data / "filesystems" / fs_id
    plant(ids_program, tree / "suid-root", (0, 0), 0o4755)
    plant(ids_program, tree / "sgid-root", (0, 0), 0o2755)
    me = (attacker.uid, attacker.uid, attacker.gid, attacker.gid)

    # Where set-id is allowed (the --suid mount), the very same files give root: the danger.
    with fs_mount(attacked_server, spot, fs_id, "--suid") as mnt:
        assert ids(attacker, mnt / "suid-root")[1] == 0
        assert ids(attacker, mnt / "sgid-root")[3] == 0
    # A plain shoal fs mount: inert.
    with fs_mount(attacked_server, spot, fs_id) as mnt:
        assert {"nosuid", "nodev"} <= mount_options(mnt)
        assert ids(attacker, mnt / "suid-root") == me
        assert ids(attacker, mnt / "sgid-root") == me
    # The data directory's own path, were the attacker to reach it (it is 0700: open it up
    # for this check only): inert too, through the nosuid self-bind.
    saved = [(p, p.stat().st_mode & 0o7777) for p in (data, data / "filesystems")]
    try:
        for p, _ in saved:
            p.chmod(0o711)
        assert ids(attacker, tree / "suid-root") == me
        assert ids(attacker, tree / "sgid-root") == me
    finally:
        for p, mode in saved:
            p.chmod(mode)
    denied = run_program(attacker, tree / "suid-root")  # unreachable again
    assert denied.returncode != 0 and "Permission denied" in denied.stderr, denied


@pytest.fixture
def loop_disk(exposed_root: Path) -> Iterator[tuple[str, bytes]]:
    """A loop block device over a small file with known first bytes: (device, those bytes)."""
    backing = exposed_root / f"disk-{uuid.uuid4().hex[:8]}"
    head = b"shoal loop disk " + uuid.uuid4().hex.encode()
    backing.write_bytes(head + bytes(1 << 20))
    out = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True,
                         text=True, check=True)  # fmt: skip
    device = out.stdout.strip()
    try:
        yield device, head
    finally:
        subprocess.run(["losetup", "--detach", device], check=True)
        backing.unlink()


def _read(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def test_device_nodes_in_a_tree_open_nothing_on_the_host(
    attacked_server: ShoalServer, fs_id: str, exposed_root: Path, spot: Path,
    loop_disk: tuple[str, bytes],
) -> None:  # fmt: skip
    device, head = loop_disk
    tree = attacked_server.data_dir / "filesystems" / fs_id
    rdev = os.stat(device).st_rdev
    twins = {"null-twin": os.makedev(1, 3), "disk-twin": rdev}
    control = exposed_root / f"dev-{uuid.uuid4().hex[:8]}"
    control.mkdir()
    try:
        for name, dev in twins.items():
            kind = 0o020000 if name == "null-twin" else 0o060000  # S_IFCHR, S_IFBLK
            os.mknod(tree / name, kind | 0o666, dev)
            os.mknod(control / name, kind | 0o666, dev)
        # The control: the same nodes on an ordinary host directory open the devices, as root.
        assert _read(control / "null-twin", 1) == b""
        assert _read(control / "disk-twin", len(head)) == head
        mounts = [fs_mount(attacked_server, spot, fs_id),
                  fs_mount(attacked_server, spot, fs_id, "--suid")]  # fmt: skip
        for path in [tree] + mounts:  # the data directory's path, then both kinds of host mount
            with contextlib.ExitStack() as stack:
                where = path if isinstance(path, Path) else stack.enter_context(path)
                for name in twins:
                    with pytest.raises(PermissionError):  # even for root: nodev
                        _read(where / name, 1)
    finally:
        shutil.rmtree(control)


# ---------------------------------------------------------------- the function variant

DROPPER = """
import os, shutil

def handler(event, context):
    made = {}
    for name, mode, group in (("uid-copy", 0o4755, None), ("gid-copy", 0o2755, 0)):
        path = "/mnt/fs/" + name
        shutil.copy("/var/task/ids", path)
        if group is not None:
            os.chown(path, -1, group)  # allowed: gid 0 is one of this user's groups
        os.chmod(path, mode)
        st = os.stat(path)
        made[name] = [st.st_uid, st.st_gid, st.st_mode & 0o7777]
    with open("/proc/self/mountinfo") as f:
        options = [line.split()[5] for line in f if line.split()[4] == "/mnt/fs"]
    return {"made": made, "groups": sorted(os.getgroups()), "mnt": options}
"""


def _zip(files: dict[str, bytes | str], executable: tuple[str, ...] = ()) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            zf.writestr(info, content)
    return buf.getvalue()


@pytest.fixture(scope="module")
def dropped(attacked_server: ShoalServer, ids_program: Path, fs_id: str) -> dict[str, Any]:
    """A function on an access point with PosixUser 4242/4242 + secondary gid 0 writes a set-uid
    and a set-gid copy of the program into its mount."""
    lam, efs = attacked_server.client("lambda"), attacked_server.client("efs")
    ap = efs.create_access_point(
        FileSystemId=fs_id,
        PosixUser={"Uid": OTHER_UID, "Gid": OTHER_UID, "SecondaryGids": [0]},
        RootDirectory={"Path": "/drop", "CreationInfo": {
            "OwnerUid": OTHER_UID, "OwnerGid": OTHER_UID, "Permissions": "755"}},
    )  # fmt: skip
    name = unique_name("dropper")
    lam.create_function(
        FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="app.handler", Timeout=30,
        Code={"ZipFile": _zip({"app.py": DROPPER, "ids": ids_program.read_bytes()}, ("ids",))},
        FileSystemConfigs=[{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/fs"}],
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name,
                                              WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})
    r = lam.invoke(FunctionName=name)
    body: dict[str, Any] = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    return {**body, "ap": ap["AccessPointId"]}


def test_a_function_can_write_set_id_files(dropped: dict[str, Any],
                                           attacked_server: ShoalServer, fs_id: str) -> None:
    """The premise: the bits are really on disk, owned by uid 4242 and by group 0."""
    assert 0 in dropped["groups"]
    assert dropped["made"] == {"uid-copy": [OTHER_UID, OTHER_UID, 0o4755],
                               "gid-copy": [OTHER_UID, 0, 0o2755]}  # fmt: skip
    on_disk = attacked_server.data_dir / "filesystems" / fs_id / "drop"
    st = (on_disk / "gid-copy").stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (OTHER_UID, 0, 0o2755)
    # Inside the environment the access point is nosuid,nodev too.
    (options,) = dropped["mnt"]
    assert {"nosuid", "nodev"} <= set(options.split(","))


def test_set_id_files_a_function_wrote_are_inert_on_the_host(
    dropped: dict[str, Any], attacked_server: ShoalServer, attacker: LocalUser, fs_id: str,
    spot: Path,
) -> None:  # fmt: skip
    me = (attacker.uid, attacker.uid, attacker.gid, attacker.gid)
    with fs_mount(attacked_server, spot, fs_id, "--suid") as mnt:
        # Where set-id is honoured: another user's uid, and group root.
        assert ids(attacker, mnt / "drop" / "uid-copy")[1] == OTHER_UID
        assert ids(attacker, mnt / "drop" / "gid-copy")[3] == 0
    with fs_mount(attacked_server, spot, fs_id) as mnt:
        assert ids(attacker, mnt / "drop" / "uid-copy") == me
        assert ids(attacker, mnt / "drop" / "gid-copy") == me
    # The access point's own (idmapped) host mount, acting as the attacker.
    flags = ("--access-point", dropped["ap"], "--host-uid", str(attacker.uid),
             "--host-gid", str(attacker.gid))  # fmt: skip
    with fs_mount(attacked_server, spot, fs_id, *flags) as mnt:
        assert {"nosuid", "nodev"} <= mount_options(mnt)
        assert ids(attacker, mnt / "gid-copy") == me
    assert {"nosuid", "nodev"} <= mount_options(attacked_server.data_dir / "filesystems")


MOUNT_PROBE = """
import os

def handler(event, context):
    with open("/proc/self/mountinfo") as f:
        options = [line.split()[5] for line in f if line.split()[4] == "/mnt/fs"]
    mask = os.umask(0o022)
    os.umask(mask)
    return {"mnt": options, "umask": mask, "init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
"""


def test_snapshot_started_environments_mount_the_access_point_nosuid_nodev(
    dropped: dict[str, Any], attacked_server: ShoalServer, fs_id: str
) -> None:
    """The environments forked from a snapshot have the template's mounts: the same flags, and
    the same usual umask."""
    lam, efs = attacked_server.client("lambda"), attacked_server.client("efs")
    (ap,) = efs.describe_access_points(AccessPointId=dropped["ap"])["AccessPoints"]
    name = unique_name("snap")
    lam.create_function(
        FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="app.handler", Timeout=30,
        Code={"ZipFile": _zip({"app.py": MOUNT_PROBE})},
        SnapStart={"ApplyOn": "PublishedVersions"},
        FileSystemConfigs=[{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/fs"}],
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name,
                                              WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})
    r = lam.invoke(FunctionName=name)
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    assert body["init"] == "snap-start"
    (options,) = body["mnt"]
    assert {"nosuid", "nodev"} <= set(options.split(","))
    assert body["umask"] == 0o022
