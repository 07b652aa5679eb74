"""Metering: blocks on disk, hard links once, cached briefly, computed off the loop."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from shoal.filesystems.metering import Meter, breakdown, tree_bytes


def test_tree_bytes_counts_blocks_not_apparent_size(tmp_path: Path) -> None:
    base = tree_bytes(tmp_path)
    with open(tmp_path / "sparse", "wb") as f:
        f.truncate(1 << 30)  # 1 GiB apparent, no blocks
    assert tree_bytes(tmp_path) - base < 64 * 1024
    (tmp_path / "data").write_bytes(os.urandom(1 << 20))
    assert tree_bytes(tmp_path) - base >= 1 << 20


def test_hard_links_are_counted_once_and_symlinks_not_followed(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d/data").write_bytes(os.urandom(1 << 20))
    one = tree_bytes(tmp_path)
    os.link(tmp_path / "d/data", tmp_path / "d/link")
    (tmp_path / "loop").symlink_to(tmp_path)
    assert tree_bytes(tmp_path) - one < 8192


def test_breakdown_lists_largest_first(tmp_path: Path) -> None:
    (tmp_path / "big").mkdir()
    (tmp_path / "small").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "big/f").write_bytes(os.urandom(1 << 20))
    rows = breakdown(tmp_path, depth=1)
    assert [r[0] for r in rows][:2] == ["/", "/big"]
    assert "/.hidden" in [r[0] for r in rows]


def test_meter_caches_then_follows_changes(tmp_path: Path) -> None:
    async def run() -> None:
        meter = Meter(ttl_s=0.0)
        first = await meter.size("fs", tmp_path)
        (tmp_path / "f").write_bytes(os.urandom(1 << 20))
        second = await meter.size("fs", tmp_path)
        assert second.bytes >= first.bytes + (1 << 20)
        cached = Meter(ttl_s=3600)
        a = await cached.size("fs", tmp_path)
        (tmp_path / "g").write_bytes(os.urandom(1 << 20))
        assert (await cached.size("fs", tmp_path)) == a
        cached.forget("fs")
        assert (await cached.size("fs", tmp_path)).bytes > a.bytes
        # Concurrent requests share one walk and one answer.
        results = await asyncio.gather(*(Meter().size("x", tmp_path) for _ in range(3)))
        assert len({r.bytes for r in results}) == 1

    asyncio.run(run())
