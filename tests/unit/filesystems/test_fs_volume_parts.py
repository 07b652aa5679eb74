"""The small parts of file-system volumes: the reserve's sizes, and the key seal that KMS will
replace (shoal.filesystems.headroom, shoal.filesystems.keywrap)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from shoal.filesystems import keywrap
from shoal.filesystems.headroom import parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1048576", 1 << 20), ("512M", 512 << 20), ("1GiB", 1 << 30), ("1.5g", 3 << 29),
     ("5%", 50), ("64k", 64 << 10), (" 2 T ", 2 << 40)],
)  # fmt: skip
def test_sizes(text: str, expected: int) -> None:
    assert parse_size(text, 1000) == expected


@pytest.mark.parametrize("text", ["", "-1G", "1X", "five", "1%%"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text, 1000)


def test_a_sealed_key_opens_only_for_its_file_system(tmp_path: Path) -> None:
    key = os.urandom(64)
    keywrap.store_new_key(tmp_path, "fs-1", key)
    sealed = (tmp_path / "fs-1.key").read_bytes()
    assert key not in sealed and oct((tmp_path / "fs-1.key").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "master.key").stat().st_mode & 0o777) == "0o600"
    assert keywrap.load_key(tmp_path, "fs-1") == key
    with pytest.raises(InvalidTag):
        keywrap.unwrap(tmp_path, "fs-2", sealed)  # moved to another file system: refused
    (tmp_path / "master.key").write_bytes(os.urandom(32))
    with pytest.raises(InvalidTag):
        keywrap.load_key(tmp_path, "fs-1")  # another server's master key opens nothing
