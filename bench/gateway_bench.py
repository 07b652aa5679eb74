"""Gateway benchmark: a warm invoke through the HTTP gateway against a bare uvicorn endpoint.

Starts, in one run on one machine: a bare uvicorn endpoint (httptools + uvloop, a raw ASGI app
answering the same body and content type the function's response gets), and ``shoal serve``
with a function returning ``"hello"`` behind a quick-created HTTP API. Then measures:

- latency p50/p99 with one client (sequential requests over one keep-alive connection);
- throughput with 10 and 50 clients (``wrk`` when installed, else an asyncio generator over
  keep-alive connections);
- the MessageWall POST+GET cycle (the article's handler, file system and access point).

and prints a table of the gateway against the bare endpoint, with DESIGN.md's targets
(throughput >= 0.5x bare; p50 <= bare + 0.3 ms).

Usage: .venv/bin/python bench/gateway_bench.py [--duration 5] [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "seeds" / "aws-news-blog-shared-file-system-for-lambda.txt"
BODY = b"hello"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
ROLE = "arn:aws:iam::123456789012:role/bench"


# --------------------------------------------------------------------------- the bare endpoint


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"5")],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


def run_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(
        bare_app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


# ----------------------------------------------------------------------------- HTTP client


class Connection:
    """One keep-alive HTTP/1.1 connection; responses must carry content-length."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", raw)
        data = await self.reader.readexactly(int(m.group(1))) if m else b""
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def endpoint_of(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"


async def latencies(url: str, count: int, method: str = "GET") -> list[float]:
    host, port, path = endpoint_of(url)
    conn = Connection(host, port)
    body = b"{}" if method == "POST" else b""
    out = []
    try:
        for _ in range(count):
            t = time.perf_counter()
            status, _ = await conn.request(method, path, body)
            out.append(time.perf_counter() - t)
            if status != 200:
                raise RuntimeError(f"{url} answered {status}")
    finally:
        conn.close()
    return out


async def load(
    clients: int, duration: float, one: Callable[[Connection], Awaitable[None]], url: str
) -> float:
    """Requests (or cycles) per second with ``clients`` connections for ``duration`` s."""
    host, port, _ = endpoint_of(url)
    done = 0
    stop_at = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal done
        conn = Connection(host, port)
        try:
            while time.perf_counter() < stop_at:
                await one(conn)
                done += 1
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return done / (time.perf_counter() - start)


WRK_POST = (
    'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'
)


def throughput(url: str, clients: int, duration: float, method: str = "GET") -> float:
    if shutil.which("wrk"):
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(WRK_POST if method == "POST" else "")
            script.flush()
            out = subprocess.run(
                [
                    "wrk",
                    "-t2",
                    f"-c{clients}",
                    f"-d{max(1, round(duration))}s",
                    "-s",
                    script.name,
                    url,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        m = re.search(r"Requests/sec:\s*([\d.]+)", out)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if errors:
            raise RuntimeError(f"{url}: {errors.group(1)} error responses under load")
        assert m is not None, out
        return float(m.group(1))
    path = endpoint_of(url)[2]

    async def get(conn: Connection) -> None:
        status, _ = await conn.request(method, path, b"{}" if method == "POST" else b"")
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")

    return run(load(clients, duration, get, url))


def run(coro: Awaitable[Any]) -> Any:
    import uvloop

    return uvloop.run(coro)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_bare() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--bare", str(port)])
    url = f"http://127.0.0.1:{port}/hello"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, url
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("bare endpoint did not start") from None
            time.sleep(0.05)


def start_shoal(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shoal",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.search(r"Shoal listening on (\S+)", line)
        if m:
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep draining
            return proc, m.group(1)
    raise RuntimeError("shoal serve did not start")


def clients(endpoint: str) -> tuple[Any, Any, Any]:
    import boto3
    from botocore.config import Config

    def make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(retries={"max_attempts": 0}),
        )

    return make("lambda"), make("efs"), make("apigatewayv2")


def zip_of(name: str, source: str) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, source)
    return buf.getvalue()


def create_function(lam: Any, name: str, files: dict[str, str], handler: str, **kw: Any) -> str:
    ((filename, source),) = files.items()
    lam.create_function(
        FunctionName=name,
        Runtime=RUNTIME,
        Role=ROLE,
        Handler=handler,
        Code={"ZipFile": zip_of(filename, source)},
        **kw,
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    arn: str = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return arn


def article_handler() -> str:
    text = SEED.read_text()
    start = text.index("import os\nimport fcntl\n")
    end = text.index("    return messages\n", text.index("def lambda_handler(", start))
    return text[start : end + len("    return messages\n")]


def message_wall(lam: Any, efs: Any, apigw: Any) -> str:
    fs_id = efs.create_file_system(CreationToken=f"bench-{uuid.uuid4().hex}")["FileSystemId"]
    while efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["LifeCycleState"] != (
        "available"
    ):
        time.sleep(0.05)
    ap = efs.create_access_point(
        FileSystemId=fs_id,
        PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory={
            "Path": "/message",
            "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "750"},
        },
    )
    while (
        efs.describe_access_points(AccessPointId=ap["AccessPointId"])["AccessPoints"][0][
            "LifeCycleState"
        ]
        != "available"
    ):
        time.sleep(0.05)
    arn = create_function(
        lam,
        "BenchMessageWall",
        {"lambda_function.py": article_handler()},
        "lambda_function.lambda_handler",
        FileSystemConfigs=[{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/msg"}],
    )
    api_id = apigw.create_api(Name="BenchMessageWall", ProtocolType="HTTP")["ApiId"]
    integration = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion="2.0"
    )
    apigw.create_route(
        ApiId=api_id,
        RouteKey="ANY /MessageWall",
        Target=f"integrations/{integration['IntegrationId']}",
    )
    apigw.create_stage(ApiId=api_id, StageName="default", AutoDeploy=True)
    return f"{apigw.get_api(ApiId=api_id)['ApiEndpoint']}/default/MessageWall"


# ------------------------------------------------------------------------------- the bench


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def wall_cycles(url: str, count: int, concurrency: int, duration: float) -> dict[str, float]:
    host, port, path = endpoint_of(url)

    async def cycle(conn: Connection) -> None:
        status, _ = await conn.request("POST", path, b"Hello from the bench")
        status2, _ = await conn.request("GET", path)
        if (status, status2) != (200, 200):
            raise RuntimeError(f"MessageWall answered {status}/{status2}")

    async def sequential() -> list[float]:
        conn = Connection(host, port)
        out = []
        try:
            await conn.request("DELETE", path)
            for _ in range(count):
                t = time.perf_counter()
                await cycle(conn)
                out.append(time.perf_counter() - t)
            await conn.request("DELETE", path)  # keep the wall short for the next phase
        finally:
            conn.close()
        return out

    times = run(sequential())
    rate = run(load(concurrency, duration, cycle, url))
    return {"p50": percentile(times, 50), "p99": percentile(times, 99), "rate": rate}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load phase")
    parser.add_argument("--requests", type=int, default=3000, help="requests for latency")
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare is not None:
        run_bare(args.bare)
        return 0

    data_dir = Path(tempfile.mkdtemp(prefix="shoal-bench-"))
    bare, bare_url = start_bare()
    shoal, endpoint = start_shoal(data_dir)
    try:
        lam, efs, apigw = clients(endpoint)
        arn = create_function(
            lam,
            "bench-hello",
            {"app.py": "def handler(event, context):\n    return 'hello'\n"},
            "app.handler",
        )
        api = apigw.create_api(Name="bench", ProtocolType="HTTP", Target=arn)
        gw_url = api["ApiEndpoint"] + "/hello"
        assert run(latencies(gw_url, 1)) and run(latencies(bare_url, 1))
        # Warm up: 50 environments for the 50-client phase, and the code paths.
        throughput(gw_url, 50, 2)
        throughput(bare_url, 50, 2)

        # The same function through Lambda's Invoke API: what the gateway adds to an invoke.
        invoke_url = f"{endpoint}/2015-03-31/functions/bench-hello/invocations"
        throughput(invoke_url, 50, 2, "POST")
        rows: list[tuple[str, float, float, float, str, str]] = []
        lat = {
            "bare": run(latencies(bare_url, args.requests)),
            "gateway": run(latencies(gw_url, args.requests)),
            "invoke": run(latencies(invoke_url, args.requests, "POST")),
        }
        for p in (50, 99):
            b, g, i = (percentile(lat[k], p) * 1000 for k in ("bare", "gateway", "invoke"))
            target = "<= bare + 0.3 ms" if p == 50 else ""
            rows.append((f"latency p{p}, 1 client (ms)", b, g, i, f"+{g - b:.3f} ms", target))
        for n in (10, 50):
            b = throughput(bare_url, n, args.duration)
            g = throughput(gw_url, n, args.duration)
            i = throughput(invoke_url, n, args.duration, "POST")
            rows.append((f"throughput, {n} clients (req/s)", b, g, i, f"{g / b:.2f}x", ">= 0.5x"))
        wall = wall_cycles(message_wall(lam, efs, apigw), 500, 10, args.duration)
    finally:
        for proc in (shoal, bare):
            proc.terminate()
            proc.wait(60)
        shutil.rmtree(data_dir, ignore_errors=True)

    generator = "wrk" if shutil.which("wrk") else "asyncio keep-alive generator"
    print(f"\nGateway benchmark ({os.cpu_count()} CPUs, throughput by {generator})\n")
    print(
        f"{'what':34} {'bare':>10} {'gateway':>10} {'Invoke API':>10} {'gateway/bare':>13}  target"
    )
    for what, b, g, i, ratio, target in rows:
        print(f"{what:34} {b:>10.3f} {g:>10.3f} {i:>10.3f} {ratio:>13}  {target}")
    print(f"{'MessageWall POST+GET p50 (ms)':34} {'':>10} {wall['p50'] * 1000:>10.3f}")
    print(f"{'MessageWall POST+GET p99 (ms)':34} {'':>10} {wall['p99'] * 1000:>10.3f}")
    print(f"{'MessageWall cycles/s, 10 clients':34} {'':>10} {wall['rate']:>10.1f}")
    print(json.dumps({"rows": rows, "message_wall": wall}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
