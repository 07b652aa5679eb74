"""The file-system benchmark's workload: the same code runs inside a function (shipped in its
zip as ``fs_work.py``) and on the host, so the two sides differ only in how they reach the
directory. Standard library only. Each operation times itself and returns seconds."""

from __future__ import annotations

import fcntl
import os
import sys
import time

CHUNK = 1 << 20


def seq_write(d: str, size: int) -> float:
    buf = os.urandom(CHUNK)
    path = os.path.join(d, "seq.bin")
    t0 = time.perf_counter()
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        for _ in range(size // CHUNK):
            os.write(fd, buf)
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - t0


def seq_read(d: str) -> float:
    path = os.path.join(d, "seq.bin")
    fd = os.open(path, os.O_RDONLY)
    try:
        # Drop this file's (clean) cached pages so the read measures the same path each side.
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        t0 = time.perf_counter()
        while os.read(fd, CHUNK):
            pass
        elapsed = time.perf_counter() - t0
    finally:
        os.close(fd)
    os.unlink(path)
    return elapsed


def small_files(d: str, n: int) -> float:
    work = os.path.join(d, f"small-{os.getpid()}")
    os.mkdir(work)
    names = [os.path.join(work, f"f{i:05d}") for i in range(n)]
    t0 = time.perf_counter()
    for name in names:
        fd = os.open(name, os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"x" * 100)
        os.close(fd)
    for name in names:
        os.stat(name)
    for name in names:
        os.unlink(name)
    elapsed = time.perf_counter() - t0
    os.rmdir(work)
    return elapsed


def locked_appends(path: str, who: str, n: int, go: float = 0.0) -> tuple[float, float]:
    """Append ``n`` lines under flock, opening the file each time (the MessageWall pattern),
    starting at wall-clock time ``go`` (so every worker starts together, whatever its own
    start-up cost); returns (start, end) so a run's makespan spans all workers."""
    while time.time() < go:
        time.sleep(0.001)
    start = time.time()
    for i in range(n):
        with open(path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(f"{who} {i:06d} {'m' * 64}\n")
            fcntl.flock(f, fcntl.LOCK_UN)
    return start, time.time()


def handler(event: dict, context: object) -> dict:  # the function's entry point
    op, d = event["op"], event.get("dir", "/mnt/fs")
    if op == "seq":
        return {"write": seq_write(d, event["size"]), "read": seq_read(d)}
    if op == "small":
        return {"seconds": small_files(d, event["n"])}
    if op == "append":
        start, end = locked_appends(
            os.path.join(d, "wall"), event["who"], event["n"], event.get("go", 0.0)
        )
        return {"start": start, "end": end}
    return {"pong": True}


def main(argv: list[str]) -> None:
    """The host side: ``fs_work.py seq DIR SIZE | small DIR N | append PATH WHO N GO``; prints
    the same JSON the function returns."""
    import json

    op = argv[0]
    if op == "seq":
        out = {"write": seq_write(argv[1], int(argv[2])), "read": seq_read(argv[1])}
    elif op == "small":
        out = {"seconds": small_files(argv[1], int(argv[2]))}
    else:
        start, end = locked_appends(argv[1], argv[2], int(argv[3]), float(argv[4]))
        out = {"start": start, "end": end}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
