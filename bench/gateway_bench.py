"""Warm invokes through the HTTP gateway against a bare uvicorn endpoint, and the MessageWall.

In one run: a bare uvicorn endpoint (httptools + uvloop, one worker) answering the same body,
and ``shoal serve`` with a function returning ``"hello"`` behind a quick-created HTTP API;
latency p50/p99 with one client, throughput with 10 and 50 clients (``wrk`` when installed),
the same function through Lambda's Invoke API (what the gateway adds), and the seed's
MessageWall POST+GET cycle (the article's handler, file system and access point).

The floor (:func:`bench.common.floor_uvicorn`) is the bare endpoint plus one socket round trip
per request to a helper process: the target is a ratio to bare, which does no IPC at all, while
every sandboxed design pays that round trip. The floor's ratio to bare is what IPC alone leaves;
the gateway's ratio to the floor is the share of the achievable it reaches.
"""

from __future__ import annotations

from bench.common import (
    aws_client,
    bare_uvicorn,
    floor_uvicorn,
    load,
    shoal_server,
    table,
    test_support,
    throughput,
)

SECONDS = 5.0
BODY = b"hello"  # what the gateway answers for a function returning the string "hello"


def run() -> str:
    test_support()
    from conftest import create_function
    from seed_setup import message_wall

    with bare_uvicorn(BODY) as bare:
        bare_lat = load(bare, 1, SECONDS, "GET", b"")
        bare_tp = {n: throughput(bare, n, SECONDS, "GET", b"") for n in (10, 50)}
    with floor_uvicorn(BODY) as floor:
        floor_tp = {n: throughput(floor, n, SECONDS, "GET", b"")[0] for n in (10, 50)}
    with shoal_server() as endpoint:
        lam = aws_client(endpoint, "lambda")
        name = create_function(
            lam, "bench-hello", "def handler(event, context):\n    return 'hello'\n"
        )
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        api = aws_client(endpoint, "apigatewayv2").create_api(
            Name="bench", ProtocolType="HTTP", Target=arn
        )
        gateway = api["ApiEndpoint"] + "/hello"
        invoke = f"{endpoint}/2015-03-31/functions/{name}/invocations"
        throughput(gateway, 50, 2, "GET", b"")  # warm: 50 environments, the code paths
        gw_lat = load(gateway, 1, SECONDS, "GET", b"")
        inv_lat = load(invoke, 1, SECONDS)
        gw_tp = {n: throughput(gateway, n, SECONDS, "GET", b"") for n in (10, 50)}
        inv_tp = {n: throughput(invoke, n, SECONDS)[0] for n in (10, 50)}
        _, wall = message_wall(
            aws_client(endpoint, "efs"), lam, aws_client(endpoint, "apigatewayv2")
        )
        cycle = [("POST", b"Hello from the bench"), ("GET", b"")]
        wall1 = load(wall, 1, SECONDS, steps=cycle)
        wall10 = load(wall, 10, SECONDS, steps=cycle)
    generator = bare_tp[10][1]
    rows = [
        (
            "gateway warm p50, 1 client (ms)",
            f"{gw_lat.pct(50):.3f}",
            f"{bare_lat.pct(50):.3f}",
            f"+{gw_lat.pct(50) - bare_lat.pct(50):.3f} ms",
            "≤ +0.3 ms",
        ),
        (
            "gateway warm p99, 1 client (ms)",
            f"{gw_lat.pct(99):.3f}",
            f"{bare_lat.pct(99):.3f}",
            f"{gw_lat.pct(99) / bare_lat.pct(99):.2f}×",
            "",
        ),
    ]
    for n in (10, 50):
        rows.append(
            (
                f"gateway throughput, {n} clients, {generator} (req/s)",
                f"{gw_tp[n][0]:.0f}",
                f"{bare_tp[n][0]:.0f}",
                f"{gw_tp[n][0] / bare_tp[n][0]:.2f}×",
                "≥ 0.5×",
            )
        )
    rows += [
        (
            "floor: bare + 1 socket round trip to a helper process, 10 / 50 clients (req/s)",
            f"{floor_tp[10]:.0f} / {floor_tp[50]:.0f}",
            f"{bare_tp[10][0]:.0f} / {bare_tp[50][0]:.0f}",
            f"{floor_tp[10] / bare_tp[10][0]:.2f}× / {floor_tp[50] / bare_tp[50][0]:.2f}×",
            "(the most any sandbox reaches)",
        ),
        (
            "gateway throughput vs the floor, 10 / 50 clients (share of the achievable)",
            f"{gw_tp[10][0]:.0f} / {gw_tp[50][0]:.0f}",
            f"{floor_tp[10]:.0f} / {floor_tp[50]:.0f} (floor)",
            f"{gw_tp[10][0] / floor_tp[10]:.2f}× / {gw_tp[50][0] / floor_tp[50]:.2f}×",
            "",
        ),
    ]
    rows += [
        (
            "Invoke API warm p50, 1 client (ms), same function",
            f"{inv_lat.pct(50):.3f}",
            f"{bare_lat.pct(50):.3f}",
            f"+{inv_lat.pct(50) - bare_lat.pct(50):.3f} ms",
            "",
        ),
        (
            "Invoke API throughput, 10 / 50 clients (req/s)",
            f"{inv_tp[10]:.0f} / {inv_tp[50]:.0f}",
            f"{bare_tp[10][0]:.0f} / {bare_tp[50][0]:.0f}",
            f"{inv_tp[10] / bare_tp[10][0]:.2f}× / {inv_tp[50] / bare_tp[50][0]:.2f}×",
            "",
        ),
        (
            "MessageWall POST+GET cycle p50 / p99, 1 client (ms)",
            f"{wall1.pct(50):.2f} / {wall1.pct(99):.2f}",
            "",
            "",
            "",
        ),
        ("MessageWall cycles/s, 10 clients", f"{wall10.throughput:.0f}", "", "", ""),
    ]
    errors = gw_lat.errors + inv_lat.errors + wall1.errors + wall10.errors
    title = "HTTP gateway (API Gateway v2 HTTP API)" + (f" — {errors} errors!" if errors else "")
    return table(title, rows)


if __name__ == "__main__":
    print(run())
