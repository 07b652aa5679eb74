"""The store's region column: one name in two regions is two rows, and a database from before
regions is migrated whole, its rows then claimed by the default region."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shoal.store.sqlite import Store


def test_one_key_in_two_regions(tmp_path: Path) -> None:
    store = Store(tmp_path / "shoal.db")
    store.put("function", "f", {"n": 1}, "eu-west-1")
    store.put("function", "f", {"n": 2}, "us-east-1")
    store.put("filesystem", "fs-1", {"n": 3})
    assert store.load_regional("function") == {
        ("eu-west-1", "f"): {"n": 1}, ("us-east-1", "f"): {"n": 2},
    }  # fmt: skip
    assert store.load("function") == {}  # no region-less row of that kind
    assert store.load("filesystem") == {"fs-1": {"n": 3}}
    assert store.get("function", "f", "eu-west-1") == {"n": 1}
    store.delete("function", "f", "eu-west-1")
    assert store.load_regional("function") == {("us-east-1", "f"): {"n": 2}}
    store.close()


def test_a_database_from_before_regions(tmp_path: Path) -> None:
    db = tmp_path / "shoal.db"
    conn = sqlite3.connect(db)
    conn.executescript(
        "CREATE TABLE resources (kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, "
        "PRIMARY KEY (kind, key));"
        "CREATE TABLE queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, "
        "doc TEXT NOT NULL);"
        """INSERT INTO resources VALUES ('function', 'f', '{"n": 1}');"""
        """INSERT INTO resources VALUES ('filesystem', 'fs-1', '{"n": 2}');"""
        """INSERT INTO queue(topic, doc) VALUES ('async', '{"n": 3}');"""
    )
    conn.commit()
    conn.close()
    store = Store(db)
    assert store.load("function") == {"f": {"n": 1}}  # kept, with no region yet
    store.claim("function", "us-east-1")
    assert store.load_regional("function") == {("us-east-1", "f"): {"n": 1}}
    assert store.load("filesystem") == {"fs-1": {"n": 2}}
    assert [doc for _, doc in store.pending("async")] == [{"n": 3}]
    store.put("function", "f", {"n": 4}, "eu-west-1")  # the name is free in another region
    store.close()
    again = Store(db)  # opening it again migrates nothing more
    assert len(again.load_regional("function")) == 2
    again.close()
