"""Log groups and log streams: their rows in the log database, made, changed, found and listed.

A group is its region's (``/aws/lambda/f`` in two regions is two groups, as on AWS). Writes run
on the log service's writer thread (:mod:`shoal.observability.logstore`), reads on any; errors
are AWS's (``ResourceNotFoundException`` "The specified log group does not exist." ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shoal.errors import AwsError
from shoal.observability.logstore import LogDatabase

NO_GROUP = "The specified log group does not exist."
NO_STREAM = "The specified log stream does not exist."
# The values PutRetentionPolicy takes (AWS's enum, in its order).
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
MAX_TAGS = 50


def not_found(message: str = NO_GROUP) -> AwsError:
    return AwsError("ResourceNotFoundException", message, 400)


@dataclass(frozen=True)
class Group:
    id: int
    region: str
    name: str
    created: int
    retention: int | None
    log_class: str
    kms: str | None
    tags: dict[str, str]
    stored_bytes: int


@dataclass(frozen=True)
class Stream:
    id: int
    name: str
    created: int
    first_ts: int | None
    last_ts: int | None
    last_ingest: int | None
    stored_bytes: int


_GROUP_SQL = (
    "SELECT g.id, g.region, g.name, g.created, g.retention, g.class, g.kms, g.tags, "
    "coalesce((SELECT sum(bytes) FROM streams WHERE group_id = g.id), 0) FROM groups g"
)
_STREAM_SQL = (
    "SELECT id, name, created, first_ts, last_ts, last_ingest, bytes FROM streams"
)


def _group(row: tuple[Any, ...]) -> Group:
    gid, region, name, created, retention, log_class, kms, tags, size = row
    return Group(gid, region, name, created, retention, log_class, kms, json.loads(tags),
                 int(size))  # fmt: skip


class Groups:
    """The groups and streams of one log database."""

    def __init__(self, db: LogDatabase) -> None:
        self.db = db

    # ------------------------------------------------------------------ reads

    def get(self, region: str, name: str) -> Group:
        rows = self.db.query(f"{_GROUP_SQL} WHERE g.region = ? AND g.name = ?", (region, name))
        if not rows:
            raise not_found()
        return _group(rows[0])

    def find(self, region: str, prefix: str | None = None, pattern: str | None = None,
             after: str | None = None, limit: int = 50,
             log_class: str | None = None) -> list[Group]:  # fmt: skip
        """Groups by name, from after ``after``; ``limit + 1`` at most (the extra one says
        there are more)."""
        sql, args = f"{_GROUP_SQL} WHERE g.region = ?", list[Any]([region])
        if prefix:
            sql += " AND substr(g.name, 1, ?) = ?"
            args += [len(prefix), prefix]
        if pattern:
            sql += " AND instr(g.name, ?) > 0"
            args.append(pattern)
        if after is not None:
            sql += " AND g.name > ?"
            args.append(after)
        if log_class:
            sql += " AND g.class = ?"
            args.append(log_class)
        sql += " ORDER BY g.name LIMIT ?"
        args.append(limit + 1)
        return [_group(r) for r in self.db.query(sql, args)]

    def stream(self, group: Group, name: str) -> Stream:
        rows = self.db.query(f"{_STREAM_SQL} WHERE group_id = ? AND name = ?", (group.id, name))
        if not rows:
            raise not_found(NO_STREAM)
        return Stream(*rows[0])

    def streams(self, group: Group, prefix: str | None = None, by_time: bool = False,
                descending: bool = False, offset: int = 0,
                limit: int = 50) -> list[Stream]:  # fmt: skip
        """A page of the group's streams, ``limit + 1`` at most."""
        sql, args = f"{_STREAM_SQL} WHERE group_id = ?", list[Any]([group.id])
        if prefix:
            sql += " AND substr(name, 1, ?) = ?"
            args += [len(prefix), prefix]
        order = " DESC" if descending else ""
        if by_time:
            sql += f" ORDER BY coalesce(last_ts, 0){order}, name{order}"
        else:
            sql += f" ORDER BY name{order}"
        sql += " LIMIT ? OFFSET ?"
        args += [limit + 1, offset]
        return [Stream(*r) for r in self.db.query(sql, args)]

    def stream_ids(self, group: Group, names: list[str] | None,
                   prefix: str | None) -> dict[int, str]:  # fmt: skip
        """The streams a filter searches: id -> name."""
        sql, args = "SELECT id, name FROM streams WHERE group_id = ?", list[Any]([group.id])
        if names is not None:
            sql += f" AND name IN ({','.join('?' * len(names))})"
            args += names
        elif prefix:
            sql += " AND substr(name, 1, ?) = ?"
            args += [len(prefix), prefix]
        return {int(i): str(n) for i, n in self.db.query(sql, args)}

    # ------------------------------------------------------------------ writes (writer thread)

    def create(self, region: str, name: str, now: int, tags: dict[str, str] | None = None,
               log_class: str | None = None, kms: str | None = None) -> None:  # fmt: skip
        if tags and len(tags) > MAX_TAGS:
            raise AwsError("TooManyTagsException", "A resource can have no more than 50 tags.")
        with self.db.transaction() as db:
            if db.execute(
                "SELECT 1 FROM groups WHERE region = ? AND name = ?", (region, name)
            ).fetchone():
                raise AwsError(
                    "ResourceAlreadyExistsException", "The specified log group already exists"
                )
            db.execute(
                "INSERT INTO groups (region, name, created, class, kms, tags) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (region, name, now, log_class or "STANDARD", kms, json.dumps(tags or {})),
            )

    def delete(self, region: str, name: str) -> None:
        with self.db.transaction() as db:
            row = db.execute(
                "SELECT id FROM groups WHERE region = ? AND name = ?", (region, name)
            ).fetchone()
            if row is None:
                raise not_found()
            db.execute("DELETE FROM chunks WHERE group_id = ?", row)
            db.execute("DELETE FROM streams WHERE group_id = ?", row)
            db.execute("DELETE FROM groups WHERE id = ?", row)
        self.db.forget()

    def create_stream(self, region: str, group: str, name: str, now: int) -> None:
        with self.db.transaction() as db:
            gid = self.db.group_id(db, region, group, now, create=False)
            if gid is None:
                raise not_found()
            if db.execute(
                "SELECT 1 FROM streams WHERE group_id = ? AND name = ?", (gid, name)
            ).fetchone():
                raise AwsError(
                    "ResourceAlreadyExistsException", "The specified log stream already exists"
                )
            db.execute(
                "INSERT INTO streams (group_id, name, created) VALUES (?, ?, ?)", (gid, name, now)
            )

    def delete_stream(self, region: str, group: str, name: str) -> None:
        with self.db.transaction() as db:
            gid = self.db.group_id(db, region, group, 0, create=False)
            if gid is None:
                raise not_found()
            row = db.execute(
                "SELECT id FROM streams WHERE group_id = ? AND name = ?", (gid, name)
            ).fetchone()
            if row is None:
                raise not_found(NO_STREAM)
            db.execute("DELETE FROM chunks WHERE stream_id = ?", row)
            db.execute("DELETE FROM streams WHERE id = ?", row)
        self.db.forget()

    def set_retention(self, region: str, name: str, days: int | None) -> None:
        with self.db.transaction() as db:
            cur = db.execute(
                "UPDATE groups SET retention = ? WHERE region = ? AND name = ?",
                (days, region, name),
            )
            if cur.rowcount == 0:
                raise not_found()

    def tag(self, region: str, name: str, add: dict[str, str] | None = None,
            remove: list[str] | None = None) -> None:  # fmt: skip
        with self.db.transaction() as db:
            row = db.execute(
                "SELECT tags FROM groups WHERE region = ? AND name = ?", (region, name)
            ).fetchone()
            if row is None:
                raise not_found()
            tags: dict[str, str] = json.loads(row[0])
            tags.update(add or {})
            for key in remove or ():
                tags.pop(key, None)
            if len(tags) > MAX_TAGS:
                raise AwsError(
                    "TooManyTagsException", "A resource can have no more than 50 tags."
                )
            db.execute(
                "UPDATE groups SET tags = ? WHERE region = ? AND name = ?",
                (json.dumps(tags), region, name),
            )
