"""File-system throughput and metadata operations inside a function vs on the host directory.

One run, same machine, same directory tree (the access point's root on the data disk):

- sequential write (fsync'd) then read (cache dropped for the file) of 1 GiB;
- create + stat + unlink of 10,000 small files;
- flock-protected appends (open, lock, write a line, unlock, close) from 8 concurrent
  execution environments vs 8 host processes; every line is counted afterwards (none lost).

Each side times its own operations, so invoke overhead is not in the figures; the appends'
figure is the makespan from the first worker's start to the last one's end.

    .venv/bin/python bench/fs_bench.py [--endpoint URL] [--size-mib 1024] [--files 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make "bench" importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from botocore.config import Config

from bench.common import median, shoal_server, table, urlopen

HERE = Path(__file__).resolve().parent
WORKERS = 8
APPENDS = 2000
REPEATS = 4
UID = 1001
# The page cache a function dirties is charged to its memory cgroup: with less memory than
# the data written, writeback throttling (not the file system) sets the write speed.
MEMORY_MB = 4096
RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def _zip() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(HERE / "fs_work.py", "fs_work.py")
    return buf.getvalue()


class Setup:
    """A file system, an access point (uid 1001), and a function mounting it at /mnt/fs.
    Elastic throughput by default: the comparison with the host directory is of the data path,
    with no throughput limit (bursting would hold it to 100 MiB/s)."""

    def __init__(self, endpoint: str, memory_mb: int = 1024, encrypted: bool = False,
                 throughput_mode: str = "elastic") -> None:  # fmt: skip
        kw: dict[str, Any] = dict(
            endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="shoal",
            aws_secret_access_key="shoal",
            config=Config(read_timeout=900, retries={"max_attempts": 0},
                          max_pool_connections=32),
        )  # fmt: skip
        self.efs = boto3.client("efs", **kw)
        self.lam = boto3.client("lambda", **kw)
        self.endpoint = endpoint
        self.fs_id = self.efs.create_file_system(
            CreationToken=uuid.uuid4().hex, Encrypted=encrypted, ThroughputMode=throughput_mode
        )["FileSystemId"]
        ap = self.efs.create_access_point(
            FileSystemId=self.fs_id, PosixUser={"Uid": UID, "Gid": UID},
            RootDirectory={"Path": "/bench", "CreationInfo": {
                "OwnerUid": UID, "OwnerGid": UID, "Permissions": "755"}},
        )  # fmt: skip
        self.name = f"fsbench-{uuid.uuid4().hex[:8]}"
        self.lam.create_function(
            FunctionName=self.name, Runtime=RUNTIME,
            Role="arn:aws:iam::123456789012:role/lambda-role", Handler="fs_work.handler",
            Code={"ZipFile": _zip()}, Timeout=900, MemorySize=memory_mb,
            FileSystemConfigs=[{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/fs"}],
        )  # fmt: skip
        self.lam.get_waiter("function_active_v2").wait(
            FunctionName=self.name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 600}
        )
        self.invoke({"op": "ping"})  # first mount: creates the access point root
        url = f"{endpoint}/shoal/fs/access-points/{ap['AccessPointId']}/path"
        with urlopen(url, method="POST") as resp:
            self.host_dir = json.load(resp)["Path"]

    def invoke(self, event: dict[str, Any]) -> Any:
        r = self.lam.invoke(FunctionName=self.name, Payload=json.dumps(event).encode())
        body = json.loads(r["Payload"].read())
        if "FunctionError" in r:
            raise RuntimeError(f"benchmark function failed: {body}")
        return body


def host_disk(path: str) -> str:
    """The nearest parent of ``path`` on another device: the host directory holding the file
    system's volume (a file system is a loop-backed ext4 of its own)."""
    dev = os.stat(path).st_dev
    while os.stat(path).st_dev == dev and path != "/":
        path = os.path.dirname(path)
    return path


@contextlib.contextmanager
def host_dir(base: str) -> Iterator[str]:
    """A fresh directory on the host disk that holds the file system's volume."""
    d = tempfile.mkdtemp(prefix="host-", dir=host_disk(base))
    try:
        yield d
    finally:
        subprocess.run(["rm", "-rf", d], check=False)


def host_python() -> str:
    """The interpreter the function's runtime uses: the host side must run the same one (two
    builds of one Python version can differ several-fold on this workload)."""
    from shoal.sandbox.runtimes import discover

    return discover().get(RUNTIME, sys.executable)


def host_work(*argv: str) -> Any:
    out = subprocess.run([host_python(), str(HERE / "fs_work.py"), *argv], check=True,
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    return json.loads(out.stdout)


def appends_host(path: str) -> float:
    go = str(time.time() + 3.0)  # after every worker's interpreter start-up
    procs = [subprocess.Popen([host_python(), str(HERE / "fs_work.py"), "append", path,
                               f"host{i}", str(APPENDS), go], stdout=subprocess.PIPE, text=True)
             for i in range(WORKERS)]  # fmt: skip
    spans = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
    return max(s["end"] for s in spans) - min(s["start"] for s in spans)


def appends_functions(setup: Setup) -> float:
    with ThreadPoolExecutor(WORKERS) as pool:
        # Warm WORKERS environments first, so the measured round has no cold start.
        list(pool.map(lambda _: setup.invoke({"op": "append", "who": "warm", "n": 1}),
                      range(WORKERS)))  # fmt: skip
        os.unlink(os.path.join(setup.host_dir, "wall"))
        go = time.time() + 1.0
        spans = list(pool.map(lambda i: setup.invoke(
            {"op": "append", "who": f"env{i}", "n": APPENDS, "go": go}),
            range(WORKERS)))  # fmt: skip
    return max(s["end"] for s in spans) - min(s["start"] for s in spans)


def count_lines(path: str, prefix: str) -> tuple[int, int]:
    """(lines, whole lines written by the workers with this prefix, in order per worker)."""
    lines = Path(path).read_text().splitlines()
    ok = 0
    for i in range(WORKERS):
        mine = [ln.split()[1] for ln in lines if ln.startswith(f"{prefix}{i} ")]
        ok += sum(1 for j, n in enumerate(mine) if n == f"{j:06d}")
    os.unlink(path)
    return len(lines), ok


def read_requests(path: str) -> tuple[int, int]:
    """(read requests completed, bytes read) so far by the block device holding ``path``."""
    dev = os.stat(path).st_dev
    fields = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/stat").read_text().split()
    return int(fields[0]), int(fields[2]) * 512


def measure(setup: Setup, size: int, files: int) -> dict[str, tuple[float, ...]]:
    """Medians of each operation: (in the function, on the host directory), and for the
    sequential pair also a host process on the volume (the same data path as the function,
    without the sandbox) and the mean read request each block device saw (volume, host)."""
    fn: dict[str, list[float]] = {"write": [], "read": [], "small": []}
    host: dict[str, list[float]] = {"write": [], "read": [], "small": [], "rq": []}
    vol: dict[str, list[float]] = {"write": [], "read": [], "rq": []}
    base = str(Path(setup.host_dir).parent)

    def seq_counted(d: str, into: dict[str, list[float]]) -> None:
        """The sequential pair by a host process in ``d``, with the mean read request the
        block device under ``d`` saw meanwhile."""
        before = read_requests(d)
        out = host_work("seq", d, str(size))
        after = read_requests(d)
        into["write"].append(out["write"])
        into["read"].append(out["read"])
        into["rq"].append((after[1] - before[1]) / max(1, after[0] - before[0]))

    def on_function() -> None:
        out = setup.invoke({"op": "seq", "size": size})
        fn["write"].append(out["write"])
        fn["read"].append(out["read"])
        fn["small"].append(setup.invoke({"op": "small", "n": files})["seconds"])

    def on_host() -> None:
        with host_dir(base) as d:
            seq_counted(d, host)
        with host_dir(base) as d:
            host["small"].append(host_work("small", d, str(files))["seconds"])

    def on_volume() -> None:
        d = os.path.join(setup.host_dir, "host-side")
        os.makedirs(d, exist_ok=True)
        seq_counted(d, vol)

    # The first large write of a run pays for reclaiming page cache, whoever does it: one
    # untimed round each, then alternate who goes first so neither side inherits the other's
    # freed memory more often.
    on_function()
    on_host()
    for k in (*fn.values(), *host.values()):
        k.clear()
    for i in range(REPEATS):
        for side in (on_function, on_host) if i % 2 == 0 else (on_host, on_function):
            side()
    for _ in range(REPEATS // 2):
        on_volume()
    out: dict[str, tuple[float, ...]] = {k: (median(fn[k]), median(host[k])) for k in fn}
    out["volume"] = (*(median(vol[k]) for k in ("write", "read", "rq")), median(host["rq"]))
    return out


def create_ms(setup: Setup, encrypted: bool, n: int = 5) -> float:
    """Median CreateFileSystem latency: the volume's mkfs + losetup + mount (and key), each
    file system deleted again."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fs_id = setup.efs.create_file_system(CreationToken=uuid.uuid4().hex,
                                             Encrypted=encrypted)["FileSystemId"]  # fmt: skip
        times.append((time.perf_counter() - t0) * 1000)
        setup.efs.delete_file_system(FileSystemId=fs_id)
    return median(times)


def run(endpoint: str | None = None, size_mib: int = 1024, files: int = 10_000,
        memory_mb: int = MEMORY_MB) -> str:  # fmt: skip
    with contextlib.ExitStack() as stack:
        if endpoint is None:
            endpoint = stack.enter_context(shoal_server())
        setup = Setup(endpoint, memory_mb)
        size = size_mib << 20
        m = measure(setup, size, files)
        fn_append = appends_functions(setup)
        fn_lines = count_lines(os.path.join(setup.host_dir, "wall"), "env")
        with host_dir(str(Path(setup.host_dir).parent)) as d:
            host_append = appends_host(os.path.join(d, "wall"))
            host_lines = count_lines(os.path.join(d, "wall"), "host")
        create = create_ms(setup, False), create_ms(setup, True)
    mib = size / (1 << 20)
    total = WORKERS * APPENDS
    v = m["volume"]
    rows = [
        (f"sequential write {size_mib} MiB + fsync (MiB/s)", f"{mib / m['write'][0]:.0f}",
         f"{mib / m['write'][1]:.0f}", f"{m['write'][1] / m['write'][0]:.2f}×", "≥ 0.95×"),
        (f"sequential read {size_mib} MiB (MiB/s)", f"{mib / m['read'][0]:.0f}",
         f"{mib / m['read'][1]:.0f}", f"{m['read'][1] / m['read'][0]:.2f}×", "≥ 0.95×"),
        (f"create+stat+unlink {files} files (ops/s)", f"{3 * files / m['small'][0]:.0f}",
         f"{3 * files / m['small'][1]:.0f}", f"{m['small'][1] / m['small'][0]:.2f}×", "≥ 0.95×"),
        (f"flock appends, {WORKERS}×{APPENDS} lines (lines/s)", f"{total / fn_append:.0f}",
         f"{total / host_append:.0f}", f"{host_append / fn_append:.2f}×", "≥ 0.9×"),
        ("appended lines intact / written (functions; host)",
         f"{fn_lines[1]}/{total} (of {fn_lines[0]})",
         f"{host_lines[1]}/{total} (of {host_lines[0]})",
         "none lost" if fn_lines == (total, total) and host_lines == (total, total) else "LOST",
         "none lost"),
        ("the same by a host process on the volume (no sandbox): write / read (MiB/s)",
         f"{mib / v[0]:.0f} / {mib / v[1]:.0f}", f"{mib / m['write'][1]:.0f} / "
         f"{mib / m['read'][1]:.0f}", f"{m['write'][1] / v[0]:.2f}× / {m['read'][1] / v[1]:.2f}×",
         ""),
        ("mean read request the block device saw: loop / host disk (KiB)",
         f"{v[2] / 1024:.0f}", f"{v[3] / 1024:.0f}", "", ""),
        ("CreateFileSystem (mkfs + losetup + mount), plain / encrypted, median (ms)",
         f"{create[0]:.0f} / {create[1]:.0f}", "", "", ""),
    ]  # fmt: skip
    title = f"File system: inside a function ({memory_mb} MB) vs the host directory"
    return table(title, rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="a running Shoal on this host (default: start one)")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--memory", type=int, default=MEMORY_MB,
                        help=f"the function's memory size in MB (default {MEMORY_MB})")  # fmt: skip
    args = parser.parse_args()
    print(run(args.endpoint, args.size_mib, args.files, args.memory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
