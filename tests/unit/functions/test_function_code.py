"""Deployment packages: hostile zips are refused and nothing lands outside the code tree."""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from shoal.functions import code
from shoal.functions.code import UNZIP_MESSAGE, CodeStore, InvalidZip


def build(entries: list[tuple[str, bytes, int]], rename: dict[bytes, bytes] | None = None) -> bytes:
    """A zip of (name, data, unix mode) entries; ``rename`` patches names in the raw bytes so
    that hostile names reach the archive exactly as written (no library sanitising)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    raw = buf.getvalue()
    for old, new in (rename or {}).items():
        assert len(old) == len(new)
        raw = raw.replace(old, new)
    return raw


FILE = stat.S_IFREG | 0o644
LINK = stat.S_IFLNK | 0o777


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def store(tmp_path: Path) -> CodeStore:
    return CodeStore(tmp_path / "code")


def refuse_everywhere(store: CodeStore, tmp_path: Path, data: bytes) -> str:
    """Both the upload check and the extraction refuse ``data``; nothing is written outside."""
    before = snapshot(tmp_path)
    with pytest.raises(InvalidZip) as e:
        store.save(data)
    assert snapshot(tmp_path) == before
    # unpack() must refuse on its own too (it never trusts that save() ran).
    hexdigest = code.digest(data)[1]
    store.zip_path(hexdigest).write_bytes(data)
    with pytest.raises(InvalidZip):
        store.unpack(hexdigest)
    assert not store.tree(hexdigest).exists()
    after = snapshot(tmp_path) - {str(store.zip_path(hexdigest).relative_to(tmp_path))}
    assert after == before, "something was written by a refused package"
    return str(e.value)


def test_a_good_package_is_stored_once_and_unpacked_read_only(store: CodeStore) -> None:
    data = build(
        [
            ("app.py", b"def handler(e, c):\n    return 1\n", FILE),
            ("bin/tool", b"#!/bin/sh\n", stat.S_IFREG | 0o755),
            ("pkg/", b"", stat.S_IFDIR | 0o700),
            ("pkg/lib.so.1", b"ELF", FILE),
            ("pkg/lib.so", b"lib.so.1", LINK),
        ]
    )
    package = store.save(data)
    assert package.size == len(data)
    assert (package.sha256, package.hex) == code.digest(data)
    assert store.save(data) == package  # idempotent
    tree = store.unpack(package.hex)
    assert store.unpack(package.hex) == tree
    assert (tree / "app.py").read_text().startswith("def handler")
    assert os.readlink(tree / "pkg" / "lib.so") == "lib.so.1"
    assert (tree / "pkg" / "lib.so").read_bytes() == b"ELF"
    assert stat.S_IMODE((tree / "app.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((tree / "bin" / "tool").stat().st_mode) == 0o755
    for d in (tree, tree / "pkg", tree / "bin"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o755
    if os.geteuid() == 0:
        assert (tree / "app.py").stat().st_uid == 0
    # The stored zip and the store are root's alone; the tree stays readable for /var/task.
    assert stat.S_IMODE(store.zip_path(package.hex).stat().st_mode) == 0o600
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    # No temporary directory is left next to the tree.
    assert sorted(p.name for p in store.root.iterdir()) == sorted(
        [package.hex, package.hex + ".zip"]
    )


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x03\x04" + b"\0" * 40])
def test_corrupt_packages_are_refused(store: CodeStore, tmp_path: Path, data: bytes) -> None:
    assert refuse_everywhere(store, tmp_path, data) == UNZIP_MESSAGE


def test_truncated_package_is_refused(store: CodeStore, tmp_path: Path) -> None:
    data = build([("app.py", os.urandom(5000), FILE)])
    refuse_everywhere(store, tmp_path, data[: len(data) // 2])


@pytest.mark.parametrize(
    ("placeholder", "hostile"),
    [
        (b"xx/evil.txt", b"../evil.txt"),
        (b"a/xx/xx/evil.txt", b"a/../../evil.txt"),
        (b"Xtmp/evil.txt", b"/tmp/evil.txt"),
    ],
)
def test_zip_slip_is_refused_before_anything_is_written(
    store: CodeStore, tmp_path: Path, placeholder: bytes, hostile: bytes
) -> None:
    data = build(
        [("ok.py", b"x", FILE), (placeholder.decode(), b"pwned", FILE)], {placeholder: hostile}
    )
    assert hostile.decode() in [i.filename for i in zipfile.ZipFile(io.BytesIO(data)).infolist()]
    message = refuse_everywhere(store, tmp_path, data)
    assert message.startswith(UNZIP_MESSAGE)
    assert not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/evil.txt").exists() or Path("/tmp/evil.txt").read_bytes() != b"pwned"


@pytest.mark.parametrize("target", [b"../../../etc", b"/etc/passwd", b"a/../../x"])
def test_symlink_pointing_outside_is_refused(
    store: CodeStore, tmp_path: Path, target: bytes
) -> None:
    message = refuse_everywhere(store, tmp_path, build([("link", target, LINK)]))
    assert "link" in message


def test_symlink_chain_leaving_the_tree_is_refused(store: CodeStore, tmp_path: Path) -> None:
    # Each link alone stays inside ("s" is the tree itself, "s/.." looks like "."), but
    # followed together "up" resolves to the tree's parent.
    data = build([("s", b".", LINK), ("up", b"s/..", LINK)])
    refuse_everywhere(store, tmp_path, data)


def test_file_written_through_a_symlink_is_refused(store: CodeStore, tmp_path: Path) -> None:
    # A link named like a directory, then a file under it: the file can never follow the link.
    data = build([("dir", b"sub", LINK), ("dir/x.py", b"x", FILE), ("sub/", b"", stat.S_IFDIR)])
    refuse_everywhere(store, tmp_path, data)


def _patch_sizes(data: bytes, size: int) -> bytes:
    """Rewrite every entry's declared uncompressed size (local and central headers)."""
    raw = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (i := raw.find(signature, start)) >= 0:
            struct.pack_into("<I", raw, i + offset, size)
            start = i + 4
    return bytes(raw)


def test_declared_unzipped_size_over_the_quota_is_refused(store: CodeStore, tmp_path: Path) -> None:
    data = _patch_sizes(build([("big.bin", b"\0" * 1000, FILE)]), code.MAX_UNZIPPED + 1)
    message = refuse_everywhere(store, tmp_path, data)
    assert message == "Unzipped size must be smaller than 262144000 bytes"


def test_headers_that_lie_about_size_are_refused(store: CodeStore, tmp_path: Path) -> None:
    # The header says 10 bytes; the stream inflates to a megabyte.
    data = _patch_sizes(build([("bomb.bin", b"\0" * (1 << 20), FILE)]), 10)
    package = store.save(data)  # the headers look fine...
    with pytest.raises(InvalidZip):  # ...but extraction does not believe them
        store.unpack(package.hex)
    assert not store.tree(package.hex).exists()
    assert sorted(p.name for p in store.root.iterdir()) == [package.hex + ".zip"]


def test_unzipped_size_is_measured_while_extracting(tmp_path: Path) -> None:
    data = build([(f"f{i}", b"\0" * 1000, FILE) for i in range(3)])
    zip_path = tmp_path / "p.zip"
    zip_path.write_bytes(data)
    target = tmp_path / "tree"
    with pytest.raises(InvalidZip) as e:
        code.unpack(zip_path, target, limit=2500)
    assert "Unzipped size must be smaller than" in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.zip"]
    code.unpack(zip_path, target, limit=3000)
    assert len(list(target.iterdir())) == 3


def test_too_many_entries_are_refused(
    store: CodeStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(code, "MAX_ENTRIES", 5)
    data = build([(f"f{i}", b"x", FILE) for i in range(6)])
    assert "6 entries" in refuse_everywhere(store, tmp_path, data)


def test_download_app_serves_only_stored_zips(store: CodeStore) -> None:
    import asyncio

    data = build([("app.py", b"x", FILE)])
    package = store.save(data)
    app = store.download_app()

    async def get(path: str) -> tuple[int, bytes]:
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        await app({"type": "http", "method": "GET", "path": path}, None, send)
        return sent[0]["status"], sent[1]["body"]

    assert asyncio.run(get(f"/shoal/code/{package.hex}.zip")) == (200, data)
    assert asyncio.run(get("/shoal/code/../../shoal.db"))[0] == 404
    assert asyncio.run(get(f"/shoal/code/{'0' * 64}.zip"))[0] == 404
