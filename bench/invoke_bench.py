"""Warm invoke through the Lambda Invoke API and cold starts, against same-run baselines.

- warm invoke: latency p50/p99 with 1 client, throughput with 10 clients, vs a bare uvicorn
  endpoint returning the same body; and vs the *floor* (:func:`bench.common.floor_uvicorn`):
  the same endpoint plus the one socket round trip to another process that any sandboxed
  design pays per request. The target is a ratio to bare, a process that does no IPC at all;
  the floor's own ratio to bare shows how much of it IPC alone leaves on this machine, and
  Shoal's ratio to the floor is the share of the achievable that Shoal reaches;
- cold start: a new environment of a trivial handler (fork server spawn + init), vs starting
  ``python3 -c pass``; and a first invoke after an update, end to end through the API;
- the bundled SDK: the Init Duration of a handler that imports boto3 at init, vs the trivial
  one (the SDK is on sys.path but never imported ahead, so a handler that does not use it
  pays nothing).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from bench.common import (
    aws_client,
    bare_uvicorn,
    floor_uvicorn,
    load,
    median,
    pct,
    python_start_ms,
    server_cpu_s,
    shoal_server,
    table,
    test_support,
    throughput,
    urlopen,
)
from bench.identity_cost import per_invoke_us

HANDLER = 'def handler(event, context):\n    return {"ok": True}\n'
BOTO3_HANDLER = "import boto3\n" + HANDLER
BODY = json.dumps({"ok": True}).encode()
SECONDS = 5.0


def make_function(endpoint: str, name: str, code: str = HANDLER) -> Any:
    test_support()
    from conftest import create_function  # the same helper the tests use

    client = aws_client(endpoint, "lambda")
    create_function(client, name, code)
    return client


def cold_invokes_ms(client: object, endpoint: str, name: str, n: int = 20) -> list[float]:
    """First invoke after each configuration update: a new environment every time."""
    url = f"{endpoint}/2015-03-31/functions/{name}/invocations"
    times = []
    for i in range(n):
        client.update_function_configuration(  # type: ignore[attr-defined]
            FunctionName=name, Environment={"Variables": {"RUN": str(i)}}
        )
        client.get_waiter("function_updated_v2").wait(  # type: ignore[attr-defined]
            FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400}
        )
        t0 = time.perf_counter()
        with urlopen(url, b"{}", "POST") as r:
            r.read()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def init_durations_ms(endpoint: str, name: str) -> list[float]:
    """Init Duration from the REPORT lines: the environment's own cold start."""
    with urlopen(f"{endpoint}/shoal/logs/{name}") as r:
        events = json.load(r)["events"]
    out = []
    for e in events:
        if e["message"].startswith("REPORT") and "Init Duration:" in e["message"]:
            out.append(float(e["message"].split("Init Duration:")[1].split("ms")[0]))
    return out


def rate_and_cpu(endpoint: str, url: str) -> tuple[float, float]:
    """Warm throughput with 10 clients, and the server's CPU per invoke meanwhile (µs)."""
    cpu0 = server_cpu_s(endpoint)
    rate, _ = throughput(url, 10, SECONDS)
    return rate, (server_cpu_s(endpoint) - cpu0) / (rate * max(1, round(SECONDS))) * 1e6


def telemetry_on_off(endpoint: str, url: str, rounds: int = 2) -> tuple[tuple[float, float], ...]:
    """(rate, CPU per invoke) with function logs and Lambda metrics on (the server at
    ``endpoint``) and off (a second server, ``SHOAL_BENCH_TELEMETRY=off``:
    :mod:`shoal.observability.telemetry`), measured in turn ``rounds`` times; the best run of
    each, the one the other sessions on a shared machine disturbed least."""
    with shoal_server(env={"SHOAL_BENCH_TELEMETRY": "off"}) as off_endpoint:
        name = f"bench-off-{uuid.uuid4().hex[:8]}"
        make_function(off_endpoint, name)
        off_url = f"{off_endpoint}/2015-03-31/functions/{name}/invocations"
        load(off_url, 1, 1.0)  # warm
        on, off = [], []
        for _ in range(rounds):
            on.append(rate_and_cpu(endpoint, url))
            off.append(rate_and_cpu(off_endpoint, off_url))
    return max(on), max(off)


def run() -> str:
    with bare_uvicorn(BODY) as bare:
        b1 = load(bare, 1, SECONDS)
        b10, generator = throughput(bare, 10, SECONDS)
    with floor_uvicorn(BODY) as floor:
        f10, _ = throughput(floor, 10, SECONDS)
    with shoal_server() as endpoint:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        client = make_function(endpoint, name)
        url = f"{endpoint}/2015-03-31/functions/{name}/invocations"
        s1 = load(url, 1, SECONDS)
        s10, cpu_us = rate_and_cpu(endpoint, url)
        (on10, on_cpu_us), (off10, off_cpu_us) = telemetry_on_off(endpoint, url)
        cold = cold_invokes_ms(client, endpoint, name)
        inits = init_durations_ms(endpoint, name)
        sdk_name = f"bench-boto3-{uuid.uuid4().hex[:8]}"
        make_function(endpoint, sdk_name, BOTO3_HANDLER)
        cold_invokes_ms(client, endpoint, sdk_name, n=10)
        sdk_inits = init_durations_ms(endpoint, sdk_name)
    py = median(python_start_ms())
    root_us, user_us = per_invoke_us()
    rows = [
        (
            "warm invoke p50, 1 client (ms)",
            f"{s1.pct(50):.3f}",
            f"{b1.pct(50):.3f}",
            f"+{s1.pct(50) - b1.pct(50):.3f} ms",
            "≤ +0.3 ms",
        ),
        (
            "warm invoke p99, 1 client (ms)",
            f"{s1.pct(99):.3f}",
            f"{b1.pct(99):.3f}",
            f"{s1.pct(99) / b1.pct(99):.2f}×",
            "",
        ),
        (
            f"warm invoke throughput, 10 clients, {generator} (req/s)",
            f"{s10:.0f}",
            f"{b10:.0f}",
            f"{s10 / b10:.2f}×",
            "≥ 0.5×",
        ),
        (
            "floor: bare + 1 socket round trip to a helper process, 10 clients (req/s)",
            f"{f10:.0f}",
            f"{b10:.0f}",
            f"{f10 / b10:.2f}×",
            "(the most any sandbox reaches)",
        ),
        (
            "warm invoke throughput vs the floor, 10 clients (share of the achievable)",
            f"{s10:.0f}",
            f"{f10:.0f} (floor)",
            f"{s10 / f10:.2f}×",
            "",
        ),
        (
            "warm invoke throughput with function logs and metrics on, vs off, 10 clients, "
            "best of 2 runs each, in turn (req/s; server CPU per invoke)",
            f"{on10:.0f} ({on_cpu_us:.0f} µs)",
            f"{off10:.0f} ({off_cpu_us:.0f} µs, off)",
            f"{on10 / off10:.2f}×",
            "≥ 0.95× (their cost < 5%)",
        ),
        (
            "SigV4 verification + authorization per invoke, root / an IAM user (µs; share of "
            "the server's CPU per invoke under load)",
            f"{root_us:.1f} / {user_us:.1f}",
            f"{cpu_us:.0f} (server CPU per invoke)",
            f"{root_us / cpu_us:.0%} / {user_us / cpu_us:.0%}",
            "≤ 20 µs, < 10%",
        ),
        (
            "handler init in a new environment (Init Duration) p50 (ms)",
            f"{median(inits):.2f}",
            f"{py:.2f} (python3 -c pass)",
            f"{median(inits) / py:.3f}×",
            "(cold start: snapshot_bench)",
        ),
        (
            "cold start: first invoke after update p50 / p99 (ms)",
            f"{median(cold):.2f} / {pct(cold, 99):.2f}",
            f"{py:.2f} (python3 -c pass)",
            f"{median(cold) / py:.3f}×",
            "",
        ),
        (
            "Init Duration of a handler importing the bundled boto3, p50 (ms)",
            f"{median(sdk_inits):.2f}",
            f"{median(inits):.2f} (trivial handler)",
            f"+{median(sdk_inits) - median(inits):.2f} ms",
            "(no cost unless imported)",
        ),
    ]
    errors = s1.errors
    title = "Invoke API (Lambda wire protocol)" + (f" — {errors} errors!" if errors else "")
    return table(title, rows)


if __name__ == "__main__":
    print(run())
