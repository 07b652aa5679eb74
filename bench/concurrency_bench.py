"""Scaling out and saying no: concurrency against same-run baselines.

- scale from 0 to 32 busy environments: 32 concurrent invocations of a new function whose
  handler sleeps 1 s (wall time minus 1 s), vs starting 32 ``python3 -c pass`` in parallel;
- throttle decision: latency of a 429 for a function with reserved concurrency 0, vs a warm
  invoke of a trivial function (both through the Invoke API, one keep-alive client);
- durable async: latency of an ``Event`` invoke (answered 202 once the event is committed to
  SQLite with synchronous=FULL), vs the same warm synchronous invoke.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

from bench.common import ROOT, load, median, python3, shoal_server, table, urlopen

SLEEPER = "import time\n\ndef handler(event, context):\n    time.sleep(1.0)\n    return 1\n"
TRIVIAL = 'def handler(event, context):\n    return {"ok": True}\n'
WIDTH = 32
ROUNDS = 3
SECONDS = 3.0


def make_function(endpoint: str, name: str, code: str, **kwargs: Any) -> Any:
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import create_function  # the same helper the tests use

    client = boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="shoal",
        aws_secret_access_key="shoal",
        config=Config(retries={"max_attempts": 0}),
    )
    create_function(client, name, code, **kwargs)
    return client


def python_burst_s(n: int = WIDTH) -> float:
    t0 = time.perf_counter()
    procs = [subprocess.Popen([python3(), "-c", "pass"]) for _ in range(n)]
    for p in procs:
        p.wait()
    return time.perf_counter() - t0


def scale_out_s(endpoint: str) -> float:
    """Wall time of WIDTH concurrent 1 s invocations of a fresh function, minus the 1 s."""
    name = f"bench-scale-{uuid.uuid4().hex[:8]}"
    make_function(endpoint, name, SLEEPER, Timeout=30)
    url = f"{endpoint}/2015-03-31/functions/{name}/invocations"
    barrier = threading.Barrier(WIDTH + 1)

    def call(_: int) -> int:
        barrier.wait()
        with urlopen(url, b"{}", "POST", timeout=60) as r:
            r.read()
            return int(r.status)

    with ThreadPoolExecutor(WIDTH) as pool:
        futures = [pool.submit(call, i) for i in range(WIDTH)]
        barrier.wait()
        t0 = time.perf_counter()
        statuses = [f.result() for f in futures]
        elapsed = time.perf_counter() - t0
    if statuses != [200] * WIDTH:
        raise RuntimeError(f"scale-out invocations failed: {statuses}")
    return elapsed - 1.0


def event_latencies_ms(endpoint: str, name: str, n: int = 200) -> list[float]:
    url = f"{endpoint}/2015-03-31/functions/{name}/invocations"
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        event = {"X-Amz-Invocation-Type": "Event"}
        with urlopen(url, b"{}", "POST", timeout=30, headers=event) as r:
            r.read()
            if r.status != 202:
                raise RuntimeError(f"Event invoke answered {r.status}")
        out.append((time.perf_counter() - t0) * 1000)
    return out


def run() -> str:
    with shoal_server("--idle-timeout", "600") as endpoint:
        scale = [scale_out_s(endpoint) for _ in range(ROUNDS)]
        warm_name = f"bench-warm-{uuid.uuid4().hex[:8]}"
        make_function(endpoint, warm_name, TRIVIAL)
        warm = load(f"{endpoint}/2015-03-31/functions/{warm_name}/invocations", 1, SECONDS)
        stopped = f"bench-zero-{uuid.uuid4().hex[:8]}"
        client = make_function(endpoint, stopped, TRIVIAL)
        client.put_function_concurrency(  # type: ignore[attr-defined]
            FunctionName=stopped, ReservedConcurrentExecutions=0
        )
        throttle = load(f"{endpoint}/2015-03-31/functions/{stopped}/invocations", 1, SECONDS)
        events = event_latencies_ms(endpoint, warm_name)
    burst = [python_burst_s() for _ in range(ROUNDS)]
    if throttle.errors != throttle.requests:
        raise RuntimeError("a reserved-0 function was not throttled")
    rows = [
        (
            f"scale 0 → {WIDTH} busy environments, median of {ROUNDS} (ms)",
            f"{median(scale) * 1000:.0f}",
            f"{median(burst) * 1000:.0f} ({WIDTH} × python3 -c pass)",
            f"{median(scale) / median(burst):.2f}×",
            "",
        ),
        (
            "throttle decision (429) p50 / p99, 1 client (ms)",
            f"{throttle.pct(50):.3f} / {throttle.pct(99):.3f}",
            f"{warm.pct(50):.3f} (warm invoke p50)",
            f"{throttle.pct(50) / warm.pct(50):.2f}×",
            "",
        ),
        (
            "async Event invoke (202 after a durable commit) p50 (ms)",
            f"{median(events):.3f}",
            f"{warm.pct(50):.3f} (warm invoke p50)",
            f"{median(events) / warm.pct(50):.2f}×",
            "",
        ),
    ]
    return table("Concurrency: scale-out, throttling, durable async", rows)


if __name__ == "__main__":
    print(run())
