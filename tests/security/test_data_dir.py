"""The data directory is root's alone (issue 10, item 1), attacked by an unprivileged local user.

The server under attack keeps its data under a world-traversable ``/var/tmp`` parent, so each
refusal is Shoal's modes and not pytest's 0700 temporary root. Each attack is first shown to
succeed where it should (root, or the same read with the modes loosened).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import (
    ROOT,
    SHOAL,
    LocalUser,
    ShoalServer,
    create_function,
    default_subnet,
    run_as,
    shoal_urlopen,
    start_server,
    unique_name,
    wait_for,
)
from shoal.store.sqlite import Store

# Tries to reach each (path, kind) given as JSON; prints the ones it reached. Run as the
# attacker and, for the control, as root.
REACH = """
import json, os, sys
reached = []
for path, kind in json.loads(sys.argv[1]):
    try:
        os.stat(path)
        if kind == "dir":
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read(1)
        reached.append(path)
    except OSError:
        pass
print(json.dumps(reached))
"""

HANDLER = """
import os

def handler(event, context):
    print("a log line with a secret:", os.environ["SECRET"])
    return "ok"
"""


def reach(paths: list[tuple[str, str]], user: LocalUser | None) -> list[str]:
    argv = ["/usr/bin/python3", "-c", REACH, json.dumps(paths)]
    out = run_as(user, argv) if user else subprocess.run(argv, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def everything_under(data: Path) -> list[tuple[str, str]]:
    found = [(str(data), "dir")]
    for dirpath, dirnames, filenames in os.walk(data):
        found += [(os.path.join(dirpath, d), "dir") for d in dirnames]
        found += [(os.path.join(dirpath, f), "file") for f in filenames
                  if not os.path.islink(os.path.join(dirpath, f))]  # fmt: skip
    return found


def shoal_written(data: Path) -> list[Path]:
    """What Shoal itself writes: all but the file systems' trees and the unpacked code and
    layer trees (whose modes are their users' and the environments', see shoal.datadir)."""
    paths = [data]
    for dirpath, dirnames, filenames in os.walk(data):
        here = Path(dirpath)
        if here == data / "filesystems":
            dirnames[:] = []
            continue
        if here in (data / "code", data / "layers" / "packages", data / "layers" / "opt"):
            dirnames[:] = []
        paths += [here / d for d in dirnames] + [here / f for f in filenames]
    return paths


@pytest.fixture(scope="module")
def populated(attacked_server: ShoalServer) -> ShoalServer:
    """Every kind of file Shoal writes: database and WAL, a code package, logs, NFS
    configuration and ganesha's own files, the endpoint file."""
    lam = attacked_server.client("lambda")
    efs = attacked_server.client("efs")
    name = create_function(lam, code=HANDLER, Environment={"Variables": {"SECRET": "s3cr3t"}})
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200
    fs_id = efs.create_file_system(CreationToken=unique_name("fs"))["FileSystemId"]
    subnet = default_subnet(attacked_server)
    mt_id = efs.create_mount_target(FileSystemId=fs_id, SubnetId=subnet)["MountTargetId"]

    def available() -> bool:
        (mt,) = efs.describe_mount_targets(MountTargetId=mt_id)["MountTargets"]
        assert mt["LifeCycleState"] in ("creating", "available"), mt
        return bool(mt["LifeCycleState"] == "available")

    wait_for(available, timeout=60)
    # Reading the logs flushes them to their file: the secret is now on disk, in the log and
    # in the database.
    with shoal_urlopen(f"{attacked_server.endpoint}/shoal/logs/{name}") as r:
        assert "s3cr3t" in "".join(e["message"] for e in json.load(r)["events"])
    return attacked_server


def test_the_attacker_reaches_nothing_under_the_data_directory(
    populated: ShoalServer, attacker: LocalUser
) -> None:
    data = populated.data_dir
    paths = everything_under(data)
    names = {Path(p).name for p, _ in paths}
    assert {"shoal.db", "shoal.db-wal", "endpoint", "ganesha.conf", "ganesha.log"} <= names
    assert any(n.endswith(".zip") for n in names) and "logs.db" in names
    assert reach(paths, None) == [p for p, _ in paths], "root reaches all of it"
    # The data directory's parent is open to everyone: the attacker gets as far as Shoal lets.
    assert reach([(str(data.parent), "dir")], attacker) == [str(data.parent)]
    assert reach(paths, attacker) == []


def test_the_same_read_succeeds_once_the_modes_are_loosened(
    populated: ShoalServer, attacker: LocalUser
) -> None:
    """The control: nothing but the modes stood in the way of the attack above."""
    data = populated.data_dir
    chain = [data, data / "run"]
    target = data / "run" / "endpoint"
    saved = {p: p.stat().st_mode & 0o7777 for p in [*chain, target]}
    try:
        for p in chain:
            p.chmod(0o711)
        target.chmod(0o644)
        assert reach([(str(target), "file")], attacker) == [str(target)]
    finally:
        for p, mode in saved.items():
            p.chmod(mode)
    assert reach([(str(target), "file")], attacker) == []


def test_everything_shoal_writes_is_owner_only(populated: ShoalServer) -> None:
    data = populated.data_dir
    loose = {str(p): oct(p.lstat().st_mode & 0o777) for p in shoal_written(data)
             if not p.is_symlink() and p.lstat().st_mode & 0o077}  # fmt: skip
    assert loose == {}
    assert (data / "filesystems").stat().st_mode & 0o777 == 0o700
    # The unpacked code trees stay 0755 (read as /var/task by the function's user), unreachable
    # on the host behind code/'s 0700.
    trees = [p for p in (data / "code").iterdir() if p.is_dir()]
    assert trees and all(p.stat().st_mode & 0o777 == 0o755 for p in trees)
    assert (data / "code").stat().st_mode & 0o777 == 0o700
    for p in shoal_written(data):
        assert p.lstat().st_uid == 0, p


# ---------------------------------------------------------------- start-up checks


def serve_refused(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``shoal serve`` on ``data_dir``; it must exit on its own, refusing."""
    proc = subprocess.Popen(
        [*SHOAL, "serve", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.terminate()  # a clean stop: a server that did start releases what it mounted
        proc.communicate(timeout=60)
        raise AssertionError(f"shoal serve started on {data_dir} instead of refusing") from None
    out = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert out.returncode != 0, out.stdout + out.stderr
    assert "refusing to start" in out.stderr, out.stderr
    return out


@pytest.fixture
def place(exposed_root: Path) -> Iterator[Path]:
    """A fresh directory under the world-traversable root, removed afterwards."""
    path = exposed_root / f"case-{uuid.uuid4().hex[:8]}"
    path.mkdir(mode=0o755)
    path.chmod(0o755)
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], check=True)


def test_a_loose_data_directory_is_tightened_at_start(place: Path) -> None:
    data = place / "data"
    for d in ("", "logs/us-east-1%2Fgrp", "run", "code/abc", "filesystems/fs-0/shared"):
        (data / d).mkdir(parents=True, exist_ok=True)
    Store(data / "shoal.db").close()  # Shoal's own schema, as a past run left it
    files = {"logs/us-east-1%2Fgrp/notes.txt": "x", "run/endpoint": "x", "code/abc.zip": "x",
             "code/abc/app.py": "x", "filesystems/fs-0/shared/users-file": "x"}  # fmt: skip
    for rel, text in files.items():
        (data / rel).write_text(text)
    for p in data.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    data.chmod(0o755)
    srv = start_server(data)
    try:
        lines = [line for line in srv.output if "tightened" in line]
        assert lines and "mode 0755 -> 0700" in lines[0] and str(data) in lines[0], srv.output
        mode = {rel: (data / rel).stat().st_mode & 0o777 for rel in
                ("", "shoal.db", "logs", "logs/logs.db", "logs/us-east-1%2Fgrp",
                 "logs/us-east-1%2Fgrp/notes.txt", "run", "run/endpoint", "code", "code/abc.zip",
                 "filesystems",
                 "code/abc", "code/abc/app.py", "filesystems/fs-0",
                 "filesystems/fs-0/shared", "filesystems/fs-0/shared/users-file")}  # fmt: skip
        assert mode == {
            "": 0o700, "shoal.db": 0o600, "logs": 0o700, "logs/logs.db": 0o600,
            "logs/us-east-1%2Fgrp": 0o700,
            "logs/us-east-1%2Fgrp/notes.txt": 0o600, "run": 0o700, "run/endpoint": 0o600,
            "code": 0o700,
            "code/abc.zip": 0o600, "filesystems": 0o700,
            # Untouched: a code tree is read by the function's user inside; a file system's
            # tree is its users' data.
            "code/abc": 0o755, "code/abc/app.py": 0o644, "filesystems/fs-0": 0o755,
            "filesystems/fs-0/shared": 0o755, "filesystems/fs-0/shared/users-file": 0o644,
        }  # fmt: skip
    finally:
        assert srv.stop() == 0
    # Once tight, a restart has nothing to say.
    again = start_server(data)
    try:
        assert not [line for line in again.output if "tightened" in line], again.output
    finally:
        again.stop()


def test_a_data_directory_another_user_owns_is_refused(place: Path, attacker: LocalUser) -> None:
    data = place / "data"
    data.mkdir(mode=0o700)
    os.chown(data, attacker.uid, attacker.gid)
    out = serve_refused(data)
    assert str(data) in out.stderr and attacker.name in out.stderr, out.stderr
    assert list(data.iterdir()) == [], "nothing is written into a refused data directory"
    # The same directory, given back to root, is used.
    os.chown(data, 0, 0)
    start_server(data).stop()


def test_a_group_writable_data_directory_of_another_user_is_refused(
    place: Path, attacker: LocalUser
) -> None:
    data = place / "data"
    data.mkdir()
    os.chown(data, attacker.uid, 0)
    data.chmod(0o770)
    out = serve_refused(data)
    assert attacker.name in out.stderr, out.stderr


@pytest.mark.parametrize("plant", ["foreign-dir", "symlink", "dangling-symlink", "hardlink"])
def test_what_was_planted_while_it_was_open_is_refused(
    place: Path, attacker: LocalUser, plant: str
) -> None:
    """A root-owned data directory that was 0777 is tightened, but whatever another user put in
    Shoal's part of it meanwhile is refused, not adopted."""
    data = place / "data"
    data.mkdir()
    data.chmod(0o777)
    if plant == "foreign-dir":
        out = run_as(attacker, ["mkdir", str(data / "logs")])
        assert out.returncode == 0, out.stderr
        expected = f"{data / 'logs'} belongs to uid {attacker.uid} ({attacker.name})"
    elif plant == "symlink":
        out = run_as(attacker, ["ln", "-s", "/etc", str(data / "run")])
        assert out.returncode == 0, out.stderr
        expected = f"{data / 'run'} is a symbolic link"
    elif plant == "dangling-symlink":  # mkdir would fail on it: refused, not a traceback
        out = run_as(attacker, ["ln", "-s", "/nonexistent", str(data / "logs")])
        assert out.returncode == 0, out.stderr
        expected = f"{data / 'logs'} is a symbolic link"
    else:
        # fs.protected_hardlinks stops a user linking root's files; root's own mistake (or a
        # host without that protection) is what this covers.
        victim = place / "victim"
        victim.write_text("not Shoal's")
        os.link(victim, data / "shoal.db")
        expected = f"{data / 'shoal.db'} has 2 hard links"
    out = serve_refused(data)
    assert expected in out.stderr, out.stderr


def test_a_parent_others_can_write_to_is_refused_unless_sticky(
    place: Path, attacker: LocalUser
) -> None:
    parent = place / "open"
    parent.mkdir()
    parent.chmod(0o777)
    out = serve_refused(parent / "data")
    assert f"its parent {parent} (mode 0777) is writable by other users" in out.stderr, out.stderr
    assert not (parent / "data").exists()
    # With the sticky bit (as /tmp), no one can rename another's entry: accepted.
    parent.chmod(0o1777)
    start_server(parent / "data").stop()
    # A parent another user owns is theirs to rearrange, sticky or not.
    theirs = place / "theirs"
    theirs.mkdir()
    os.chown(theirs, attacker.uid, attacker.gid)
    out = serve_refused(theirs / "data")
    assert f"its parent {theirs} belongs to uid {attacker.uid}" in out.stderr, out.stderr


# ---------------------------------------------------------------- users' files keep their modes

UMASK_PROBE = """
import os

def handler(event, context):
    mask = os.umask(0o022)
    os.umask(mask)
    with open("/mnt/fs/made-by-function", "w") as f:
        f.write("x")
    os.mkdir("/mnt/fs/dir-by-function")
    with open("/tmp/in-tmp", "w") as f:
        f.write("x")
    return {"umask": mask, "tmp": os.stat("/tmp/in-tmp").st_mode & 0o777}
"""


def test_a_functions_files_get_the_modes_its_umask_gives(populated: ShoalServer) -> None:
    """The server's umask is 077; a function's stays the usual 022, so what it writes to its
    file system is 0644/0755 on disk, as before, not private to its uid."""
    lam, efs = populated.client("lambda"), populated.client("efs")
    fs_id = efs.create_file_system(CreationToken=unique_name("fs"))["FileSystemId"]
    ap = efs.create_access_point(
        FileSystemId=fs_id,
        PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory={"Path": "/u", "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001,
                                                       "Permissions": "755"}},
    )  # fmt: skip
    name = create_function(lam, code=UMASK_PROBE, Timeout=30, FileSystemConfigs=[
        {"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/fs"}])  # fmt: skip
    r = lam.invoke(FunctionName=name)
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    assert body == {"umask": 0o022, "tmp": 0o644}
    tree = populated.data_dir / "filesystems" / fs_id / "u"
    assert (tree / "made-by-function").stat().st_mode & 0o777 == 0o644
    assert (tree / "dir-by-function").stat().st_mode & 0o777 == 0o755
    assert (tree / "made-by-function").stat().st_uid == 1001


@pytest.mark.nfs
def test_nfs_clients_files_get_the_mode_they_ask_for(populated: ShoalServer, place: Path) -> None:
    """Ganesha runs with the server's 077 (its own log and pid file are private) but applies
    the mode a client asks for: libnfs's nfs-cp creates 0660."""
    efs = populated.client("efs")
    (fs,) = [f for f in efs.describe_file_systems()["FileSystems"] if f["NumberOfMountTargets"]]
    (mt,) = efs.describe_mount_targets(FileSystemId=fs["FileSystemId"])["MountTargets"]
    with shoal_urlopen(f"{populated.endpoint}/shoal/fs/mount-targets/{mt['MountTargetId']}") as r:
        port = json.load(r)["Port"]
    source = place / "src"
    source.write_text("over nfs")
    url = f"nfs://{mt['IpAddress']}/{fs['FileSystemId']}/by-nfs?version=4&nfsport={port}"
    out = subprocess.run(["nfs-cp", str(source), url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    made = populated.data_dir / "filesystems" / fs["FileSystemId"] / "by-nfs"
    assert made.read_text() == "over nfs"
    assert made.stat().st_mode & 0o777 == 0o660
    run = populated.data_dir / "run" / "nfs" / mt["MountTargetId"]
    assert (run / "ganesha.log").stat().st_mode & 0o777 == 0o600
    assert (run / "ganesha.pid").stat().st_mode & 0o777 == 0o600


def test_refusal_message_is_clear_from_the_cli(place: Path, attacker: LocalUser) -> None:
    """What an operator sees: one line naming the directory, the owner and what to do."""
    data = place / "data"
    data.mkdir()
    os.chown(data, attacker.uid, attacker.gid)
    out = serve_refused(data)
    (line,) = [ln for ln in out.stderr.splitlines() if ln.startswith("shoal:")]
    assert line.startswith(f"shoal: refusing to start: {data} belongs to uid {attacker.uid}")
    assert "remove it or chown it" in line
