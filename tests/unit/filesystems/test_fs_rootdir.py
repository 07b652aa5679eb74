"""Access-point roots: created at first mount as EFS does, never through a symlink."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shoal.filesystems import rootdir
from shoal.filesystems.models import AccessPoint, CreationInfo


def ap(path: str, info: CreationInfo | None = None) -> AccessPoint:
    return AccessPoint("fsap-1", "arn", "fs-1", "123456789012", "tok", path, None, info)


@pytest.fixture
def fs_root(tmp_path: Path) -> Path:
    root = tmp_path / "fs-1"
    rootdir.create_file_system_root(root)
    return root


def test_file_system_root_is_0755(fs_root: Path) -> None:
    assert stat.S_IMODE(fs_root.stat().st_mode) == 0o755


def test_creates_root_and_parents_with_owner_and_mode(fs_root: Path) -> None:
    path = rootdir.ensure_root(fs_root, ap("/a/b/c", CreationInfo(1001, 1002, "750")))
    assert path == str(fs_root / "a" / "b" / "c")
    for p in (fs_root / "a", fs_root / "a/b", fs_root / "a/b/c"):
        st = p.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1001, 1002, 0o750)


def test_four_digit_permissions_keep_special_bits(fs_root: Path) -> None:
    rootdir.ensure_root(fs_root, ap("/shared", CreationInfo(1001, 1001, "1777")))
    assert stat.S_IMODE((fs_root / "shared").stat().st_mode) == 0o1777


def test_existing_directories_are_never_changed(fs_root: Path) -> None:
    (fs_root / "a").mkdir(mode=0o700)
    os.chown(fs_root / "a", 5, 6)
    os.chmod(fs_root / "a", 0o700)
    rootdir.ensure_root(fs_root, ap("/a/b", CreationInfo(1001, 1001, "755")))
    st = (fs_root / "a").stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (5, 6, 0o700)
    assert (fs_root / "a/b").stat().st_uid == 1001


def test_missing_root_without_creation_info_fails(fs_root: Path) -> None:
    with pytest.raises(rootdir.RootDirectoryError, match="does not exist"):
        rootdir.ensure_root(fs_root, ap("/missing"))
    assert not (fs_root / "missing").exists()


def test_existing_root_without_creation_info_is_used(fs_root: Path) -> None:
    (fs_root / "there").mkdir()
    assert rootdir.ensure_root(fs_root, ap("/there")) == str(fs_root / "there")


def test_slash_is_the_file_system_root(fs_root: Path) -> None:
    assert rootdir.ensure_root(fs_root, ap("/")) == str(fs_root)


def test_planted_symlink_is_not_followed(fs_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (fs_root / "a").mkdir()
    (fs_root / "a" / "b").symlink_to(outside)
    with pytest.raises(rootdir.RootDirectoryError, match="not a directory"):
        rootdir.ensure_root(fs_root, ap("/a/b", CreationInfo(1001, 1001, "755")))
    with pytest.raises(rootdir.RootDirectoryError):
        rootdir.ensure_root(fs_root, ap("/a/b/c", CreationInfo(1001, 1001, "755")))
    assert list(outside.iterdir()) == []
    assert rootdir.host_path_if_exists(fs_root, ap("/a/b")) is None


def test_relative_symlink_to_parent_is_not_followed(fs_root: Path) -> None:
    (fs_root / "up").symlink_to("..")
    with pytest.raises(rootdir.RootDirectoryError):
        rootdir.ensure_root(fs_root, ap("/up/x", CreationInfo(1001, 1001, "755")))
    assert not (fs_root.parent / "x").exists()


def test_a_file_in_the_way_fails(fs_root: Path) -> None:
    (fs_root / "f").write_text("x")
    with pytest.raises(rootdir.RootDirectoryError):
        rootdir.ensure_root(fs_root, ap("/f", CreationInfo(1001, 1001, "755")))
