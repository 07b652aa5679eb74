"""Opening the metadata database only when it is what the data directory says it should be.

SQLite is quiet about two kinds of loss. A database file that is missing or empty is simply a
new database, and a write-ahead log (``shoal.db-wal``) whose header or frames are damaged is
ignored from the damage on, committed changes and all. Either way Shoal would start with no
functions while ``code/`` and ``filesystems/`` still hold their packages and trees. And a file
SQLite cannot read at all fails deep inside the first query. :func:`open_store` checks all of
this before anything is written, and raises :class:`CorruptStore` with a message that says what
was found and how to recover (``shoal restore`` from a ``shoal backup``); only a data directory
that really is new starts with empty metadata.

The WAL check reads the log as SQLite's file format defines it (https://www.sqlite.org/
fileformat.html, "The WAL File Format"): a 32-byte header with its own checksum, then frames of a
24-byte header and one page, each checksummed cumulatively; a frame carrying the header's salts
belongs to the current log, and one with a non-zero "database size" ends a committed
transaction. SQLite offers no call that reports frames it skipped, so this is written here.
A damaged frame is only reported when a committed transaction of the current log follows it:
the last transaction cut short by a crash is what SQLite is meant to drop.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

from shoal.store.sqlite import Store, StoreError

WAL_MAGIC = (0x377F0682, 0x377F0683)  # checksums little-endian, big-endian
WAL_VERSION = 3007000
REQUIRED_TABLES = {"resources", "queue"}


class CorruptStore(StoreError):
    """The metadata database is damaged or missing while the data directory is not new."""


def open_store(db_path: Path, content_dirs: tuple[Path, ...]) -> Store:
    """The store at ``db_path``, checked; ``content_dirs`` hold what its metadata describes
    (code packages, file-system trees): if any has entries, the database must too."""
    content = _content(content_dirs)
    empty = not db_path.exists() or db_path.stat().st_size == 0
    if empty and content:
        state = "missing" if not db_path.exists() else "empty (0 bytes)"
        raise CorruptStore(
            _advice(db_path, f"the metadata database {db_path} is {state}, but the data "
                    f"directory still holds {content}")
        )  # fmt: skip
    if empty:
        return Store(db_path)  # a new data directory
    damage = wal_damage(db_path.with_name(db_path.name + "-wal"))
    if damage:
        raise CorruptStore(_advice(db_path, f"its write-ahead log is damaged ({damage})"))
    problem = _check_database(db_path, bool(content))
    if problem:
        raise CorruptStore(_advice(db_path, problem))
    return Store(db_path)


def _content(dirs: tuple[Path, ...]) -> str:
    found = []
    for d in dirs:
        try:
            n = sum(1 for p in d.iterdir() if not p.name.startswith("."))
        except FileNotFoundError:
            continue
        if n:
            found.append(f"{n} entr{'y' if n == 1 else 'ies'} in {d.name}/")
    return " and ".join(found)


def _check_database(db_path: Path, has_content: bool) -> str | None:
    """Why SQLite cannot be trusted with ``db_path``, or None. Read-only: writes nothing."""
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    except sqlite3.Error as e:
        return f"SQLite cannot open it ({e})"
    try:
        result = [row[0] for row in db.execute("PRAGMA quick_check")]
        if result != ["ok"]:
            found = " ".join(" ".join(map(str, result[:3])).split())  # one line
            return f"SQLite's integrity check fails: {found[:300]}"
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error as e:
        return f"SQLite cannot read it ({e})"
    finally:
        db.close()
    missing = REQUIRED_TABLES - tables
    if missing and (has_content or tables):
        return f"it has no {', '.join(sorted(missing))} table (not Shoal's database?)"
    return None


def _advice(db_path: Path, what: str) -> str:
    data = db_path.parent
    return (
        f"Shoal will not start: {what}. Starting now would show some or all of the "
        "functions, file systems and APIs that were there as gone, and lose them. To "
        "recover, restore the data directory "
        f"from a backup: shoal restore BACKUP --data-dir {data} --force (a backup is made by "
        "shoal backup). If you have none and mean to start over, move the data directory "
        "aside; if only the write-ahead log is damaged and losing its latest changes is "
        f"acceptable, move {db_path.name}-wal out of {data}."
    )


def _checksum(data: bytes, state: tuple[int, int], order: str) -> tuple[int, int]:
    s0, s1 = state
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def wal_damage(wal: Path) -> str | None:
    """What is wrong with the WAL at ``wal`` such that SQLite would skip committed changes,
    or None (no WAL, an empty one, or one whose only damage is a last transaction cut short)."""
    try:
        data = wal.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < 32:
        return None  # no frame was ever written after it
    magic, version, page_size, _, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:32])
    page_size = 65536 if page_size == 1 else page_size
    if magic not in WAL_MAGIC or version != WAL_VERSION:
        return "its header is not a WAL header"
    if page_size < 512 or page_size & (page_size - 1):
        return "its header has an impossible page size"
    order = ">" if magic & 1 else "<"
    state = _checksum(data[:24], (0, 0), order)
    if state != (c1, c2):
        return "its header checksum does not match"
    frame = 24 + page_size
    broken: int | None = None
    for i in range((len(data) - 32) // frame):
        off = 32 + i * frame
        _, commit, s1, s2, f1, f2 = struct.unpack(">6I", data[off : off + 24])
        if broken is None:
            if (s1, s2) == (salt1, salt2):
                state = _checksum(data[off : off + 8] + data[off + 24 : off + frame], state, order)
                if state == (f1, f2):
                    continue
            broken = i
        elif (s1, s2) == (salt1, salt2) and commit:
            return f"frame {broken + 1} is unreadable, but frame {i + 1} commits a later change"
    return None
