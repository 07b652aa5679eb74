"""NFS throughput through a mount target: plaintext against TLS (the efs-utils way), one run.

A ``--tls auto`` server, one file system, one mount target. The plaintext client is libnfs
(through ctypes) straight to the target's port; the TLS client is the same libnfs through a local
stunnel client configured as amazon-efs-utils configures its own (TLS 1.2+, ``verify = 2``),
which reaches the target's TLS terminator (stunnel in front of Ganesha). Each side copies the
same file in (write) and back out (read) ``REPEATS`` times; the median MiB/s is reported, and
TLS's ratio to plaintext. Everything runs on loopback on this machine: the cost measured is
the two extra TLS hops' CPU, with client and server sharing the cores.

    .venv/bin/python bench/nfs_tls_bench.py [--size-mib 256]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make "bench" importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from botocore.config import Config

from bench.common import KEYS, ROOT, free_port, median, table, wait_port

REPEATS = 3
READ_CHUNK = 256 << 10
# libnfs 4.0 (Debian 12's) fails to encode an NFSv4 WRITE of 4000 bytes or more ("Failed to
# encode COMPOUND4args"; nfs-cp stops there too), so writes are measured in 1000-byte WRITEs:
# a per-RPC cost, not a streaming rate.
WRITE_CHUNK = 1000
WRITE_BYTES = 4 << 20


@contextmanager
def tls_server() -> Iterator[tuple[str, Path]]:
    """A private ``shoal serve --tls auto``; yields (endpoint, its CA)."""
    with tempfile.TemporaryDirectory(prefix="shoal-bench-") as d:
        env = {**os.environ, "SHOAL_ROOT_ACCESS_KEY_ID": KEYS[0],
               "SHOAL_ROOT_SECRET_ACCESS_KEY": KEYS[1]}  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-m", "shoal", "serve", "--port", "0", "--data-dir", d,
             "--log-level", "warning", "--tls", "auto"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env,
        )  # fmt: skip
        assert proc.stdout is not None
        endpoint = None
        for line in proc.stdout:
            m = re.search(r"Shoal listening on (\S+)", line)
            if m:
                endpoint = m.group(1)
                break
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
        try:
            if endpoint is None:
                raise RuntimeError("shoal did not start")
            yield endpoint, Path(d) / "tls" / "ca.pem"
        finally:
            proc.terminate()
            proc.wait(60)


def client(endpoint: str, ca: Path, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", verify=str(ca),
        aws_access_key_id=KEYS[0], aws_secret_access_key=KEYS[1],
        config=Config(retries={"max_attempts": 0}),
    )  # fmt: skip


def mount_target(endpoint: str, ca: Path) -> tuple[str, int, int, str]:
    """(fs id, NFS port, TLS port, host path) of a new file system's available mount target."""
    import ssl
    import urllib.request

    from bench.common import signed_headers

    efs, ec2 = client(endpoint, ca, "efs"), client(endpoint, ca, "ec2")
    fs_id = efs.create_file_system(CreationToken=f"nfstls-{time.time_ns()}")["FileSystemId"]
    (subnet,) = ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}]
    )["Subnets"][:1]
    mt_id = efs.create_mount_target(FileSystemId=fs_id, SubnetId=subnet["SubnetId"])[
        "MountTargetId"
    ]
    deadline = time.monotonic() + 60
    while efs.describe_mount_targets(MountTargetId=mt_id)["MountTargets"][0][
        "LifeCycleState"
    ] != "available":
        if time.monotonic() > deadline:
            raise RuntimeError("the mount target did not become available")
        time.sleep(0.2)
    url = f"{endpoint}/shoal/fs/mount-targets/{mt_id}"
    request = urllib.request.Request(url, headers=signed_headers("GET", url, b""))
    context = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(request, context=context) as r:
        body = json.load(r)
    url = f"{endpoint}/shoal/fs/file-systems/{fs_id}/path"
    request = urllib.request.Request(url, headers=signed_headers("GET", url, b""))
    with urllib.request.urlopen(request, context=context) as r:
        path = json.load(r)["Path"]
    return fs_id, int(body["Port"]), int(body["TlsPort"]), str(path)


@contextmanager
def efs_utils_stunnel(tmp: Path, tls_port: int, ca: Path) -> Iterator[int]:
    local = free_port()
    conf = tmp / "efs-utils.conf"
    conf.write_text(
        "foreground = yes\npid =\nsyslog = no\ndebug = warning\n[efs]\nclient = yes\n"
        f"accept = 127.0.0.1:{local}\nconnect = 127.0.0.1:{tls_port}\n"
        "sslVersion = TLSv1.2\nrenegotiation = no\nTIMEOUTidle = 70\ndelay = yes\n"
        f"verify = 2\nCAfile = {ca}\ncheckHost = localhost\n"
    )
    proc = subprocess.Popen(["stunnel4", str(conf)], stderr=subprocess.DEVNULL)
    try:
        wait_port(local)
        yield local
    finally:
        proc.terminate()
        proc.wait(10)


_lib: Any = None


def _libnfs() -> Any:
    """libnfs (libnfs-utils' library) through ctypes: nfs-cp stops at the first short write."""
    global _lib
    if _lib is None:
        lib = ctypes.CDLL("libnfs.so.13", use_errno=True)
        p, s = ctypes.c_void_p, ctypes.c_char_p
        for name, res, args in (
            ("nfs_init_context", p, []), ("nfs_destroy_context", None, [p]),
            ("nfs4_set_client_name", None, [p, s]),
            ("nfs_parse_url_dir", ctypes.POINTER(_Url), [p, s]),
            ("nfs_destroy_url", None, [ctypes.POINTER(_Url)]),
            ("nfs_mount", ctypes.c_int, [p, s, s]), ("nfs_get_error", s, [p]),
            ("nfs_open2", ctypes.c_int, [p, s, ctypes.c_int, ctypes.c_int, ctypes.POINTER(p)]),
            ("nfs_close", ctypes.c_int, [p, p]),
            # libnfs 4.0's order: offset, count, buffer.
            ("nfs_pwrite", ctypes.c_int, [p, p, ctypes.c_uint64, ctypes.c_uint64, s]),
            ("nfs_pread", ctypes.c_int, [p, p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_char_p]),
        ):  # fmt: skip
            getattr(lib, name).restype, getattr(lib, name).argtypes = res, args
        _lib = lib
    return _lib


class _Url(ctypes.Structure):
    _fields_ = [("server", ctypes.c_char_p), ("path", ctypes.c_char_p), ("file", ctypes.c_char_p)]


def _transfer(dir_url: str, name: str, data: bytes | None, size: int) -> float:
    """Seconds to write ``data`` to ``name`` (or, with None, read ``size`` bytes of it)."""
    lib = _libnfs()
    ctx = lib.nfs_init_context()
    lib.nfs4_set_client_name(ctx, f"bench-{time.time_ns()}".encode())
    try:
        url = lib.nfs_parse_url_dir(ctx, dir_url.encode())
        if not url or lib.nfs_mount(ctx, url.contents.server, url.contents.path) < 0:
            raise RuntimeError(f"{dir_url}: {lib.nfs_get_error(ctx).decode()}")
        lib.nfs_destroy_url(url)
        fh = ctypes.c_void_p()
        flags = os.O_CREAT | os.O_WRONLY if data is not None else os.O_RDONLY
        if lib.nfs_open2(ctx, f"/{name}".encode(), flags, 0o644, ctypes.byref(fh)) < 0:
            raise RuntimeError(f"open {name}: {lib.nfs_get_error(ctx).decode()}")
        chunk = WRITE_CHUNK if data is not None else READ_CHUNK
        buf = ctypes.create_string_buffer(chunk)
        t0 = time.perf_counter()
        done = 0
        while done < size:
            if data is not None:
                piece = data[done : done + chunk]
                n = lib.nfs_pwrite(ctx, fh, done, len(piece), piece)
            else:
                n = lib.nfs_pread(ctx, fh, done, chunk, buf)
            if n <= 0:
                raise RuntimeError(f"{name} at {done}: {lib.nfs_get_error(ctx).decode()}")
            done += n
        lib.nfs_close(ctx, fh)  # a write's close commits it: counted
        return time.perf_counter() - t0
    finally:
        lib.nfs_destroy_context(ctx)


def copy_rates(fs_id: str, port: int, size: int) -> tuple[float, float]:
    """Median (write, read) MiB/s: WRITE_BYTES written, and the ``size`` bytes of ``big``
    (written on the host) read."""
    url = f"nfs://127.0.0.1/{fs_id}?version=4&nfsport={port}"
    data = os.urandom(WRITE_BYTES)
    writes, reads = [], []
    for i in range(REPEATS):  # a new file each time (libnfs's O_CREAT is exclusive)
        writes.append(WRITE_BYTES / 2**20 / _transfer(url, f"w-{port}-{i}", data, WRITE_BYTES))
        reads.append(size / 2**20 / _transfer(url, "big", None, size))
    return median(writes), median(reads)


def run(size_mib: int = 256) -> str:
    with tls_server() as (endpoint, ca), tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        fs_id, port, tls_port, path = mount_target(endpoint, ca)
        with open(Path(path) / "big", "wb") as f:
            for _ in range(size_mib):
                f.write(os.urandom(1 << 20))
        plain = copy_rates(fs_id, port, size_mib << 20)
        with efs_utils_stunnel(tmp, tls_port, ca) as local:
            secure = copy_rates(fs_id, local, size_mib << 20)
    rows = [
        (what, f"{s:.1f} MiB/s (TLS)", f"{p:.1f} MiB/s (plaintext)", f"{s / p:.2f}×",
         "measured")
        for what, s, p in (
            (f"write {WRITE_BYTES >> 20} MiB in {WRITE_CHUNK}-byte WRITEs", secure[0], plain[0]),
            (f"read {size_mib} MiB in {READ_CHUNK >> 10} KiB READs", secure[1], plain[1]),
        )
    ]  # fmt: skip
    return table("NFS through a mount target: TLS (efs-utils' stunnel) vs plaintext", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    print(run(parser.parse_args().size_mib))
