"""Reading log events: a stream's page (GetLogEvents) and a group's filtered scan
(FilterLogEvents), with the tokens that continue them.

A token is a position ``(ts, id)`` (:mod:`shoal.observability.logstore`) and a direction:
``f/TS/ID`` reads the events after that position, ``b/TS/ID`` the events before it, and a
FilterLogEvents ``nextToken`` (``n/TS/ID``) resumes the scan after it. GetLogEvents keeps AWS's
rule that ``aws logs tail`` and the SDKs' paginators stop on: a page with no events returns as
``nextForwardToken`` the very token it was given.

A filter reads the group's index in time order, a chunk at a time, and matches each message in
Python (the pattern language is :mod:`shoal.observability.filter_patterns`'); it stops at
``limit`` matches (or :data:`MAX_PAGE_BYTES` of them), or after :data:`SCAN_BUDGET` events
read, answering a ``nextToken`` either
way when more events remain, as AWS does when a search runs long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shoal.errors import AwsError
from shoal.observability import filter_patterns
from shoal.observability.groups import Group
from shoal.observability.logstore import EVENT_COLUMNS, Event, LogDatabase

__all__ = ["Event", "Found", "Page", "filter_group", "stream_page"]

SCAN_CHUNK = 5000
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
    where, args = "stream_id = ? AND ts >= ? AND ts < ?", [stream_id, lo, hi]
    kind = "f" if from_head else "b"
    pos: tuple[int, int] | None = None
    if next_token:
        kind, ts, eid = parse_token(next_token, "fb")
        pos = (ts, eid)
        where += " AND (ts, id) > (?, ?)" if kind == "f" else " AND (ts, id) < (?, ?)"
        args += [ts, eid]
    order = "ASC" if kind == "f" else "DESC"
    rows = db.query(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY ts {order}, id {order} "
        "LIMIT ?",
        [*args, limit],
    )
    events = _within(MAX_PAGE_BYTES, [Event(*r) for r in rows])  # nearest to the token first
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
    where = "group_id = ? AND ts <= ? AND (ts, id) > (?, ?)"
    base: list[int] = [group.id, hi]
    if stream_ids is not None:
        where += f" AND stream_id IN ({','.join(map(str, stream_ids))})"
    match = matcher.match
    found: list[Event] = []
    scanned = 0
    reader = db.reader()
    while True:
        # Only what matching needs, a chunk at a time; an Event is made for a match alone.
        rows = reader.execute(
            f"SELECT ts, id, message FROM events WHERE {where} ORDER BY ts, id LIMIT ?",
            [*base, pos[0], pos[1], SCAN_CHUNK],
        ).fetchall()
        hits = [r for r in rows if match(r[2])] if pattern else rows
        if hits:
            ids = [r[1] for r in hits[: limit - len(found)]]
            size = sum(len(e.message) for e in found)
            more = _events(db, ids)
            kept = _within(MAX_PAGE_BYTES - size, more) if found else _within(MAX_PAGE_BYTES, more)
            found += kept
            if len(found) >= limit or len(kept) < len(more):
                last = found[-1]
                return Found(found, _more(db, where, base, (last.ts, last.id)))
        scanned += len(rows)
        if rows:
            pos = (rows[-1][0], rows[-1][1])
        if len(rows) < SCAN_CHUNK:
            return Found(found, None)
        if scanned >= SCAN_BUDGET:
            return Found(found, token("n", *pos))


def _within(budget: int, events: list[Event]) -> list[Event]:
    """The first events whose messages fit in ``budget`` characters (always one, if the
    budget is the whole page's: a page is never empty for want of room)."""
    total = 0
    for i, e in enumerate(events):
        total += len(e.message)
        if total > budget and (i > 0 or budget < MAX_PAGE_BYTES):
            return events[:i]
    return events


def _events(db: LogDatabase, ids: list[int]) -> list[Event]:
    """The events of ``ids`` (in the order given: ascending positions)."""
    rows = db.query(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE id IN ({','.join(map(str, ids))})"
    )
    by_id = {r[0]: Event(*r) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def _more(db: LogDatabase, where: str, base: list[int], pos: tuple[int, int]) -> str | None:
    """The token after ``pos`` if any event is there, else None (the end: no token)."""
    rows = db.query(f"SELECT 1 FROM events WHERE {where} LIMIT 1", [*base, pos[0], pos[1]])
    return token("n", *pos) if rows else None
