"""CloudWatch metrics: GetMetricData over a day of 1-minute data (boto3 against a real server),
and what publishing costs an invocation (µs).

- *A day of data*: one metric with 60 values in each of 1440 minutes (86,400 samples), put
  with PutMetricData; then GetMetricData of Sum and p99 at Period 60 (1440 datapoints each) and
  Sum at Period 3600 (read from the hourly buckets), timed end to end through boto3.
- *Per invoke*: the invoker's one call (``LambdaMetrics.invocation``: a deque append) and the
  deferred work the flush does for it (the series of an alias invocation — 4 dimension sets,
  ~20 datapoints — aggregated into their buckets), both in µs per invocation.

Run: ``./run bench metrics_bench``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

from bench.common import aws_client, median, shoal_server, table

ARN = "arn:aws:lambda:us-east-1:123456789012:function:bench"


def publishing_cost() -> tuple[float, float, float]:
    from types import SimpleNamespace

    from shoal.invocation.leases import ConcurrencyLimiter
    from shoal.invocation.measures import measure
    from shoal.observability.metrics import MetricService

    with tempfile.TemporaryDirectory() as d:
        svc = MetricService(path=Path(d) / "metrics.db")
        hooks = svc.lambda_hooks
        n = 20000

        def one() -> None:
            hooks.invocation(ARN, "live", "3", 1.25, False, 3, 10, 7)

        call_s = min(timeit.repeat(one, number=n, repeat=5)) / n
        # The invoker's whole hook (measures.measure: the limiter's counts, then the call).
        limiter = ConcurrencyLimiter(1000, 100)
        lease = limiter.lease(ARN)
        fn: Any = SimpleNamespace(function_arn=ARN, version="3")
        result: Any = SimpleNamespace(duration_ms=1.25, function_error=None)
        env: Any = SimpleNamespace(init_type="on-demand")
        pool: Any = SimpleNamespace(provisioned_target=0)

        def hook() -> None:
            measure(hooks, limiter, fn, "live", result, env, pool)

        measure_s = min(timeit.repeat(hook, number=n, repeat=5)) / n
        lease.__exit__(None, None, None)
        svc._events.clear()
        for _ in range(n):
            one()
        t0 = time.perf_counter()
        with svc._lock:
            svc._drain()
        drain_s = (time.perf_counter() - t0) / n
        svc.store.close()
    return call_s * 1e6, measure_s * 1e6, drain_s * 1e6


def day_of_data(endpoint: str) -> list[tuple[str, float]]:
    cw = aws_client(endpoint, "cloudwatch")
    # Hour-aligned, so that Period 3600 is read from the hourly buckets.
    end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=1)
    # PutMetricData takes timestamps up to two weeks old: a day of minutes, 60 values each.
    values = [float(v) for v in range(1, 61)]
    data = [{"MetricName": "Latency", "Dimensions": [{"Name": "Service", "Value": "api"}],
             "Timestamp": start + dt.timedelta(minutes=m), "Values": values,
             "Unit": "Milliseconds"} for m in range(1440)]  # fmt: skip
    t0 = time.perf_counter()
    for i in range(0, len(data), 500):
        cw.put_metric_data(Namespace="Bench", MetricData=data[i : i + 500])
    put_s = time.perf_counter() - t0
    metric = {"Namespace": "Bench", "MetricName": "Latency",
              "Dimensions": [{"Name": "Service", "Value": "api"}]}  # fmt: skip
    out = [("PutMetricData of the day (1440 datums x 60 values), s", put_s)]
    cases = (("Sum + p99, Period 60 (2 x 1440 points)", 60, ("Sum", "p99")),
             ("Sum, Period 3600 (24 hourly points)", 3600, ("Sum",)))  # fmt: skip
    for label, period, stats in cases:
        queries = [{"Id": f"q{i}", "MetricStat": {"Metric": metric, "Period": period, "Stat": s}}
                   for i, s in enumerate(stats)]  # fmt: skip
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            got = cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
            times.append((time.perf_counter() - t0) * 1000)
        points = sum(len(r["Values"]) for r in got["MetricDataResults"])
        assert points == len(stats) * (1440 if period == 60 else 24), points
        out.append((f"GetMetricData over a day, {label}, p50 ms", median(times)))
    return out


def run() -> str:
    call_us, measure_us, drain_us = publishing_cost()
    rows = [
        ("per invoke: the hook's call (deque append), µs", f"{call_us:.2f}", "", "", ""),
        ("per invoke: the invoker's whole hook (concurrency counts + call), µs",
         f"{measure_us:.2f}", "", "", "on the invoke path"),
        ("per invoke: deferred aggregation at flush (~20 datapoints), µs", f"{drain_us:.1f}",
         "", "", "not on the invoke path"),
    ]  # fmt: skip
    with shoal_server() as endpoint:
        for what, value in day_of_data(endpoint):
            rows.append((what, f"{value:.1f}" if value >= 10 else f"{value:.2f}", "", "", ""))
    return table("CloudWatch metrics", rows)


if __name__ == "__main__":
    print(run())
