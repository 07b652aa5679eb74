"""WebSocket APIs: the latency of a message echoed through a function (a two-way ``$default``
route whose function answers the message's body) with one client, and messages per second
echoed through it with 10 clients (each sends its next message when the last one's echo
arrives).

Baseline: a bare echo server of the same ``websockets`` library (asyncio, in a process of its
own), with the same clients: what the transport costs, without the gateway and the function.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.common import aws_client, shoal_server, table, test_support

SECONDS = 5.0
MESSAGE = '{"action": "echo", "text": "hello"}'

ECHO = """
def handler(event, context):
    return {"statusCode": 200, "body": event["body"]}
"""

BARE = """
import asyncio, sys
from websockets.asyncio.server import serve

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", 0) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()

asyncio.run(main())
"""


@contextmanager
def bare_server() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-c", BARE], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield f"ws://127.0.0.1:{proc.stdout.readline().strip()}/"
    finally:
        proc.terminate()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


async def _client(url: str, until: float, latencies: list[float], warmup: int) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, open_timeout=120) as ws:
        for _ in range(warmup):
            await ws.send(MESSAGE)
            await ws.recv()
        while time.perf_counter() < until:
            started = time.perf_counter()
            await ws.send(MESSAGE)
            await ws.recv()
            latencies.append((time.perf_counter() - started) * 1000)


def measure(url: str, clients: int) -> tuple[list[float], float]:
    """(latencies in ms, messages per second) of ``clients`` closed-loop clients."""
    latencies: list[float] = []

    async def main() -> float:
        until = time.perf_counter() + 20 * 0.05 + SECONDS  # after the warmup, SECONDS
        started = time.perf_counter()
        await asyncio.gather(*(_client(url, until, latencies, 20) for _ in range(clients)))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    return latencies, len(latencies) / min(elapsed, SECONDS)


def _pct(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100)[pct - 1] if len(values) > 1 else values[0]


def run() -> str:
    test_support()
    from conftest import create_function

    with bare_server() as bare, shoal_server() as endpoint:
        lam = aws_client(endpoint, "lambda")
        name = create_function(lam, "bench-ws", ECHO)
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        apigw = aws_client(endpoint, "apigatewayv2")
        api = apigw.create_api(Name="bench-ws", ProtocolType="WEBSOCKET",
                               RouteSelectionExpression="$request.body.action")  # fmt: skip
        integration = apigw.create_integration(
            ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn
        )["IntegrationId"]
        apigw.create_route(ApiId=api["ApiId"], RouteKey="$default",
                           Target=f"integrations/{integration}",
                           RouteResponseSelectionExpression="$default")  # fmt: skip
        apigw.create_stage(ApiId=api["ApiId"], StageName="bench")
        url = f"{api['ApiEndpoint']}/bench"
        measure(url, 10)  # warm: environments for 10 concurrent messages
        shoal_lat, _ = measure(url, 1)
        bare_lat, _ = measure(bare, 1)
        _, shoal_rate = measure(url, 10)
        _, bare_rate = measure(bare, 10)
    p50, b50 = _pct(shoal_lat, 50), _pct(bare_lat, 50)
    p99, b99 = _pct(shoal_lat, 99), _pct(bare_lat, 99)
    rows = [
        ("message echoed through a function, p50, 1 client (ms)", f"{p50:.3f}", f"{b50:.3f}",
         f"+{p50 - b50:.3f} ms", ""),
        ("message echoed through a function, p99, 1 client (ms)", f"{p99:.3f}", f"{b99:.3f}",
         f"{p99 / b99:.2f}×", ""),
        ("messages per second through a function, 10 clients (msg/s)", f"{shoal_rate:.0f}",
         f"{bare_rate:.0f}", f"{shoal_rate / bare_rate:.2f}×", ""),
    ]  # fmt: skip
    title = "WebSocket API: messages through a function vs a bare websockets echo server"
    return table(title, rows)


if __name__ == "__main__":
    sys.exit(print(run()))
