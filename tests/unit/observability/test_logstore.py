"""The log database and the log service without a server: storage, tokens, filters, retention,
a database that refuses writes (SQLITE_FULL), migration, and the subscribers' hook."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from shoal.errors import AwsError
from shoal.observability import chunks, events, filter_patterns, logstore
from shoal.observability.groups import Groups
from shoal.observability.logs import LogService
from shoal.observability.logstore import LogDatabase, Pending
from shoal.store.sqlite import DiskFull, StoreError

R = "us-east-1"
DAY = 86_400_000


def pending(stream: str, ts: int, message: str, group: str = "/g") -> Pending:
    return Pending(R, group, stream, ts, ts, message)


@pytest.fixture
def db(tmp_path: Path) -> Any:
    d = LogDatabase(tmp_path / "logs" / "logs.db")
    yield d
    d.close()


def test_the_database_is_private(db: LogDatabase) -> None:
    assert db.path.stat().st_mode & 0o777 == 0o600


def test_a_batch_makes_its_group_and_stream(db: LogDatabase) -> None:
    db.append([pending("s", 10, "a"), pending("s", 5, "bb"), pending("t", 7, "c")], 100)
    groups = Groups(db)
    g = groups.get(R, "/g")
    assert g.created == 10 and g.stored_bytes == 4
    s = groups.stream(g, "s")
    assert (s.first_ts, s.last_ts, s.stored_bytes) == (5, 10, 3)
    with pytest.raises(AwsError) as e:
        groups.get("eu-west-1", "/g")
    assert e.value.message == "The specified log group does not exist."


def all_events(db: LogDatabase, group: str = "/g") -> list[events.Event]:
    g = Groups(db).get(R, group)
    return events.filter_group(db, g, None, None, None, "", None, 10_000).events


@pytest.mark.parametrize("case", ["one-chunk", "nul", "split"])
def test_a_batch_stores_every_message_exactly(
    db: LogDatabase, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's events of one stream go to SQLite as one chunk (or several, past a chunk's
    size): every message comes back as it was written (a NUL too), its platform flag kept,
    and the stream's bytes are UTF-8 bytes."""
    messages = ["héllo ✓ 😀", 'tab\tnewline\n"quoted" \\ \\u0000', "REPORT x", "é"]
    if case == "nul":
        messages.append("a\x00b")
    if case == "split":
        monkeypatch.setattr(chunks, "CHUNK_EVENTS", 2)
    batch = [Pending(R, "/g", "s", 5 + i, 9, m, i == 2) for i, m in enumerate(messages)]
    db.append(batch, 100)
    db.append([Pending(R, "/g", "s", 1, 10, "z")], 100)
    got = [(e.message, e.platform, e.ts) for e in all_events(db)]
    assert got == [("z", 0, 1)] + [(m, int(i == 2), 5 + i) for i, m in enumerate(messages)]
    want = 1 + (len(messages) + 1) // 2 if case == "split" else 2
    assert db.query("SELECT count(*) FROM chunks") == [(want,)]
    g = Groups(db).get(R, "/g")
    s = Groups(db).stream(g, "s")
    size = sum(len(m.encode()) for m in messages) + 1
    assert (s.first_ts, s.last_ts, s.stored_bytes) == (1, 4 + len(messages), size)
    assert db.query("SELECT last_ingest FROM streams") == [(10,)]


def test_stream_pages_and_the_same_token_at_the_end(db: LogDatabase) -> None:
    db.append([pending("s", i, f"m{i}") for i in range(5)], 0)
    g = Groups(db).get(R, "/g")
    sid = Groups(db).stream(g, "s").id
    page = events.stream_page(db, sid, None, None, None, 2, True)
    assert [e.message for e in page.events] == ["m0", "m1"]
    page = events.stream_page(db, sid, None, None, page.forward, 10, True)
    assert [e.message for e in page.events] == ["m2", "m3", "m4"]
    end = events.stream_page(db, sid, None, None, page.forward, 10, True)
    assert end.events == [] and end.forward == page.forward
    back = events.stream_page(db, sid, None, None, page.backward, 10, True)
    assert [e.message for e in back.events] == ["m0", "m1"]
    with pytest.raises(AwsError):
        events.stream_page(db, sid, None, None, "f/x/1", 10, True)


def test_a_filter_reads_its_range_and_stops_at_its_budget(
    db: LogDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k in range(0, 30, 3):  # ten chunks
        db.append([pending("s", i, "hit" if i % 3 == 0 else "miss") for i in range(k, k + 3)], 0)
    g = Groups(db).get(R, "/g")
    found = events.filter_group(db, g, None, 3, 12, "hit", None, 100)
    assert [e.ts for e in found.events] == [3, 6, 9, 12] and found.next_token is None
    monkeypatch.setattr(events, "SCAN_BUDGET", 8)
    found = events.filter_group(db, g, None, None, None, "nothing-matches", None, 100)
    assert found.events == [] and found.next_token is not None  # a long search: come back
    seen, token = [], None
    while True:
        page = events.filter_group(db, g, None, None, None, "hit", token, 3)
        seen += [e.ts for e in page.events]
        token = page.next_token
        if token is None:
            break
    assert seen == list(range(0, 30, 3))


def test_the_plain_term_pattern() -> None:
    m = filter_patterns.compile("ERROR db")
    assert m.match("ERROR: the db is down") and not m.match("ERROR only")
    assert not filter_patterns.compile("error").match("ERROR")  # case-sensitive
    assert filter_patterns.compile("").match("anything")


def test_retention_sweeps_old_events_only(db: LogDatabase) -> None:
    now = 100 * DAY
    db.append([pending("s", now - 3 * DAY, "old"), pending("s", now, "new"),
               pending("s", now - 3 * DAY, "other group", "/h")], now)  # fmt: skip
    Groups(db).set_retention(R, "/g", 1)
    assert db.sweep(now) == 1
    g = Groups(db).get(R, "/g")
    assert [e.message for e in events.filter_group(db, g, None, None, None, "", None, 9).events] \
        == ["new"]  # fmt: skip
    assert Groups(db).stream(g, "s").first_ts == now
    assert Groups(db).get(R, "/h").stored_bytes == len("other group")


def test_a_refused_write_loses_no_earlier_event(db: LogDatabase) -> None:
    db.append([pending("s", 1, "kept")], 0)
    pages = db._db.execute("PRAGMA page_count").fetchone()[0]
    db._db.execute(f"PRAGMA max_page_count = {pages}")  # the "disk" is full from here on
    with pytest.raises(DiskFull):
        db.append([pending("s", 2, "x" * 100_000)], 0)
    g = Groups(db).get(R, "/g")
    assert [e.message for e in events.filter_group(db, g, None, None, None, "", None, 9).events] \
        == ["kept"]  # fmt: skip


@dataclass
class Settings:
    log_dir: Path
    region: str = R


def service(tmp_path: Path) -> LogService:
    return LogService(SimpleNamespace(settings=Settings(tmp_path / "logs")))  # type: ignore[arg-type]


def test_the_service_batches_retries_after_a_full_disk_and_publishes(tmp_path: Path) -> None:
    async def main() -> None:
        logs = service(tmp_path)
        await logs.start()
        seen: list[tuple[str, str, str]] = []
        logs.subscribe(lambda group, stream, e: seen.append((group, stream, e.message)))
        stream = logs.open_stream(R, "fn", "$LATEST", "0" * 32)
        stream.write("one\ntw")
        stream.write("o\n")
        assert logs.pending and seen == []  # nothing written yet: the hot path only appends
        await logs.read(lambda: None)
        assert [m for _, _, m in seen] == ["one", "two"]
        assert seen[0][0] == "/aws/lambda/fn" and seen[0][1].endswith("[$LATEST]" + "0" * 32)
        pages = logs.db._db.execute("PRAGMA page_count").fetchone()[0]
        logs.db._db.execute(f"PRAGMA max_page_count = {pages}")
        stream.write("x" * 100_000 + "\n")
        await logs.read(lambda: None)  # refused: kept to retry, the writer carries on
        assert [m for _, _, m in seen] == ["one", "two"]
        assert [e["message"] for e in logs.events(R, "fn")] == ["one", "two"]
        logs.db._db.execute("PRAGMA max_page_count = 1000000")  # space again
        assert [len(e["message"]) for e in logs.events(R, "fn")] == [3, 3, 100_000]  # a read
        stream.event("three")
        await logs.read(lambda: None)
        assert [len(e["message"]) for e in logs.events(R, "fn")] == [3, 3, 100_000, 5]
        await logs.stop()

    asyncio.run(main())


def test_the_bench_baseline_records_no_function_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SHOAL_BENCH_TELEMETRY=off (invoke_bench's baseline only) drops function log events;
    anything else keeps them."""

    async def main() -> list[str]:
        logs = service(tmp_path)
        await logs.start()
        stream = logs.open_stream(R, "fn", "$LATEST", "0" * 32)
        stream.write("printed\n")
        stream.events(["END", "REPORT"], platform=True)
        messages = [e["message"] for e in logs.events(R, "fn")]
        await logs.stop()
        return messages

    monkeypatch.setenv("SHOAL_BENCH_TELEMETRY", "off")
    assert asyncio.run(main()) == []
    monkeypatch.setenv("SHOAL_BENCH_TELEMETRY", "on")
    assert asyncio.run(main()) == ["printed", "END", "REPORT"]


def test_old_json_lines_files_are_migrated_at_start(tmp_path: Path) -> None:
    old = tmp_path / "logs" / "us-east-1%2Fmine"
    old.mkdir(parents=True)
    lines = [json.dumps({"timestamp": t, "message": f"m{t}"}) for t in (3, 1, 2)]
    (old / "2024%2F01%2F01%2F%5B%24LATEST%5Dab.log").write_text("\n".join(lines) + "\n{cut")
    before = tmp_path / "logs" / "older"  # from before regions: the default region's
    before.mkdir()
    (before / "s.log").write_text(json.dumps({"timestamp": 9, "message": "older"}) + "\n")

    async def main() -> None:
        logs = service(tmp_path)
        await logs.start()
        got = list(logs.events(R, "mine"))
        assert [e["message"] for e in got] == ["m1", "m2", "m3"]
        assert got[0]["logStreamName"] == "2024/01/01/[$LATEST]ab"
        assert [e["message"] for e in logs.events(R, "older")] == ["older"]
        await logs.stop()

    asyncio.run(main())
    assert not old.exists() and not before.exists()
    with sqlite3.connect(tmp_path / "logs" / "logs.db") as conn:
        assert conn.execute("SELECT sum(count) FROM chunks").fetchone() == (4,)
    conn.close()


def test_a_damaged_log_database_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "logs.db").write_bytes(b"not a database" * 100)

    async def main() -> None:
        logs = service(tmp_path)
        await logs.start()
        stream = logs.open_stream(R, "fn", "$LATEST", "1" * 32)
        stream.event("after")
        assert [e["message"] for e in logs.events(R, "fn")] == ["after"]
        await logs.stop()

    asyncio.run(main())
    (aside,) = (tmp_path / "logs").glob("logs.db.damaged-*")
    assert aside.read_bytes().startswith(b"not a database")


def test_a_page_holds_at_most_a_megabyte(db: LogDatabase) -> None:
    db.append([pending("s", i, str(i) * 400_000) for i in range(3)], 0)
    g = Groups(db).get(R, "/g")
    first = events.filter_group(db, g, None, None, None, "", None, 100)
    assert [e.ts for e in first.events] == [0, 1] and first.next_token
    rest = events.filter_group(db, g, None, None, None, "", first.next_token, 100)
    assert [e.ts for e in rest.events] == [2] and rest.next_token is None
    sid = Groups(db).stream(g, "s").id
    head = events.stream_page(db, sid, None, None, None, 100, True)
    assert [e.ts for e in head.events] == [0, 1]
    tail = events.stream_page(db, sid, None, None, None, 100, False)
    assert [e.ts for e in tail.events] == [1, 2]


def test_chunks_overlapping_in_time_read_back_in_order(db: LogDatabase) -> None:
    """Events arrive out of order (PutLogEvents allows any order), so a stream's chunks overlap
    in time, and a group's streams write side by side: every read merges them into
    (timestamp, order stored) order, forwards, backwards and across pages."""
    db.append([pending("s", t, f"a{t}") for t in (50, 10, 30)], 0)
    db.append([pending("s", t, f"b{t}") for t in (20, 30, 60)], 0)
    db.append([pending("s", t, f"c{t}") for t in (5, 40)] + [pending("t", 25, "t25")], 0)
    want = ["c5", "a10", "b20", "a30", "b30", "c40", "a50", "b60"]
    g = Groups(db).get(R, "/g")
    sid = Groups(db).stream(g, "s").id
    assert [e.message for e in events.stream_page(db, sid, None, None, None, 100, True).events] \
        == want  # fmt: skip
    seen, tok = [], None
    for _ in range(10):  # forward, three at a time
        page = events.stream_page(db, sid, None, None, tok, 3, True)
        if not page.events:
            assert page.forward == tok  # the same token at the end
            break
        seen += [e.message for e in page.events]
        tok = page.forward
    assert seen == want
    back, tok = [], None
    for _ in range(10):  # backward from the end, three at a time
        page = events.stream_page(db, sid, None, None, tok, 3, False)
        if not page.events:
            break
        back = [e.message for e in page.events] + back
        tok = page.backward
    assert back == want
    ranged = events.stream_page(db, sid, 20, 50, None, 100, True).events
    assert [e.message for e in ranged] == ["b20", "a30", "b30", "c40"]
    merged = [e.message for e in all_events(db)]
    assert merged == ["c5", "a10", "b20", "t25", "a30", "b30", "c40", "a50", "b60"]
    paged, tok = [], None
    while True:
        found = events.filter_group(db, g, None, None, None, "", tok, 2)
        paged += [e.message for e in found.events]
        if (tok := found.next_token) is None:
            break
    assert paged == merged
    hits = events.filter_group(db, g, None, 10, 40, "a", None, 100).events
    assert [e.message for e in hits] == ["a10", "a30"]  # [start, end], the pattern


def test_retention_trims_a_chunk_straddling_the_cutoff(db: LogDatabase) -> None:
    """A chunk whose events straddle the cutoff keeps its newer events, with their ids: a
    token taken before the sweep still continues after it."""
    now = 100 * DAY
    cut = now - DAY  # one day's retention
    db.append([pending("s", cut - 3 + i, f"old{i}") for i in range(3)]
              + [pending("s", cut + i, f"new{i}") for i in range(3)], now)  # fmt: skip
    g = Groups(db).get(R, "/g")
    sid = Groups(db).stream(g, "s").id
    first = events.stream_page(db, sid, cut, None, None, 1, True)
    assert [e.message for e in first.events] == ["new0"]
    Groups(db).set_retention(R, "/g", 1)
    assert db.sweep(now) == 3
    rest = events.stream_page(db, sid, None, None, first.forward, 10, True)
    assert [e.message for e in rest.events] == ["new1", "new2"]
    s = Groups(db).stream(g, "s")
    assert (s.first_ts, s.stored_bytes) == (cut, 12)
    assert [e.message for e in all_events(db)] == ["new0", "new1", "new2"]
    assert db.query("SELECT count, skip FROM chunks") == [(3, 3)]


def test_a_chunk_spans_at_most_a_few_minutes(db: LogDatabase) -> None:
    """A batch spanning a day (PutLogEvents allows it) is cut into chunks of a few minutes
    each, so a filter over an hour decodes about that hour, not the day."""
    db.append([pending("s", i * 60_000, f"m{i}") for i in range(24 * 60)], 0)
    spans = db.query("SELECT last_ts - first_ts FROM chunks")
    assert len(spans) > 200 and max(s for (s,) in spans) <= chunks.CHUNK_SPAN
    g = Groups(db).get(R, "/g")
    hour = events.filter_group(db, g, None, 600 * 60_000, 660 * 60_000, "", None, 10_000)
    assert [e.message for e in hour.events] == [f"m{i}" for i in range(600, 661)]


OLD_SCHEMA = """
CREATE TABLE groups (id INTEGER PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL,
    created INTEGER NOT NULL, retention INTEGER, class TEXT NOT NULL DEFAULT 'STANDARD',
    kms TEXT, tags TEXT NOT NULL DEFAULT '{}', UNIQUE (region, name));
CREATE TABLE streams (id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, name TEXT NOT NULL,
    created INTEGER NOT NULL, first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER,
    bytes INTEGER NOT NULL DEFAULT 0, UNIQUE (group_id, name));
CREATE TABLE events (id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL,
    stream_id INTEGER NOT NULL, ts INTEGER NOT NULL, ingest INTEGER NOT NULL,
    message TEXT NOT NULL, platform INTEGER NOT NULL DEFAULT 0);
CREATE INDEX events_by_stream ON events (stream_id, ts, id);
CREATE INDEX events_by_group ON events (group_id, ts, id);
INSERT INTO groups (id, region, name, created) VALUES (1, 'us-east-1', '/g', 0);
INSERT INTO streams (id, group_id, name, created, first_ts, last_ts, last_ingest, bytes)
    VALUES (1, 1, 's', 0, 1, 3, 3, 6), (2, 1, 't', 0, 2, 2, 2, 3);
INSERT INTO events (group_id, stream_id, ts, ingest, message, platform) VALUES
    (1, 1, 3, 3, 's3', 0), (1, 2, 2, 2, 't2é', 0), (1, 1, 1, 1, 'START', 1), (1, 1, 3, 3, 'x', 0);
"""


def old_database(path: Path) -> None:
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    conn.close()


def test_a_database_of_event_rows_is_migrated_to_chunks(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "logs.db"
    old_database(path)
    db = LogDatabase(path)
    try:
        got = [(e.message, e.ts, e.platform) for e in all_events(db)]
        assert got == [("START", 1, 1), ("t2é", 2, 0), ("s3", 3, 0), ("x", 3, 0)]
        assert db.query("SELECT name FROM sqlite_master WHERE name LIKE 'events%'") == []
        assert db.query("SELECT stream_id, count, bytes FROM chunks ORDER BY id") == [
            (1, 3, 8), (2, 1, 4)]  # fmt: skip
        db.append([pending("s", 4, "after")], 5)
        assert [e.message for e in all_events(db)][-1] == "after"
    finally:
        db.close()


def test_a_failed_migration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "logs" / "logs.db"
    old_database(path)
    monkeypatch.setattr(logstore, "INSERT_CHUNK", "INSERT INTO no_such_table VALUES (?)")
    with pytest.raises(StoreError):
        LogDatabase(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (4,)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "chunks" not in tables and "events_by_group" in tables
    finally:
        conn.close()
