"""POSIX conformance over NFSv4: exports driven through libnfs, checked on the host.

The userspace tools (nfs-cp, nfs-cat, nfs-ls) cover only copy and list, so these tests call
libnfs itself (:mod:`nfs_client`, ``libnfs.so.13`` through ctypes): open, pwrite,
pread, append, truncate, rename, unlink, mkdir/rmdir, chmod, symlink, hard link, lock
contention, a sparse file over 1 GiB and thousands of small files, each through the whole
file-system export (client identity kept) and an access-point export (everyone squashed to
1001:1001), with the result checked on the host directory the export serves.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import socket
import stat
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nfs_client import F_LOCK, F_TLOCK, F_ULOCK, NfsClient, NfsError
from shoal.filesystems.nfs import Export, GaneshaSupervisor

pytestmark = pytest.mark.nfs


@dataclass
class Mounted:
    url: str
    host: Path  # the directory this export serves
    uid: int | None  # the owner every created file gets (None: the client's own, root here)
    gid: int | None

    def client(self) -> NfsClient:
        return NfsClient(self.url)


class _LoopThread:
    """An event loop in a thread, so the supervisor's watchdog runs while the tests block."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    base = tmp_path_factory.mktemp("nfs-posix")
    root = base / "fs-posix"
    ap_root = root / "message"
    ap_root.mkdir(parents=True)
    os.chown(ap_root, 1001, 1001)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    loop = _LoopThread()
    sup = GaneshaSupervisor(base / "run")
    exports = [Export(1, str(root), "/fs-posix", None, None),
               Export(2, str(ap_root), "/fsap-posix", 1001, 1001)]  # fmt: skip
    try:
        loop.run(sup.ensure_target("fsmt-posix", "127.0.0.1", port, exports))
        yield f"nfs://127.0.0.1/{{}}?version=4&nfsport={port}", root, ap_root
    finally:
        loop.run(sup.stop())
        loop.close()


@pytest.fixture(params=["whole", "access_point"])
def mounted(request: pytest.FixtureRequest, target: tuple[str, Path, Path]) -> Mounted:
    """A fresh directory, reached through one of the two exports."""
    url, root, ap_root = target
    sub = f"t-{uuid.uuid4().hex[:8]}"
    if request.param == "whole":
        (root / sub).mkdir()
        return Mounted(url.format(f"fs-posix/{sub}"), root / sub, 0, 0)
    (ap_root / sub).mkdir()
    os.chown(ap_root / sub, 1001, 1001)
    return Mounted(url.format(f"fsap-posix/{sub}"), ap_root / sub, 1001, 1001)


@pytest.fixture
def nfs(mounted: Mounted) -> Iterator[NfsClient]:
    client = mounted.client()
    yield client
    client.close()


def owner(path: Path) -> tuple[int, int]:
    st = path.lstat()
    return st.st_uid, st.st_gid


def test_create_write_read(nfs: NfsClient, mounted: Mounted) -> None:
    nfs.write_file("/a.txt", b"hello")
    assert (mounted.host / "a.txt").read_bytes() == b"hello"
    assert owner(mounted.host / "a.txt") == (mounted.uid, mounted.gid)
    fh = nfs.open("/a.txt", os.O_RDWR)
    nfs.pwrite(fh, 5, b", world")
    assert nfs.pread(fh, 0, 64) == b"hello, world"
    nfs.close_file(fh)
    (mounted.host / "host.txt").write_bytes(b"from the host")
    assert nfs.read_file("/host.txt") == b"from the host"
    with pytest.raises(NfsError) as e:
        nfs.open("/missing", os.O_RDONLY)
    assert e.value.errno == errno.ENOENT


def test_append_and_truncate(nfs: NfsClient, mounted: Mounted) -> None:
    nfs.write_file("/log", b"one\n")
    with (mounted.host / "log").open("ab") as f:  # another writer, on the host
        f.write(b"two\n")
    nfs.write_file("/log", b"three\n", os.O_WRONLY | os.O_APPEND)
    assert (mounted.host / "log").read_bytes() == b"one\ntwo\nthree\n"
    fh = nfs.open("/log", os.O_RDWR)
    nfs.ftruncate(fh, 3)
    assert (mounted.host / "log").read_bytes() == b"one"
    nfs.ftruncate(fh, 10)
    nfs.close_file(fh)
    assert (mounted.host / "log").read_bytes() == b"one" + b"\0" * 7
    nfs.write_file("/log", b"", os.O_WRONLY | os.O_TRUNC)
    assert (mounted.host / "log").stat().st_size == 0


def test_rename_replaces_atomically_and_unlink(nfs: NfsClient, mounted: Mounted) -> None:
    nfs.write_file("/new", b"new version")
    (mounted.host / "current").write_bytes(b"old version")
    nfs.rename("/new", "/current")
    assert (mounted.host / "current").read_bytes() == b"new version"
    assert not (mounted.host / "new").exists()
    nfs.mkdir("/dir")
    nfs.write_file("/dir/f", b"x")
    nfs.rename("/dir", "/moved")
    assert (mounted.host / "moved" / "f").read_bytes() == b"x"
    nfs.unlink("/current")
    assert not (mounted.host / "current").exists()
    with pytest.raises(NfsError) as e:
        nfs.unlink("/current")
    assert e.value.errno == errno.ENOENT


def test_mkdir_rmdir(nfs: NfsClient, mounted: Mounted) -> None:
    nfs.mkdir("/d")
    assert (mounted.host / "d").is_dir()
    assert owner(mounted.host / "d") == (mounted.uid, mounted.gid)
    nfs.write_file("/d/f", b"x")
    with pytest.raises(NfsError) as e:
        nfs.rmdir("/d")
    assert e.value.errno == errno.ENOTEMPTY
    nfs.unlink("/d/f")
    nfs.rmdir("/d")
    assert not (mounted.host / "d").exists()


def test_chmod_and_permission_checks_use_the_export_identity(
    nfs: NfsClient, mounted: Mounted
) -> None:
    nfs.write_file("/p", b"secret")
    nfs.chmod("/p", 0o640)
    assert stat.S_IMODE((mounted.host / "p").stat().st_mode) == 0o640
    assert stat.S_IMODE(nfs.stat("/p").mode) == 0o640
    # A file of another user, mode 600: unreadable for the squashed 1001, readable for root.
    (mounted.host / "other").write_bytes(b"not yours")
    os.chown(mounted.host / "other", 4242, 4242)
    (mounted.host / "other").chmod(0o600)
    if mounted.uid == 0:
        assert nfs.read_file("/other") == b"not yours"
    else:
        with pytest.raises(NfsError) as e:
            nfs.open("/other", os.O_RDONLY)
        assert e.value.errno == errno.EACCES


def test_symlink_and_hard_link(nfs: NfsClient, mounted: Mounted) -> None:
    nfs.write_file("/target", b"data")
    nfs.symlink("target", "/sym")
    assert os.readlink(mounted.host / "sym") == "target"
    assert nfs.readlink("/sym") == "target"
    assert stat.S_ISLNK(nfs.stat("/sym", follow=False).mode)
    assert owner(mounted.host / "sym") == (mounted.uid, mounted.gid)
    nfs.link("/target", "/hard")
    host = mounted.host / "hard"
    assert host.stat().st_ino == (mounted.host / "target").stat().st_ino
    assert host.stat().st_nlink == 2
    assert nfs.stat("/target").nlink == 2


def test_lock_contention_between_clients_and_the_host(mounted: Mounted) -> None:
    first, second = mounted.client(), mounted.client()
    try:
        first.write_file("/lock", b"")
        fa = first.open("/lock", os.O_RDWR)
        fb = second.open("/lock", os.O_RDWR)
        # Each client locks once uncontended first: libnfs 4.0 never recovers a lock owner
        # whose very first LOCK was denied (every later attempt is denied too).
        for client, fh in ((first, fa), (second, fb)):
            client.lockf(fh, F_TLOCK, 100)
            client.lockf(fh, F_ULOCK, 100)
        first.lockf(fa, F_LOCK, 100)
        with pytest.raises(NfsError):  # another NFS client is refused
            second.lockf(fb, F_TLOCK, 100)
        with open(mounted.host / "lock", "r+b") as f:  # and so is a host process
            with pytest.raises(BlockingIOError):
                fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 100)
            first.lockf(fa, F_ULOCK, 100)
            second.lockf(fb, F_TLOCK, 100)
            with pytest.raises(BlockingIOError):
                fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 100)
            second.lockf(fb, F_ULOCK, 100)
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 100)  # the host holds it now
            with pytest.raises(NfsError):
                first.lockf(fa, F_TLOCK, 100)
            fcntl.lockf(f, fcntl.LOCK_UN, 100)
        first.lockf(fa, F_TLOCK, 100)
        first.lockf(fa, F_ULOCK, 100)
        # No CLOSE: after a denied LOCK, libnfs 4.0 sends CLOSE with a stale open seqid
        # (NFS4ERR_BAD_SEQID). Destroying the contexts ends the clients' state.
    finally:
        first.close()
        second.close()


def test_sparse_file_over_one_gib(nfs: NfsClient, mounted: Mounted) -> None:
    offset = (3 << 29) + 12345  # 1.5 GiB and a bit
    fh = nfs.open("/sparse", os.O_CREAT | os.O_RDWR)
    nfs.pwrite(fh, offset, b"end")
    assert nfs.pread(fh, offset - 2, 5) == b"\0\0end"
    nfs.close_file(fh)
    st = (mounted.host / "sparse").stat()
    assert st.st_size == offset + 3
    assert st.st_blocks * 512 < 1 << 20  # holes stay holes
    assert nfs.stat("/sparse").size == offset + 3


def test_thousands_of_small_files(nfs: NfsClient, mounted: Mounted) -> None:
    nfs.mkdir("/many")
    names = [f"f{i:05d}" for i in range(2000)]
    for name in names:
        nfs.write_file(f"/many/{name}", name.encode())
    assert sorted(os.listdir(mounted.host / "many")) == names
    assert nfs.listdir("/many") == names
    assert (mounted.host / "many" / "f01234").read_bytes() == b"f01234"
    for name in names[::2]:
        nfs.unlink(f"/many/{name}")
    assert sorted(os.listdir(mounted.host / "many")) == names[1::2]
