"""Metered size of a file system: the blocks its tree uses on disk, as EFS meters it.

Walking a tree costs time proportional to its number of files, so it runs in a worker thread
(never on the event loop) and the result is kept for :data:`TTL_S` seconds: ``SizeInBytes``
follows the data as it changes, a few seconds late, as EFS's does. Concurrent requests for the
same file system share one walk.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

TTL_S = 2.0


@dataclass(frozen=True)
class Measure:
    bytes: int
    timestamp: float


def tree_bytes(root: str | Path) -> int:
    """Sum of ``st_blocks * 512`` over the tree (hard links counted once; links not followed)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [str(root)]
    while stack:
        top = stack.pop()
        try:
            entries = os.scandir(top)
        except OSError:
            continue  # removed while walking, or not a directory any more
        with entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += st.st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    try:
        total += os.lstat(root).st_blocks * 512
    except OSError:
        pass
    return total


def breakdown(root: str | Path, depth: int = 2) -> list[tuple[str, int]]:
    """``(relative path, bytes)`` for every directory down to ``depth``, largest first (du)."""
    root = Path(root)
    rows: list[tuple[str, int]] = []

    def visit(path: Path, level: int) -> None:
        rel = str(path.relative_to(root))
        rows.append(("/" if rel == "." else "/" + rel, tree_bytes(path)))
        if level >= depth:
            return
        try:
            children = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            return
        for entry in children:
            if entry.is_dir(follow_symlinks=False):
                visit(Path(entry.path), level + 1)

    visit(root, 0)
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows


class Meter:
    """Cached, coalesced sizes keyed by file system id. Used from the event loop only."""

    def __init__(self, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        self._cache: dict[str, Measure] = {}
        self._pending: dict[str, asyncio.Future[Measure]] = {}

    async def size(self, key: str, root: Path) -> Measure:
        cached = self._cache.get(key)
        if cached is not None and time.time() - cached.timestamp < self.ttl_s:
            return cached
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Measure] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            measure = Measure(await asyncio.to_thread(tree_bytes, root), time.time())
            self._cache[key] = measure
            future.set_result(measure)
            return measure
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved here, so a waiter-less failure is not logged twice
            raise
        finally:
            del self._pending[key]

    def last(self, key: str) -> Measure | None:
        """The latest size measured, however old (None before the first): what the
        throughput arithmetic sizes a file system by, without a walk of its own."""
        return self._cache.get(key)

    def forget(self, key: str) -> None:
        self._cache.pop(key, None)
