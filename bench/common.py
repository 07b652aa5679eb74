"""Shared benchmark harness: a keep-alive HTTP load generator, a bare uvicorn baseline,
a private Shoal server, and table printing.

The load generator is asyncio over raw sockets (one connection per client, HTTP/1.1
keep-alive), light enough that on a 2-core machine it measures the server, not itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


Step = tuple[str, bytes]  # (method, body) of one request in a cycle

# The benchmark servers' root keys: every API request is signed, as a client signs it.
KEYS = ("shoal", "shoal")  # the tests' (conftest.ROOT_KEYS), so their helpers work here too


def signed_headers(method: str, url: str, body: bytes) -> dict[str, str]:
    """The SigV4 headers boto3 would add to this request, for Shoal's API paths (Lambda's
    ``/20YY-MM-DD/…``, Shoal's ``/shoal/…``); none for anything else (an HTTP API route, a
    baseline server), which is not signed."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    path = urlsplit(url).path
    if path.startswith("/shoal/"):
        service = "shoal"
    elif path.startswith("/20") and not path.startswith("/2015-02-01/"):
        service = "lambda"
    else:
        return {}
    request = AWSRequest(method, url, data=body)
    SigV4Auth(Credentials(*KEYS), service, "us-east-1").add_auth(request)
    return {k: v for k, v in request.headers.items() if k.lower() != "host"}


def urlopen(url: str, body: bytes | None = None, method: str = "GET", timeout: float = 300,
            headers: dict[str, str] | None = None) -> Any:  # fmt: skip
    """``urllib.request.urlopen`` of a Shoal API path, signed (:func:`signed_headers`)."""
    import urllib.request

    given = {**(headers or {}), **signed_headers(method, url, body or b"")}
    request = urllib.request.Request(url, data=body, headers=given, method=method)
    return urllib.request.urlopen(request, timeout=timeout)


async def _client(
    url: str,
    steps: list[Step],
    headers: dict[str, str],
    stop_at: float,
    out: list[float],
    errors: list[int],
    count: int | None,
) -> None:
    """Repeat the cycle of ``steps`` on one keep-alive connection; one latency per cycle."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    path = parts.path + (f"?{parts.query}" if parts.query else "")

    def extra(method: str, body: bytes) -> str:
        # Signed once per connection: a signature stays valid for 5 minutes, and the server
        # verifies it on every request all the same.
        given = {**headers, **signed_headers(method, url, body)}
        return "".join(f"{k}: {v}\r\n" for k, v in given.items())

    requests = [
        (
            f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Length: {len(body)}\r\n{extra(method, body)}\r\n"
        ).encode()
        + body
        for method, body in steps
    ]
    done = 0
    try:
        while time.perf_counter() < stop_at and (count is None or done < count):
            t0 = time.perf_counter()
            for request in requests:
                writer.write(request)
                status_line = await reader.readline()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                if not status_line.startswith(b"HTTP/1.1 2"):
                    errors.append(1)
            out.append((time.perf_counter() - t0) * 1000)
            done += 1
    finally:
        writer.close()


def load(
    url: str,
    clients: int,
    seconds: float,
    method: str = "POST",
    body: bytes = b"{}",
    headers: dict[str, str] | None = None,
    warmup: int = 20,
    steps: list[Step] | None = None,
) -> LoadResult:
    """Run ``clients`` keep-alive connections for ``seconds``, each repeating one request (or
    the cycle of ``steps``); returns one latency per request (cycle)."""
    headers = headers or {}
    cycle = steps or [(method, body)]

    async def run() -> LoadResult:
        warm: list[float] = []
        await asyncio.gather(
            *(
                _client(url, cycle, headers, time.perf_counter() + 30, warm, [], warmup)
                for _ in range(clients)
            )
        )
        out: list[float] = []
        errors: list[int] = []
        t0 = time.perf_counter()
        await asyncio.gather(
            *(_client(url, cycle, headers, t0 + seconds, out, errors, None) for _ in range(clients))
        )
        return LoadResult(len(out), time.perf_counter() - t0, out, len(errors))

    return asyncio.run(run())


def throughput(
    url: str, clients: int, seconds: float, method: str = "POST", body: bytes = b"{}"
) -> tuple[float, str]:
    """Requests per second with ``clients`` keep-alive connections, and the generator used:
    ``wrk`` (C, light enough to leave the server the CPU) when installed — ``./run bench``
    installs it — else the asyncio generator above. Error responses fail the run."""
    if not shutil.which("wrk"):
        result = load(url, clients, seconds, method, body)
        if result.errors:
            raise RuntimeError(f"{url}: {result.errors} error responses under load")
        return result.throughput, "asyncio"
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        signed = "".join(  # signed once: valid for 5 minutes, verified on every request
            f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n"
            for k, v in signed_headers(method, url, body).items()
        )
        script.write(
            f"wrk.method = {json.dumps(method)}\nwrk.body = {json.dumps(body.decode())}\n"
            'wrk.headers["Content-Type"] = "application/json"\n' + signed
        )
        script.flush()
        out = subprocess.run(
            ["wrk", "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}s", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses under load")
    found = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk printed no rate:\n{out}")
    return float(found.group(1)), "wrk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


BARE_APP = textwrap.dedent("""
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while True:
            message = await receive()
            if not message.get("more_body"):
                break
        body = BODY
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
""")


FLOOR_APP = textwrap.dedent("""
    import asyncio, os, socket

    def _helper(sock):
        # The stand-in for a sandboxed handler: it answers each message with BODY, and exits
        # when the server's end closes (the server stopped).
        while sock.recv(1 << 16):
            sock.sendall(BODY)
        os._exit(0)

    # Forked at import, before uvicorn runs its event loop: one helper per concurrent client,
    # each behind its own socket pair, as Shoal keeps one warm environment per client.
    _idle = []
    for _ in range(HELPERS):
        ours, theirs = socket.socketpair()
        if os.fork() == 0:
            ours.close()
            _helper(theirs)
        theirs.close()
        ours.setblocking(False)
        _idle.append(ours)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        loop = asyncio.get_running_loop()
        sock = _idle.pop()
        try:
            await loop.sock_sendall(sock, body or b"{}")
            out = await loop.sock_recv(sock, 1 << 16)
        finally:
            _idle.append(sock)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})
""")


def _uvicorn(app_source: str, module: str) -> Iterator[str]:
    """A one-worker uvicorn (httptools, uvloop) serving ``app`` from ``app_source``."""
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        Path(d, f"{module}.py").write_text(app_source)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"{module}:app",
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=d,
        )
        try:
            wait_port(port)
            yield f"http://127.0.0.1:{port}/"
        finally:
            proc.terminate()
            proc.wait(10)  # the floor's helpers exit when their socket closes with it


@contextmanager
def bare_uvicorn(body: bytes) -> Iterator[str]:
    """A bare uvicorn endpoint (httptools, uvloop, one worker) answering ``body``."""
    yield from _uvicorn(BARE_APP.replace("BODY", repr(body)), "bare_app")


@contextmanager
def floor_uvicorn(body: bytes, helpers: int = 64) -> Iterator[str]:
    """The bare endpoint plus one round trip to another process per request: the *floor* of
    any design that runs the handler outside the server process, as Shoal must (a sandbox).

    The throughput targets are ratios to :func:`bare_uvicorn`, a process that does no IPC at
    all; every sandboxed design pays at least one ``send`` + ``recv`` to a process of its own,
    and the wake-ups on both sides, per request. This app pays exactly that and nothing else:
    uvicorn (httptools, uvloop, one worker) hands the request body over a socket pair to a
    helper forked in advance (one per concurrent client, ``helpers`` of them), which answers
    ``body``. Shoal's throughput divided by the floor's is the share of the achievable that
    Shoal reaches; the floor divided by bare is what the IPC alone costs on this machine."""
    source = FLOOR_APP.replace("BODY", repr(body)).replace("HELPERS", str(helpers))
    yield from _uvicorn(source, "floor_app")


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")


SERVER_PIDS: dict[str, int] = {}  # endpoint -> pid of the shoal_server answering there


def server_cpu_s(endpoint: str) -> float:
    """CPU seconds (user + system) the server at ``endpoint`` has used so far: the API process
    alone, not its environments."""
    fields = Path(f"/proc/{SERVER_PIDS[endpoint]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def shoal_server(*extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """A private ``shoal serve`` on a free port with its data in a temporary directory, root
    keys ``shoal``/``shoal`` (the tests'), and the tests' execution role ``lambda-role``;
    ``env``: more environment variables for the server."""
    with tempfile.TemporaryDirectory(prefix="shoal-bench-") as d:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shoal",
                "serve",
                "--port",
                "0",
                "--data-dir",
                d,
                "--log-level",
                "warning",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env={**os.environ, "SHOAL_ROOT_ACCESS_KEY_ID": KEYS[0],
                 "SHOAL_ROOT_SECRET_ACCESS_KEY": KEYS[1], **(env or {})},  # fmt: skip
        )
        assert proc.stdout is not None
        endpoint = None
        for line in proc.stdout:
            m = re.search(r"Shoal listening on (\S+)", line)
            if m:
                endpoint = m.group(1)
                break
        if endpoint is None:
            proc.kill()
            raise RuntimeError("shoal did not start")
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
        try:
            test_support()
            from conftest import make_role

            make_role(endpoint, "lambda-role")
            SERVER_PIDS[endpoint] = proc.pid
            yield endpoint
        finally:
            proc.terminate()
            proc.wait(60)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), "
        f"{mem:.0f} GiB, Python {platform.python_version()}"
    )


def table(title: str, rows: list[tuple[str, str, str, str, str]]) -> str:
    """rows: (what, shoal, baseline, ratio, target)."""
    head = ("what", "shoal", "baseline", "ratio", "target")
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def python3() -> str:
    """The real ``python3`` binary: on a pyenv host, ``python3`` on PATH is a shell-script shim
    that costs several times an interpreter start, which would flatter every ratio against it."""
    return str(getattr(sys, "_base_executable", sys.executable))


def python_start_ms(n: int = 20) -> list[float]:
    """Wall times of ``python3 -c pass``, the baseline for cold starts."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([python3(), "-c", "pass"], check=True)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def pct(xs: list[float], p: float) -> float:
    ys = sorted(xs)
    return ys[min(len(ys) - 1, int(p / 100 * len(ys)))] if ys else float("nan")


def aws_client(endpoint: str, service: str) -> Any:
    """A boto3 client for a Shoal endpoint, as a user makes one."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS[0],
        aws_secret_access_key=KEYS[1],
        config=Config(retries={"max_attempts": 0}, read_timeout=900, max_pool_connections=64),
    )


def test_support() -> None:
    """Make the tests' helpers (conftest, seed_setup) importable: the benchmarks set things up
    exactly as the tests do."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
