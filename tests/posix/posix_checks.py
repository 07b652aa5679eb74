"""The shared POSIX conformance checks: one function per behaviour, each taking a directory.

Standard library only, no pytest: the same file runs inside a function (shipped in its zip),
on the host through ``shoal fs mount``, and against any other way in. Each check works in its
own fresh subdirectory of the given one, raises AssertionError (or OSError) when the file system
misbehaves, and cleans up after itself. :func:`run_all` runs them and reports by name.

Lock contention is checked against a forked child (the lock owner is a different process, as
two environments are), so it holds for flock (per open file) and fcntl (per process) locks.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat
import time
import uuid
from collections.abc import Callable

SPARSE_SIZE = (1 << 30) + (256 << 20)  # 1.25 GiB: over the 1 GiB mark
SMALL_FILES = 3000


def _work(base: str, name: str) -> str:
    path = os.path.join(base, f"posix-{name}-{uuid.uuid4().hex[:8]}")
    os.mkdir(path)
    return path


def check_create_write_read(d: str) -> None:
    p = os.path.join(d, "f")
    data = os.urandom(300_000)
    fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        assert os.write(fd, data) == len(data)
    finally:
        os.close(fd)
    try:
        os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        pass
    else:
        raise AssertionError("O_EXCL create of an existing file succeeded")
    with open(p, "rb") as f:
        assert f.read() == data
    assert os.stat(p).st_size == len(data)
    assert stat.S_IMODE(os.stat(p).st_mode) & 0o600 == 0o600


def check_append(d: str) -> None:
    p = os.path.join(d, "log")
    for i in range(50):
        with open(p, "a") as f:
            f.write(f"line {i}\n")
    with open(p) as f:
        assert f.read().splitlines() == [f"line {i}" for i in range(50)]
    # O_APPEND writes go to the end whatever the offset.
    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b"end\n")
    finally:
        os.close(fd)
    with open(p) as f:
        assert f.read().splitlines()[-1] == "end"


def check_truncate(d: str) -> None:
    p = os.path.join(d, "t")
    with open(p, "wb") as f:
        f.write(b"x" * 10_000)
    os.truncate(p, 100)
    assert os.stat(p).st_size == 100
    with open(p, "r+b") as f:
        f.truncate(5000)
        f.seek(0)
        data = f.read()
    assert data[:100] == b"x" * 100 and data[100:] == b"\0" * 4900
    with open(p, "w"):
        pass
    assert os.stat(p).st_size == 0


def check_rename(d: str) -> None:
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    with open(a, "w") as f:
        f.write("A")
    with open(b, "w") as f:
        f.write("B")
    os.rename(a, b)  # replaces atomically
    assert not os.path.exists(a)
    with open(b) as f:
        assert f.read() == "A"
    os.mkdir(os.path.join(d, "dir"))
    with open(os.path.join(d, "dir", "inner"), "w") as f:
        f.write("in")
    os.rename(os.path.join(d, "dir"), os.path.join(d, "moved"))
    with open(os.path.join(d, "moved", "inner")) as f:
        assert f.read() == "in"
    os.mkdir(os.path.join(d, "full"))
    with open(os.path.join(d, "full", "x"), "w"):
        pass
    try:
        os.rename(os.path.join(d, "moved"), os.path.join(d, "full"))
    except OSError as e:
        assert e.errno in (errno.ENOTEMPTY, errno.EEXIST), e
    else:
        raise AssertionError("rename over a non-empty directory succeeded")


def check_unlink(d: str) -> None:
    p = os.path.join(d, "u")
    with open(p, "w") as f:
        f.write("data")
    f = open(p)
    try:
        os.unlink(p)
        assert not os.path.exists(p)
        assert f.read() == "data"  # an open file outlives its name
    finally:
        f.close()
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass
    else:
        raise AssertionError("unlink of a missing file succeeded")


def check_mkdir_rmdir(d: str) -> None:
    p = os.path.join(d, "a", "b", "c")
    os.makedirs(p)
    assert os.path.isdir(p)
    try:
        os.rmdir(os.path.join(d, "a"))
    except OSError as e:
        assert e.errno in (errno.ENOTEMPTY, errno.EEXIST), e
    else:
        raise AssertionError("rmdir of a non-empty directory succeeded")
    os.rmdir(p)
    os.rmdir(os.path.join(d, "a", "b"))
    os.rmdir(os.path.join(d, "a"))
    assert os.listdir(d) == []
    try:
        os.mkdir(d)
    except FileExistsError:
        pass
    else:
        raise AssertionError("mkdir of an existing directory succeeded")


def check_chmod(d: str) -> None:
    p = os.path.join(d, "m")
    with open(p, "w"):
        pass
    for mode in (0o600, 0o640, 0o755, 0o444):
        os.chmod(p, mode)
        assert stat.S_IMODE(os.stat(p).st_mode) == mode
    os.mkdir(os.path.join(d, "sub"), 0o700)
    os.chmod(os.path.join(d, "sub"), 0o2750)
    assert stat.S_IMODE(os.stat(os.path.join(d, "sub")).st_mode) == 0o2750


def check_symlink(d: str) -> None:
    target = os.path.join(d, "target")
    with open(target, "w") as f:
        f.write("t")
    link = os.path.join(d, "link")
    os.symlink("target", link)
    assert os.readlink(link) == "target"
    assert os.path.islink(link) and stat.S_ISLNK(os.lstat(link).st_mode)
    with open(link) as f:
        assert f.read() == "t"
    os.symlink("missing", os.path.join(d, "dangling"))
    assert not os.path.exists(os.path.join(d, "dangling"))
    assert os.path.lexists(os.path.join(d, "dangling"))


def check_hard_link(d: str) -> None:
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    with open(a, "w") as f:
        f.write("1")
    os.link(a, b)
    assert os.stat(a).st_ino == os.stat(b).st_ino and os.stat(a).st_nlink == 2
    with open(b, "a") as f:
        f.write("2")
    with open(a) as f:
        assert f.read() == "12"
    os.unlink(a)
    assert os.stat(b).st_nlink == 1


def _child_tries(lock: Callable[[int], None], path: str) -> bool:
    """True when a forked child could take the lock (a different process, like another env)."""
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            fd = os.open(path, os.O_RDWR)
            try:
                lock(fd)
                code = 0
            except OSError as e:
                code = 1 if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, 1), f"lock attempt failed unexpectedly (code {code})"
    return code == 0


def check_flock_contention(d: str) -> None:
    p = os.path.join(d, "lock")
    with open(p, "w"):
        pass
    fd = os.open(p, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert not _child_tries(lambda f: fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB), p)
        fcntl.flock(fd, fcntl.LOCK_SH)  # downgrade: shared locks coexist
        assert _child_tries(lambda f: fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB), p)
        assert not _child_tries(lambda f: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB), p)
        fcntl.flock(fd, fcntl.LOCK_UN)
        assert _child_tries(lambda f: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB), p)
    finally:
        os.close(fd)


def check_fcntl_contention(d: str) -> None:
    p = os.path.join(d, "lockf")
    with open(p, "wb") as f:
        f.write(b"\0" * 100)
    fd = os.open(p, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)  # bytes 0-9
        assert not _child_tries(lambda f: fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 5), p)
        assert _child_tries(lambda f: fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 50), p)
        fcntl.lockf(fd, fcntl.LOCK_UN, 10, 0)
        assert _child_tries(lambda f: fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB), p)
    finally:
        os.close(fd)


def check_sparse_file(d: str) -> None:
    p = os.path.join(d, "sparse")
    with open(p, "wb") as f:
        f.seek(SPARSE_SIZE - 4)
        f.write(b"tail")
    st = os.stat(p)
    assert st.st_size == SPARSE_SIZE
    assert st.st_blocks * 512 < 16 << 20, f"a sparse file uses {st.st_blocks * 512} bytes"
    with open(p, "rb") as f:
        f.seek(1 << 30)
        assert f.read(4096) == b"\0" * 4096
        f.seek(SPARSE_SIZE - 4)
        assert f.read() == b"tail"


def check_many_small_files(d: str) -> None:
    for i in range(SMALL_FILES):
        with open(os.path.join(d, f"f{i:05d}"), "w") as f:
            f.write(str(i))
    names = sorted(os.listdir(d))
    assert names == [f"f{i:05d}" for i in range(SMALL_FILES)]
    for i in range(0, SMALL_FILES, 97):
        with open(os.path.join(d, f"f{i:05d}")) as f:
            assert f.read() == str(i)
    for name in names:
        os.unlink(os.path.join(d, name))
    assert os.listdir(d) == []


def check_mtime_and_fsync(d: str) -> None:
    p = os.path.join(d, "t")
    with open(p, "w") as f:
        f.write("a")
        f.flush()
        os.fsync(f.fileno())
    os.utime(p, (1_000_000_000, 1_000_000_000))
    assert int(os.stat(p).st_mtime) == 1_000_000_000
    before = time.time() - 5
    with open(p, "a") as f:
        f.write("b")
    assert os.stat(p).st_mtime >= before


CHECKS: dict[str, Callable[[str], None]] = {
    name.removeprefix("check_"): fn
    for name, fn in sorted(globals().items())
    if name.startswith("check_") and callable(fn)
}


def run(name: str, base: str) -> None:
    """Run one check in a fresh subdirectory of ``base``, removed afterwards."""
    work = _work(base, name)
    try:
        CHECKS[name](work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_all(base: str, only: list[str] | None = None) -> dict[str, str]:
    """``{check: "ok" | "<Exception>: message"}`` for every check (or those in ``only``)."""
    results = {}
    for name in only or list(CHECKS):
        try:
            run(name, base)
            results[name] = "ok"
        except Exception as e:  # reported, not raised: the caller sees every failure at once
            results[name] = f"{type(e).__name__}: {e}"
    return results
