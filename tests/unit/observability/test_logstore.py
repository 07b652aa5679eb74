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
from shoal.observability import events, filter_patterns, logstore
from shoal.observability.groups import Groups
from shoal.observability.logs import LogService
from shoal.observability.logstore import LogDatabase, Pending
from shoal.store.sqlite import DiskFull

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


@pytest.mark.parametrize("case", ["one-statement", "nul", "long"])
def test_a_batch_stores_every_message_exactly(
    db: LogDatabase, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch goes to SQLite as one JSON document (one statement), or row by row when a
    message holds a NUL (which SQLite's JSON would cut) or the document is too long: either
    way every message comes back as it was written, its platform flag kept, and the stream's
    bytes are UTF-8 bytes."""
    messages = ["héllo ✓ 😀", 'tab\tnewline\n"quoted" \\ \\u0000', "REPORT x", "é"]
    if case == "nul":
        messages.append("a\x00b")
    if case == "long":
        monkeypatch.setattr(logstore, "BATCH_TEXT_LIMIT", 10)
        monkeypatch.setattr(logstore, "INSERT_BATCH", "no such statement")
    batch = [Pending(R, "/g", "s", 5 + i, 9, m, i == 2) for i, m in enumerate(messages)]
    db.append(batch, 100)
    db.append([Pending(R, "/g", "s", 1, 10, "z")], 100)
    rows = db.query("SELECT message, platform, ts FROM events ORDER BY id")
    assert rows == [(m, int(i == 2), 5 + i) for i, m in enumerate(messages)] + [("z", 0, 1)]
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
    db.append([pending("s", i, "hit" if i % 3 == 0 else "miss") for i in range(30)], 0)
    g = Groups(db).get(R, "/g")
    found = events.filter_group(db, g, None, 3, 12, "hit", None, 100)
    assert [e.ts for e in found.events] == [3, 6, 9, 12] and found.next_token is None
    monkeypatch.setattr(events, "SCAN_CHUNK", 4)
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
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (4,)
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
