"""Chunks: a flush's events of one stream, stored as one row of the log database, and the
ordered reads over them (:mod:`shoal.observability.logstore` writes them,
:mod:`shoal.observability.events` pages through them).

Why chunks and not a row per event: a warm invoke writes three events or more (START, END,
REPORT, then what the function prints), and a row per event made SQLite insert a row and two
index entries for each — most of the writer thread's CPU per invoke. A chunk is one row and
three index entries per batch per stream, whatever the batch holds.

Encoding: a chunk's ``data`` is a JSON text of four columns, ``[[ts…], [ingest…],
[platform…], [message…]]``. JSON because the stdlib encodes and decodes it in C (a filter
decodes every chunk it reads), it keeps every string exactly (a NUL is escaped, a lone
surrogate is refused as a row of text would be), it stays readable with SQLite's own JSON
functions, and it does not depend on the Python version (``marshal`` does). Columns, not
events, because a filter matches the message column alone and makes an event only for a hit.
Within a chunk events are sorted by time (a stable sort: equal times keep the order they came
in).

Positions: an event's id is ``chunk id << ID_BITS | index``, where the index counts from the
chunk's first event as written (``skip`` events trimmed by retention still count), so an id
never changes while its event lives, ids grow in the order events were stored, and ``(ts, id)``
orders a stream or a group exactly as one row per event did. Chunks overlap in time (events
may arrive in any order, and a group's streams write side by side), so a read merges them
(:func:`merge`), opening a chunk only when the merge reaches its first (or, backwards, last)
time.
"""

from __future__ import annotations

import heapq
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True)
class Event:
    """One stored event."""

    id: int
    ts: int
    ingest: int
    message: str
    stream_id: int
    platform: int = 0


ID_BITS = 20
CHUNK_EVENTS = 4096  # events in one chunk at most (well under 1 << ID_BITS)
CHUNK_BYTES = 1 << 20  # message bytes in one chunk, about (a chunk is read whole)
# Milliseconds between a chunk's first and last events, at most: a read of a time range
# decodes whole chunks, so a chunk spanning a day (a PutLogEvents batch may) would make an
# hour's filter decode the day. A flush of function output spans milliseconds.
CHUNK_SPAN = 300_000
MAX_ID = 2**62

# What a read selects: id, stream id, skip, its bound (first_ts forwards, last_ts backwards),
# data. The bound orders the rows.
BOUND: Final = 3
Row = tuple[int, int, int, int, str]


def encode(ts: list[int], ingest: list[int], platform: list[int], messages: list[str]) -> str:
    """A chunk's ``data``, its columns sorted by time first."""
    if any(a > b for a, b in zip(ts, ts[1:], strict=False)):
        order = sorted(range(len(ts)), key=ts.__getitem__)
        ts = [ts[i] for i in order]
        ingest = [ingest[i] for i in order]
        platform = [platform[i] for i in order]
        messages = [messages[i] for i in order]
    return json.dumps([ts, ingest, platform, messages], ensure_ascii=False, separators=(",", ":"))


class Chunk:
    """One decoded chunk: its columns, and the id of its first stored event."""

    __slots__ = ("base", "ingest", "messages", "platform", "stream_id", "ts")

    def __init__(self, row: Row) -> None:
        cid, self.stream_id, skip, _, data = row
        self.ts, self.ingest, self.platform, self.messages = json.loads(data)
        self.base = (cid << ID_BITS) + skip

    def event(self, i: int) -> Event:
        return Event(self.base + i, self.ts[i], self.ingest[i], self.messages[i],
                     self.stream_id, self.platform[i])  # fmt: skip

    def after(self, ts: int, eid: int) -> int:
        """The index of the first event after position ``(ts, eid)``."""
        i, k = bisect_left(self.ts, ts), bisect_right(self.ts, ts)
        return min(k, max(i, eid - self.base + 1))

    def before(self, ts: int, eid: int) -> int:
        """The index just past the last event before position ``(ts, eid)``."""
        i, k = bisect_left(self.ts, ts), bisect_right(self.ts, ts)
        return max(i, min(k, eid - self.base))

    def since(self, ts: int) -> int:
        return bisect_left(self.ts, ts)

    def through(self, ts: int) -> int:
        return bisect_right(self.ts, ts)


@dataclass
class Scan:
    """What a merge has read so far: events scanned, whether chunks remain unopened, the
    greatest position of any event in range it opened, and where a scan cut short by its
    budget resumes (after that position)."""

    scanned: int = 0
    pending: bool = False
    greatest: tuple[int, int] = (-MAX_ID, -MAX_ID)
    resume: tuple[int, int] | None = None


# Picks a chunk's events of interest: their indices, in time order.
Pick = Callable[[Chunk], Sequence[int]]


def merge(rows: Iterator[Row], pick: Pick, backward: bool = False, budget: int | None = None,
          floor: int = 0, scan: Scan | None = None) -> Generator[tuple[Chunk, int]]:  # fmt: skip
    """The picked events of ``rows`` (ordered by their bound), as (chunk, index), in position
    order (descending when ``backward``).

    A chunk is opened once the merge reaches its bound: no unopened chunk can hold an event
    before the next one's bound. With a ``budget`` (forward only) the merge stops once that
    many events were scanned and the next chunk starts past ``floor + 1``, after yielding
    every event before that chunk's first time, and sets ``scan.resume``."""
    scan = scan if scan is not None else Scan()
    sign = -1 if backward else 1
    heap: list[tuple[int, int, Chunk, Sequence[int], int]] = []

    def push(c: Chunk, idx: Sequence[int], j: int) -> None:
        i = idx[j]
        heapq.heappush(heap, (sign * c.ts[i], sign * (c.base + i), c, idx, j))

    def pop() -> tuple[Chunk, int]:
        _, _, c, idx, j = heapq.heappop(heap)
        if j + 1 < len(idx):
            push(c, idx, j + 1)
        return c, idx[j]

    nxt = next(rows, None)
    while True:
        while nxt is not None and (not heap or sign * nxt[BOUND] <= heap[0][0]):
            c = Chunk(nxt)
            idx = pick(c)
            if idx:
                if backward:
                    idx = idx[::-1]
                push(c, idx, 0)
            nxt = next(rows, None)
            scan.pending = nxt is not None
            if budget is not None and scan.scanned >= budget and nxt is not None \
                    and nxt[BOUND] > floor + 1:  # fmt: skip
                edge = nxt[BOUND]
                while heap and heap[0][0] < edge:
                    yield pop()
                scan.resume = (edge - 1, MAX_ID)
                return
        if not heap:
            return
        if len(heap) == 1 and nxt is None:  # the last chunk: the rest of it, in order
            _, _, c, idx, j = heap.pop()
            for i in idx[j:]:
                yield c, i
            return
        yield pop()


def forward_pick(lo: int, hi: int, pos: tuple[int, int] | None, scan: Scan,
                 inclusive: bool = False, match: Callable[[str], Any] | None = None,
                 ) -> Pick:  # fmt: skip
    """Events in ``[lo, hi)`` (``[lo, hi]`` if ``inclusive``) after ``pos``, matching."""

    def pick(c: Chunk) -> Sequence[int]:
        s = c.since(lo)
        if pos is not None:
            s = max(s, c.after(*pos))
        e = c.through(hi) if inclusive else c.since(hi)
        if e <= s:
            return ()
        scan.scanned += e - s
        last = (c.ts[e - 1], c.base + e - 1)
        if last > scan.greatest:
            scan.greatest = last
        if match is None:
            return range(s, e)
        m = c.messages
        return [i for i in range(s, e) if match(m[i])]

    return pick


def backward_pick(lo: int, hi: int, pos: tuple[int, int] | None) -> Pick:
    """Events in ``[lo, hi)`` before ``pos``."""

    def pick(c: Chunk) -> Sequence[int]:
        s, e = c.since(lo), c.since(hi)
        if pos is not None:
            e = min(e, c.before(*pos))
        return range(s, e) if e > s else ()

    return pick
