"""Reading log events: a stream's page (GetLogEvents) and a group's filtered scan
(FilterLogEvents), with the tokens that continue them.

A token is a position ``(ts, id)`` (:mod:`shoal.observability.logstore`) and a direction:
``f/TS/ID`` reads the events after that position, ``b/TS/ID`` the events before it, and a
FilterLogEvents ``nextToken`` (``n/TS/ID``) resumes the scan after it. GetLogEvents keeps AWS's
rule that ``aws logs tail`` and the SDKs' paginators stop on: a page with no events returns as
``nextForwardToken`` the very token it was given.

A read merges the chunks overlapping its range (:func:`shoal.observability.chunks.merge`:
events may arrive out of order, so chunks overlap in time). A filter matches each chunk's
messages in Python (the pattern language is :mod:`shoal.observability.filter_patterns`'); it
stops at ``limit`` matches (or :data:`MAX_PAGE_BYTES` of them), or after :data:`SCAN_BUDGET`
events read, answering a ``nextToken`` either way when more events remain, as AWS does when a
search runs long.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from shoal.errors import AwsError
from shoal.observability import chunks, filter_patterns
from shoal.observability.chunks import Event
from shoal.observability.groups import Group
from shoal.observability.logstore import LogDatabase

__all__ = ["Event", "Found", "Page", "filter_group", "stream_page"]

# A page holds at most this much message text (AWS: "up to 1 MB" a response), so 10,000 large
# events never make one huge answer.
MAX_PAGE_BYTES = 1_048_576
SCAN_BUDGET = 200_000
_TOKEN = re.compile(r"^([fbn])/(-?\d{1,19})/(-?\d{1,19})$")
FAR_FUTURE = 2**62


def bad_token() -> AwsError:
    return AwsError("InvalidParameterException", "The specified nextToken is invalid.")


def parse_token(token: str, kinds: str) -> tuple[str, int, int]:
    m = _TOKEN.match(token)
    if m is None or m.group(1) not in kinds:
        raise bad_token()
    return m.group(1), int(m.group(2)), int(m.group(3))


def token(kind: str, ts: int, event_id: int) -> str:
    return f"{kind}/{ts}/{event_id}"


@dataclass(frozen=True)
class Page:
    events: list[Event]
    forward: str
    backward: str


def stream_page(db: LogDatabase, stream_id: int, start: int | None, end: int | None,
                next_token: str | None, limit: int, from_head: bool) -> Page:  # fmt: skip
    """GetLogEvents: ``limit`` events of a stream in ``[start, end)``, continuing a token."""
    lo, hi = start if start is not None else -FAR_FUTURE, end if end is not None else FAR_FUTURE
    kind = "f" if from_head else "b"
    pos: tuple[int, int] | None = None
    if next_token:
        kind, ts, eid = parse_token(next_token, "fb")
        pos = (ts, eid)
    if kind == "f":
        sql = ("SELECT id, stream_id, skip, first_ts, data FROM chunks WHERE stream_id = ? "
               "AND first_ts < ? AND last_ts >= ? ORDER BY first_ts")  # fmt: skip
        args = [stream_id, hi, max(lo, pos[0]) if pos else lo]
        pick = chunks.forward_pick(lo, hi, pos, chunks.Scan())
    else:
        sql = ("SELECT id, stream_id, skip, last_ts, data FROM chunks WHERE stream_id = ? "
               "AND last_ts >= ? AND first_ts <= ? ORDER BY last_ts DESC")  # fmt: skip
        args = [stream_id, lo, min(hi, pos[0]) if pos else hi]
        pick = chunks.backward_pick(lo, hi, pos)
    cur = db.reader().execute(sql, args)
    merged = chunks.merge(cur, pick, backward=kind == "b")
    try:
        got = [c.event(i) for c, i in itertools.islice(merged, limit)]
    finally:
        merged.close()
        cur.close()
    events = _within(MAX_PAGE_BYTES, got)  # nearest to the token first
    if kind == "b":
        events.reverse()
    if events:
        first, last = events[0], events[-1]
        return Page(events, token("f", last.ts, last.id), token("b", first.ts, first.id))
    if pos is None:  # nothing in range: tokens from its two ends
        return Page([], token("f", lo, 0), token("b", hi, 0))
    if kind == "f":  # nothing new: the same forward token (the end, for tail and paginators)
        return Page([], next_token or "", token("b", pos[0], pos[1] + 1))
    return Page([], token("f", pos[0], pos[1] - 1), next_token or "")


@dataclass(frozen=True)
class Found:
    events: list[Event]
    next_token: str | None


def filter_group(db: LogDatabase, group: Group, stream_ids: list[int] | None,
                 start: int | None, end: int | None, pattern: str | None,
                 next_token: str | None, limit: int) -> Found:  # fmt: skip
    """FilterLogEvents: matching events of the group (or of ``stream_ids``) in
    ``[start, end]``, in time order."""
    try:
        matcher = filter_patterns.compile(pattern or "")
    except ValueError:
        raise AwsError("InvalidParameterException", "Invalid filter pattern") from None
    lo, hi = start if start is not None else -FAR_FUTURE, end if end is not None else FAR_FUTURE
    pos = (lo, -1)
    if next_token:
        _, ts, eid = parse_token(next_token, "n")
        pos = (ts, eid)
    if stream_ids is not None and not stream_ids:
        return Found([], None)
    sql = ("SELECT id, stream_id, skip, first_ts, data FROM chunks WHERE group_id = ? "
           "AND first_ts <= ? AND last_ts >= ?")  # fmt: skip
    if stream_ids is not None:
        sql += f" AND stream_id IN ({','.join(map(str, stream_ids))})"
    scan = chunks.Scan()
    pick = chunks.forward_pick(lo, hi, pos, scan, inclusive=True,
                               match=matcher.match if pattern else None)  # fmt: skip
    cur = db.reader().execute(sql + " ORDER BY first_ts", [group.id, hi, pos[0]])
    merged = chunks.merge(cur, pick, budget=SCAN_BUDGET, floor=pos[0], scan=scan)
    found: list[Event] = []
    size = 0
    try:
        for c, i in merged:
            e = c.event(i)
            size += len(e.message)
            if found and size > MAX_PAGE_BYTES:  # a full page: the rest after its last
                return Found(found, token("n", found[-1].ts, found[-1].id))
            found.append(e)
            if len(found) >= limit:
                more = scan.pending or scan.greatest > (e.ts, e.id)
                return Found(found, token("n", e.ts, e.id) if more else None)
    finally:
        merged.close()
        cur.close()
    return Found(found, token("n", *scan.resume) if scan.resume else None)


def _within(budget: int, events: list[Event]) -> list[Event]:
    """The first events whose messages fit in ``budget`` characters (always one: a page is
    never empty for want of room)."""
    total = 0
    for i, e in enumerate(events):
        total += len(e.message)
        if total > budget and i > 0:
            return events[:i]
    return events
