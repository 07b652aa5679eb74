"""The POSIX conformance suite on the host, through ``shoal fs mount`` as a user types it:
the whole file system (a bind mount) and one access point (an idmapped mount acting as its
POSIX user). Plus what the host mount must share with everything else: locks and data."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import posix_checks
import pytest

from conftest import ShoalServer, unique_name
from seed_setup import POSIX_KINDS, posix_access_point

SHOAL = [sys.executable, "-m", "shoal"]


def unmount(path: Path) -> None:
    subprocess.run([*SHOAL, "fs", "unmount", str(path)], capture_output=True, timeout=60)


@pytest.fixture(scope="module", params=POSIX_KINDS)
def mounted(
    request: pytest.FixtureRequest, server: ShoalServer, efs_client: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    ap = posix_access_point(server, efs_client, request.param)
    fs_id = ap["FileSystemId"]
    base = tmp_path_factory.mktemp("mounts")
    whole, via_ap = base / "whole", base / "ap"
    for argv in (
        ["fs", "mount", fs_id, str(whole)],
        ["fs", "mount", fs_id, str(via_ap), "--access-point", ap["AccessPointId"]],
    ):
        result = subprocess.run(
            [*SHOAL, *argv, "--endpoint-url", server.endpoint],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
    try:
        yield {
            "fs_id": fs_id,
            "ap": ap,
            "whole": whole,
            "ap_path": via_ap,
            "disk": server.data_dir / "filesystems" / fs_id,
        }
    finally:
        unmount(via_ap)
        unmount(whole)


@pytest.mark.parametrize("check", sorted(posix_checks.CHECKS))
def test_whole_file_system_mount(mounted: dict[str, Any], check: str) -> None:
    posix_checks.run(check, str(mounted["whole"]))


@pytest.mark.parametrize("check", sorted(posix_checks.CHECKS))
def test_access_point_mount(mounted: dict[str, Any], check: str) -> None:
    posix_checks.run(check, str(mounted["ap_path"]))


def test_access_point_mount_creates_as_posix_user(mounted: dict[str, Any]) -> None:
    name = unique_name("owned")
    (mounted["ap_path"] / name).write_text("x")
    on_disk = (mounted["disk"] / "message" / name).stat()
    assert (on_disk.st_uid, on_disk.st_gid) == (1001, 1001)
    seen_whole = (mounted["whole"] / "message" / name).read_text()
    assert seen_whole == "x"
    with pytest.raises(OSError):  # another identity is not representable through the mount
        os.chown(mounted["ap_path"] / name, 4242, 4242)


def test_access_point_mount_cannot_read_what_its_user_cannot(mounted: dict[str, Any]) -> None:
    secret = mounted["disk"] / "message" / unique_name("secret")
    secret.write_text("no")
    os.chown(secret, 2002, 2002)
    os.chmod(secret, 0o600)
    with pytest.raises(PermissionError):
        (mounted["ap_path"] / secret.name).read_text()


def test_locks_and_data_are_shared_with_the_directory_functions_use(
    mounted: dict[str, Any],
) -> None:
    # Functions bind-mount the same directory: a lock through the host mount excludes a lock
    # taken on the file system's own tree (and the other way round), for flock and fcntl.
    name = unique_name("shared")
    through_mount = mounted["ap_path"] / name
    through_mount.write_text("v1")
    direct = mounted["disk"] / "message" / name
    assert direct.read_text() == "v1"
    with open(through_mount, "r+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                (
                    "import fcntl,sys\nf=open(sys.argv[1],'r+')\n"
                    "try:\n fcntl.flock(f,fcntl.LOCK_EX|fcntl.LOCK_NB);print('got')\n"
                    "except BlockingIOError: print('blocked')\n"
                    "try:\n fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB);print('got')\n"
                    "except (BlockingIOError, PermissionError): print('blocked')"
                ),
                str(direct),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        fcntl.lockf(held, fcntl.LOCK_EX)
        probe2 = subprocess.run(
            [
                sys.executable,
                "-c",
                (
                    "import fcntl,sys\nf=open(sys.argv[1],'r+')\n"
                    "try:\n fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB);print('got')\n"
                    "except (BlockingIOError, PermissionError): print('blocked')"
                ),
                str(direct),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert probe.stdout.split() == ["blocked", "got"], probe.stderr
    assert probe2.stdout.split() == ["blocked"], probe2.stderr


def test_unmount_removes_the_mount(server: ShoalServer, efs_client: Any, tmp_path: Path) -> None:
    fs_id = efs_client.create_file_system(CreationToken=unique_name("um"))["FileSystemId"]
    target = tmp_path / "m"
    ok = subprocess.run(
        [*SHOAL, "fs", "mount", fs_id, str(target), "--endpoint-url", server.endpoint],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    (target / "f").write_text("x")
    assert (server.data_dir / "filesystems" / fs_id / "f").read_text() == "x"
    again = subprocess.run(
        [*SHOAL, "fs", "mount", fs_id, str(target), "--endpoint-url", server.endpoint],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode != 0 and "already a mount point" in again.stderr
    assert subprocess.run([*SHOAL, "fs", "unmount", str(target)], timeout=60).returncode == 0
    assert not (target / "f").exists()
