"""The small parts of file-system volumes: the reserve's sizes (shoal.filesystems.headroom).
The volumes' keys are KMS data keys: tests/unit/kms/test_fs_keys.py."""

from __future__ import annotations

import pytest

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
