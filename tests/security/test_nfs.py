"""Attacks on mount targets by an unprivileged local user, who can reach them on loopback.

AUTH_SYS lets an NFS client claim any uid, so a mount target serves only privileged source
ports (< 1024, which only root binds): on this host, only root can speak to it. Each attack runs
as ``attacker`` with libnfs's tools or with :mod:`nfs_wire` (raw COMPOUNDs at a file handle
learnt elsewhere); each first shows that root, from a privileged port, succeeds with the same
request, so the refusal is the port rule's doing. Where a policy withholds ClientRootAccess,
root itself is squashed: the policy, not the port, decides that.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nfs_wire
import pytest

from conftest import (
    LocalUser,
    ShoalServer,
    default_subnet,
    run_as,
    run_as_suid,
    shoal_urlopen,
    unique_name,
    wait_for,
)

pytestmark = pytest.mark.nfs

WIRE = str(Path(__file__).with_name("nfs_wire.py"))
PYTHON = "/usr/bin/python3"  # the system's: the attacker cannot be assumed to reach the venv's
MOUNT_ONLY = ["elasticfilesystem:ClientMount"]
NO_ROOT = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]


def nfs_url(port: int, path: str, **ids: int) -> str:
    extra = "".join(f"&{k}={v}" for k, v in ids.items())
    return f"nfs://127.0.0.1{path}?version=4&nfsport={port}{extra}"


def nfs(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def policy(actions: list[str]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": actions},
    ]})  # fmt: skip


class Target:
    """A file system of the attacked server, with its access points and one mount target."""

    def __init__(self, srv: ShoalServer, efs: Any) -> None:
        self.srv, self.efs = srv, efs
        self.fs_id: str = efs.create_file_system(CreationToken=unique_name("nfsx"))["FileSystemId"]
        self.root = srv.data_dir / "filesystems" / self.fs_id
        self.mt_id = ""
        self.port = 0

    def access_point(self, path: str, uid: int | None = None, mode: str = "777") -> str:
        kwargs: dict[str, Any] = {}
        if uid is not None:
            kwargs["PosixUser"] = {"Uid": uid, "Gid": uid}
        ap = self.efs.create_access_point(
            FileSystemId=self.fs_id, **kwargs, RootDirectory={
                "Path": path,
                "CreationInfo": {"OwnerUid": 0, "OwnerGid": 0, "Permissions": mode},
            },
        )  # fmt: skip
        return str(ap["AccessPointId"])

    def serve(self) -> Target:
        """Create the mount target (after the access points and policy: no re-sync to wait)."""
        self.mt_id = self.efs.create_mount_target(
            FileSystemId=self.fs_id, SubnetId=default_subnet(self.srv)
        )["MountTargetId"]

        def available() -> bool:
            (mt,) = self.efs.describe_mount_targets(MountTargetId=self.mt_id)["MountTargets"]
            assert mt["LifeCycleState"] in ("creating", "available"), "".join(self.srv.output)
            return bool(mt["LifeCycleState"] == "available")

        wait_for(available, timeout=60)
        url = f"{self.srv.endpoint}/shoal/fs/mount-targets/{self.mt_id}"
        with shoal_urlopen(url) as r:
            self.port = int(json.load(r)["Port"])
        return self

    def handle(self, *path: str) -> bytes:
        """A file handle, as root from a privileged port (what an attacker might learn)."""
        reply = nfs_wire.handle_of("127.0.0.1", self.port, list(path), privileged=True)
        assert reply.name == "NFS4_OK", reply
        return reply.fh


@pytest.fixture
def target(attacked_server: ShoalServer) -> Iterator[Callable[[], Target]]:
    efs = attacked_server.client("efs")
    made: list[Target] = []

    def make() -> Target:
        made.append(Target(attacked_server, efs))
        return made[-1]

    yield make
    for t in made:
        if t.mt_id:
            efs.delete_mount_target(MountTargetId=t.mt_id)


def wire_as(user: LocalUser, t: Target, fh: bytes, *args: str, privileged: bool = False
            ) -> dict[str, Any]:  # fmt: skip
    """nfs_wire as ``user``: PUTFH(fh) [+ chown, chmod (args: MODE [OWNER])] + GETATTR,
    claiming uid 0."""
    out = run_as(user, [PYTHON, WIRE, "127.0.0.1", str(t.port), fh.hex(), "0",
                        "priv" if privileged else "any", *args])  # fmt: skip
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def test_uid_0_from_an_unprivileged_port_is_refused(
    target: Callable[[], Target], attacker: LocalUser
) -> None:
    t = target().serve()  # the whole file system, no policy: root access as on EFS
    # Root on the host, from a privileged port (libnfs binds one as root), is root.
    done = nfs("nfs-cp", "/etc/hostname", nfs_url(t.port, f"/{t.fs_id}/root.txt", uid=0, gid=0))
    assert done.returncode == 0, done.stderr
    assert (t.root / "root.txt").stat().st_uid == 0
    # The same URL from an unprivileged user (an unprivileged port) gets nothing at all.
    for argv in (
        ["nfs-cp", "/etc/hostname", nfs_url(t.port, f"/{t.fs_id}/evil.txt", uid=0, gid=0)],
        ["nfs-cat", nfs_url(t.port, f"/{t.fs_id}/root.txt", uid=0, gid=0)],
        ["nfs-ls", nfs_url(t.port, "/", uid=0, gid=0)],
        ["nfs-ls", nfs_url(t.port, f"/{t.fs_id}", uid=attacker.uid, gid=attacker.gid)],
    ):
        out = run_as(attacker, argv)
        assert out.returncode != 0, out.stdout
        assert "NFS4ERR_ACCESS" in out.stderr, out.stderr
    assert not (t.root / "evil.txt").exists()


def test_unprivileged_ports_are_refused_at_the_rpc_level(
    target: Callable[[], Target], attacker: LocalUser
) -> None:
    """Not only lookups: every operation that enters an export, even with a known handle."""
    t = target().serve()
    (t.root / "f.txt").write_text("x")
    fh = t.handle(t.fs_id, "f.txt")
    ok = nfs_wire.call("127.0.0.1", t.port, nfs_wire.putfh(fh) + nfs_wire.getattr_mode_owner(),
                       2, privileged=True)  # fmt: skip
    assert (ok.name, ok.owner) == ("NFS4_OK", "0")
    # Root itself, from an ephemeral port: refused, so the port is what is checked.
    for ops, count in ((nfs_wire.putfh(fh) + nfs_wire.getattr_mode_owner(), 2),
                       (nfs_wire.putrootfh() + nfs_wire.getfh(), 2)):  # fmt: skip
        refused = nfs_wire.call("127.0.0.1", t.port, ops, count)
        assert refused.rpc == "accepted" and refused.name == "NFS4ERR_ACCESS", refused
    # The attacker with the handle: refused; it cannot take a privileged port to retry.
    assert wire_as(attacker, t, fh)["status"] == "NFS4ERR_ACCESS"
    assert "Permission denied" in wire_as(attacker, t, fh, privileged=True)["rpc"]


def test_chown_to_root_and_setuid_over_nfs_fail_for_an_unprivileged_user(
    target: Callable[[], Target], attacker: LocalUser
) -> None:
    t = target().serve()
    for name in ("mine", "control"):
        (t.root / name).write_bytes(b"\x7fELF")
        os.chown(t.root / name, attacker.uid, attacker.gid)
    # Root from a privileged port can (no policy grants ClientRootAccess, as EFS does).
    ops = (nfs_wire.putfh(t.handle(t.fs_id, "control")) + nfs_wire.setattr(owner="0")
           + nfs_wire.setattr(0o4755) + nfs_wire.getattr_mode_owner())  # fmt: skip
    control = nfs_wire.call("127.0.0.1", t.port, ops, 4, privileged=True)
    assert control.name == "NFS4_OK", control
    st = (t.root / "control").stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o4755)
    # The attacker, claiming uid 0 with the file's handle: neither chown nor chmod.
    fh = t.handle(t.fs_id, "mine")
    for args in (("4755", "0"), ("4755",), ("755", "0")):
        assert wire_as(attacker, t, fh, *args)["status"] == "NFS4ERR_ACCESS"
    st = (t.root / "mine").stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (attacker.uid, 0o644)


def test_root_posix_user_is_squashed_without_client_root_access(
    target: Callable[[], Target], attacker: LocalUser
) -> None:
    granted = target()
    granted_ap = granted.access_point("/rooted", uid=0)
    granted.serve()
    withheld = target()
    withheld_ap = withheld.access_point("/rooted", uid=0)
    withheld.efs.put_file_system_policy(FileSystemId=withheld.fs_id, Policy=policy(NO_ROOT))
    withheld.serve()
    # No policy: the access point's root PosixUser is root, whoever the client claims to be.
    done = nfs("nfs-cp", "/etc/hostname", nfs_url(granted.port, f"/{granted_ap}/f", uid=4242))
    assert done.returncode == 0, done.stderr
    assert (granted.root / "rooted" / "f").stat().st_uid == 0
    # ClientRootAccess withheld: even root from a privileged port writes as 65534.
    done = nfs("nfs-cp", "/etc/hostname", nfs_url(withheld.port, f"/{withheld_ap}/f", uid=0))
    assert done.returncode == 0, done.stderr
    st = (withheld.root / "rooted" / "f").stat()
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    # ... and cannot give its file to root: ganesha squashes the owner it is asked to set too.
    fh = withheld.handle(withheld_ap, "f")
    chown = nfs_wire.call("127.0.0.1", withheld.port, nfs_wire.putfh(fh)
                          + nfs_wire.setattr(owner="0") + nfs_wire.getattr_mode_owner(), 3,
                          privileged=True)  # fmt: skip
    assert (chown.name, chown.owner) in (("NFS4_OK", "65534"), ("NFS4ERR_PERM", "")), chown
    assert (withheld.root / "rooted" / "f").stat().st_uid == 65534
    # The attacker reaches neither.
    out = run_as(attacker, ["nfs-cp", "/etc/hostname",
                            nfs_url(withheld.port, f"/{withheld_ap}/g", uid=0)])  # fmt: skip
    assert out.returncode != 0 and "NFS4ERR_ACCESS" in out.stderr, out.stderr
    assert not (withheld.root / "rooted" / "g").exists()


def test_read_only_policy_refuses_nfs_writes(target: Callable[[], Target]) -> None:
    t = target()
    ap = t.access_point("/ro", uid=1001)
    t.efs.put_file_system_policy(FileSystemId=t.fs_id, Policy=policy(MOUNT_ONLY))
    t.serve()
    (t.root / "ro" / "r.txt").write_text("readable")
    for pseudo in (f"/{ap}", f"/{t.fs_id}/ro"):
        read = nfs("nfs-cat", nfs_url(t.port, f"{pseudo}/r.txt"))
        assert (read.returncode, read.stdout) == (0, "readable"), read.stderr
        wrote = nfs("nfs-cp", "/etc/hostname", nfs_url(t.port, f"{pseudo}/w.txt"))
        assert wrote.returncode != 0
    assert not (t.root / "ro" / "w.txt").exists()


def test_mount_target_listens_on_its_address_and_port_only(target: Callable[[], Target]) -> None:
    t = target()
    t.access_point("/a")
    t.serve()
    pids = {
        p.name for p in Path("/proc").glob("[0-9]*")
        if t.mt_id.encode() in _cmdline(p) and b"ganesha.nfsd" in _cmdline(p)
    }  # fmt: skip
    assert len(pids) == 1
    (pid,) = pids
    ss = subprocess.run(["ss", "-Hlntup"], capture_output=True, text=True, check=True).stdout
    mine = [line.split() for line in ss.splitlines() if f"pid={pid}," in line]
    # One TCP listener, on the target's address (ganesha's IPv6 socket, v4-mapped): no NLM,
    # rquota, mountd or UDP listener, nothing on 0.0.0.0 or [::].
    assert [(row[0], row[4]) for row in mine] == [("tcp", f"[::ffff:127.0.0.1]:{t.port}")], mine


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_the_issue_chain_fails_at_the_nfs_step(
    target: Callable[[], Target], attacker: LocalUser
) -> None:
    """Issue 10's chain: an access point whose root uid 0 creates 0777, a mount target, a
    binary copied in, then chown root + chmod 4755 over NFS claiming uid 0, then run it."""
    t = target()
    ap = t.access_point("/pub", mode="777")
    t.serve()
    binary = t.root / "pub" / "id"
    copied = run_as(attacker, ["cp", "/usr/bin/id", str(binary)])
    if copied.returncode != 0:
        # The data directory is private (issue 10, item 1): the copy fails first. Place the
        # binary as the attacker's anyway, so the NFS step below is tried on its own.
        binary.write_bytes(Path("/usr/bin/id").read_bytes())
        os.chown(binary, attacker.uid, attacker.gid)
        binary.chmod(0o755)
    # The NFS step, by path as a client would, and by the file's handle: refused.
    out = run_as(attacker, ["nfs-ls", nfs_url(t.port, f"/{ap}", uid=0, gid=0)])
    assert out.returncode != 0 and "NFS4ERR_ACCESS" in out.stderr, out.stderr
    assert wire_as(attacker, t, t.handle(ap, "id"), "4755", "0")["status"] == "NFS4ERR_ACCESS"
    st = binary.stat()
    assert st.st_uid == attacker.uid and not st.st_mode & (stat.S_ISUID | stat.S_ISGID)
    # So running it gives the attacker nothing (if it can reach it at all).
    ran = run_as_suid(attacker, [str(binary), "-u"])
    assert ran.stdout.strip() in ("", str(attacker.uid)), ran.stdout
    assert (ran.returncode == 0) == (copied.returncode == 0), ran.stderr
