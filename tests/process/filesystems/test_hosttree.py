"""The nosuid,nodev mount of the file systems' directory across a server's life: made at start,
released at stop, taken over (not stacked) after a SIGKILL, and an operator's own mount there
respected."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from conftest import start_server
from shoal.filesystems import hostmount
from shoal.filesystems.hosttree import is_self_bind


def stacked(path: Path) -> list[hostmount.MountEntry]:
    return [m for m in hostmount.mounts() if m.point == str(path)]


def test_mounted_at_start_released_at_stop(tmp_path: Path) -> None:
    fs_dir = tmp_path / "data" / "filesystems"
    srv = start_server(tmp_path / "data")
    try:
        (mount,) = stacked(fs_dir)
        assert {"nosuid", "nodev"} <= mount.options
        assert is_self_bind(mount, hostmount.mounts())
    finally:
        assert srv.stop() == 0
    assert stacked(fs_dir) == []


def test_a_killed_servers_mount_is_taken_over_not_stacked(tmp_path: Path) -> None:
    fs_dir = tmp_path / "data" / "filesystems"
    srv = start_server(tmp_path / "data")
    srv.stop(signal.SIGKILL)
    (left,) = stacked(fs_dir)  # nothing unmounted it
    again = start_server(tmp_path / "data")
    try:
        assert stacked(fs_dir) == [left]
    finally:
        assert again.stop() == 0
    assert stacked(fs_dir) == [], "the server that took it over released it"


def _tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)


def test_an_operators_nosuid_mount_is_used_and_left_alone(tmp_path: Path) -> None:
    fs_dir = tmp_path / "data" / "filesystems"
    _tmpfs(fs_dir, "nosuid,nodev,mode=0700")
    try:
        srv = start_server(tmp_path / "data")
        (theirs,) = stacked(fs_dir)
        assert not is_self_bind(theirs, hostmount.mounts())
        assert srv.stop() == 0
        assert stacked(fs_dir) == [theirs]
    finally:
        subprocess.run(["umount", str(fs_dir)], check=True)


def test_an_operators_mount_without_nosuid_gets_one_on_top(tmp_path: Path) -> None:
    fs_dir = tmp_path / "data" / "filesystems"
    _tmpfs(fs_dir, "mode=0700")
    try:
        (theirs,) = stacked(fs_dir)
        srv = start_server(tmp_path / "data")
        try:
            below, top = stacked(fs_dir)
            assert below == theirs and "nosuid" not in theirs.options
            assert {"nosuid", "nodev"} <= top.options and is_self_bind(top, hostmount.mounts())
            assert hostmount.top_mount(str(fs_dir)) == top
        finally:
            assert srv.stop() == 0
        assert stacked(fs_dir) == [theirs]
    finally:
        subprocess.run(["umount", str(fs_dir)], check=True)


def test_a_server_that_fails_to_start_leaves_no_mount(tmp_path: Path) -> None:
    """uvicorn runs no shutdown after a failed startup: Shoal stops what it had started."""
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    assert shutil.which("nft", path=path) is None  # the sandbox's egress fails to start
    run = subprocess.run(
        [sys.executable, "-m", "shoal", "serve", "--port", "0", "--data-dir", str(tmp_path)],
        env={**os.environ, "PATH": path}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode != 0 and "nft is not installed" in run.stderr, run.stderr
    assert "remounted nosuid,nodev" in run.stderr  # it was made, then released
    assert stacked(tmp_path / "filesystems") == []
