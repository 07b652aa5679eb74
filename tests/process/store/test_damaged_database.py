"""A damaged or emptied metadata database stops the start with a clear message, never with a
traceback, and never by starting silently with no functions; a new data directory starts empty.

Each case damages a copy of a real data directory (functions, a file system) the way a disk,
an operator or a crash would, then runs ``shoal serve`` as a user does.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, SHOAL, create_function, start_server

CODE = "def handler(e, c):\n    return 'here'\n"
pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <_io.FileIO:pytest.PytestUnraisableExceptionWarning"
)


def populate(data: Path, stop: signal.Signals) -> list[str]:
    srv = start_server(data)
    try:
        lam: Any = srv.client("lambda")
        names = [create_function(lam, code=CODE) for _ in range(3)]
        for name in names:
            lam.tag_resource(
                Resource=lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"],
                Tags={"pad": "x" * 200},
            )
        srv.client("efs").create_file_system(CreationToken="damaged")  # type: ignore[attr-defined]
    finally:
        srv.stop(stop)
    return names


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A data directory after a clean stop: no write-ahead log left."""
    data = tmp_path_factory.mktemp("stopped") / "data"
    return data, populate(data, signal.SIGTERM)


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A data directory after SIGKILL: its last changes are only in the write-ahead log."""
    data = tmp_path_factory.mktemp("crashed") / "data"
    names = populate(data, signal.SIGKILL)
    assert (data / "shoal.db-wal").stat().st_size > 0
    return data, names


def copy(src: Path, dst: Path) -> Path:
    # Sparse (images are as large as the disk, mostly holes), and not into the volumes that a
    # killed server left mounted (a ballast reads as the whole disk of zeros).
    subprocess.run(["cp", "-ax", "--sparse=always", str(src), str(dst)], check=True)
    return dst


def refused(data: Path) -> str:
    """Run ``shoal serve`` and expect it to stop at once with a message."""
    proc = subprocess.run(
        [*SHOAL, "serve", "--port", "0", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Shoal listening" not in proc.stdout
    message = proc.stderr.strip()
    assert message.startswith("shoal: Shoal will not start:"), message
    assert f"shoal restore BACKUP --data-dir {data} --force" in message
    assert message.count("\n") == 0  # one paragraph
    return message


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(data)


DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "zero-length": (lambda d: (d / "shoal.db").write_bytes(b""), "is empty (0 bytes)"),
    "deleted": (lambda d: (d / "shoal.db").unlink(), "is missing"),
    "not a database": (
        lambda d: (d / "shoal.db").write_bytes(b"garbage" * 4096), "SQLite cannot"
    ),
    "a damaged page": (
        # SQLite's own words vary with what the bytes hit (malformed, integrity check...).
        lambda d: overwrite(d / "shoal.db", 4096 + 8, b"\xff" * 2048), "SQLite",
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_database_stops_the_start(
    stopped: tuple[Path, list[str]], tmp_path: Path, damage: str
) -> None:
    data = copy(stopped[0], tmp_path / "data")
    assert not (data / "shoal.db-wal").exists()
    spoil, expected = DAMAGES[damage]
    spoil(data)
    message = refused(data)
    assert expected in message, message
    if damage in ("zero-length", "deleted"):
        assert "code/" in message and "filesystems/" in message


@pytest.mark.parametrize("where", ["header", "first frame"])
def test_a_damaged_write_ahead_log_stops_the_start(
    crashed: tuple[Path, list[str]], tmp_path: Path, where: str
) -> None:
    data = copy(crashed[0], tmp_path / "data")
    wal = data / "shoal.db-wal"
    overwrite(wal, 0 if where == "header" else 32 + 24 + 100, b"\x5a" * 16)
    before = wal.read_bytes()
    assert "write-ahead log is damaged" in refused(data)
    # Refusing wrote nothing: the evidence is intact, and a second start refuses again.
    assert wal.read_bytes() == before
    refused(data)


def test_after_a_crash_an_intact_log_starts_with_everything(
    crashed: tuple[Path, list[str]], tmp_path: Path
) -> None:
    data = copy(crashed[0], tmp_path / "data")
    srv = start_server(data)
    try:
        lam: Any = srv.client("lambda")
        for name in crashed[1]:
            assert lam.invoke(FunctionName=name)["Payload"].read() == b'"here"'
    finally:
        srv.stop()


def test_a_new_data_directory_starts_empty(tmp_path: Path) -> None:
    data = tmp_path / "new"
    data.mkdir()
    (data / "logs").mkdir()  # logs alone describe nothing that metadata must hold
    srv = start_server(data)
    try:
        assert srv.client("lambda").list_functions()["Functions"] == []  # type: ignore[attr-defined]
    finally:
        srv.stop()
