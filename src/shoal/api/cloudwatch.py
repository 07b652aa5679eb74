"""CloudWatch's metric operations: PutMetricData, GetMetricStatistics, ListMetrics.

CloudWatch answers in three protocols — smithy-rpc-v2-cbor and json 1.0 (``RpcApiService``,
boto3's choice) and ``query`` (``Action=PutMetricData&Version=2010-08-01``, what AWS CLI v2
and older SDKs send) — so each handler is registered with both routers (:func:`handles`).
Errors use the query codes the model keys them by (``InvalidParameterValue``,
``InvalidParameterCombination``, ``MissingParameter``), worded as CloudWatch words them; the
data lives in :mod:`shoal.observability.metrics`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import Any

from shoal.api.dispatch import Call
from shoal.api.query_router import cloudwatch_form_api
from shoal.api.rpc_router import RpcApiService
from shoal.errors import AwsError
from shoal.observability.metrics import MetricService, dims_key
from shoal.observability.stats import is_percentile

cloudwatch_api = RpcApiService("cloudwatch")

MAX_DATAPOINTS = 1440
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
HIGH_RES_PERIODS = (1, 5, 10, 30)
# CloudWatch's value range (larger or smaller magnitudes are refused).
MAX_VALUE = 2**360
MIN_MAGNITUDE = 2**-260


SyncHandler = Callable[[Call], Mapping[str, Any] | None]


def handles(operation: str) -> Callable[[SyncHandler], SyncHandler]:
    """Register ``fn`` for ``operation`` in the json/cbor router and the query router. The
    handlers are plain functions run in a worker thread: a day of data read or a flush
    written never holds up the event loop, and so the invocations."""

    def register(fn: SyncHandler) -> SyncHandler:
        async def threaded(call: Call) -> Mapping[str, Any] | None:
            return await asyncio.to_thread(fn, call)

        threaded.__name__ = fn.__name__
        cloudwatch_api.handles(operation)(threaded)
        cloudwatch_form_api.handles(operation)(threaded)
        return fn

    return register


def metrics_of(call: Call) -> MetricService:
    service: MetricService = call.shoal.metrics
    return service


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValue", message, 400)


def combination(message: str) -> AwsError:
    return AwsError("InvalidParameterCombination", message, 400)


def missing(message: str) -> AwsError:
    return AwsError("MissingParameter", message, 400)


def epoch(value: dt.datetime | float) -> float:
    if isinstance(value, int | float):
        return float(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def dimensions(items: list[Mapping[str, Any]] | None) -> tuple[tuple[str, str], ...]:
    return dims_key((d["Name"], d["Value"]) for d in items or ())


def _shown(value: float) -> str:
    """A value as CloudWatch's messages show it (``NaN``, ``Infinity``, ``1.5``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _check_value(value: float, where: str) -> None:
    if math.isnan(value) or math.isinf(value) or abs(value) > MAX_VALUE or (
        value != 0 and abs(value) < MIN_MAGNITUDE
    ):
        raise invalid(f"The value {_shown(value)} for parameter {where} is invalid.")


# ------------------------------------------------------------------ PutMetricData


# PutMetricData's request limit: 1 MB as sent (gzip-compressed when the client compresses).
MAX_PUT_BYTES = 1_048_576


@handles("PutMetricData")
def put_metric_data(call: Call) -> dict[str, Any]:
    p = call.params
    size = int(call.headers.get("content-length") or 0)
    if size > MAX_PUT_BYTES:  # AWS's 413, as its clients report it
        raise AwsError("RequestEntityTooLarge",
                       f"Request size {size} exceeded {MAX_PUT_BYTES} bytes", 413)  # fmt: skip
    namespace = p["Namespace"]
    if namespace.startswith("AWS/"):
        raise invalid(f"The value {namespace} for parameter Namespace is invalid.")
    data = p.get("MetricData")
    if not data:
        raise missing("The parameter MetricData is required.")
    if len(data) > 1000:
        raise invalid("The collection MetricData must not have a size greater than 1000.")
    metrics = metrics_of(call)
    now = metrics.clock()
    prepared = [_datum(call.region, namespace, d, i, now) for i, d in enumerate(data, 1)]
    if not metrics.store.room_for(args[0] for args in prepared):
        limit = metrics.store.max_series
        raise AwsError("LimitExceeded", f"This server keeps at most {limit} metrics "
                       "(SHOAL_METRICS_MAX_SERIES); no more can be created.", 400)  # fmt: skip
    for args in prepared:
        metrics.put(*args)
    metrics.flush()  # kept before the answer, as AWS acknowledges it
    return {}


def _datum(region: str, namespace: str, d: Mapping[str, Any], i: int, now: float
           ) -> tuple[Any, ...]:  # fmt: skip
    where = f"MetricData.member.{i}"
    dims = d.get("Dimensions") or []
    if len(dims) > 30:
        raise invalid(f"The collection {where}.Dimensions must not have a size greater than 30.")
    names = [x["Name"] for x in dims]
    if len(set(names)) != len(names):
        raise invalid(f"No metric may have duplicate dimension names ({where}.Dimensions).")
    res = d.get("StorageResolution", 60)
    if res not in (1, 60):
        raise invalid(f"The value {res} for parameter {where}.StorageResolution is invalid.")
    ts = epoch(d["Timestamp"]) if d.get("Timestamp") is not None else now
    if ts > now + 2 * 3600:
        raise invalid(
            f"The parameter {where}.Timestamp must specify a time no more than two hours in "
            "the future."
        )
    if ts < now - 14 * 86400:
        raise invalid(f"The parameter {where}.Timestamp must specify a time within the past two "
                      "weeks.")  # fmt: skip
    given = [k for k in ("Value", "StatisticValues", "Values") if d.get(k) is not None]
    if "Value" in given and len(given) > 1:  # Values with StatisticValues AWS takes (both)
        raise combination(
            f"The parameters {where}.Value and {where}.{given[1]} are mutually exclusive "
            "and you have specified both."
        )
    if not given:
        raise missing(f"The parameter {where}.Value is required.")
    values: list[tuple[float, float]] = []
    statistics = None
    if "Value" in given:
        _check_value(d["Value"], f"{where}.Value")
        values = [(d["Value"], 1.0)]
    if "Values" in given:
        vs = d["Values"]
        counts = d.get("Counts") or [1.0] * len(vs)
        if len(vs) > 150:
            raise invalid(f"The collection {where}.Values must not have a size greater than 150.")
        if len(counts) != len(vs):
            raise invalid(
                f"The parameters {where}.Values and {where}.Counts must be of the same size."
            )
        for v in vs:
            _check_value(v, f"{where}.Values")
        values = list(zip(vs, counts, strict=True))
    if "StatisticValues" in given:
        s = d["StatisticValues"]
        for name in ("SampleCount", "Sum", "Minimum", "Maximum"):
            if name not in s:
                raise missing(f"The parameter {where}.StatisticValues.{name} is required.")
            _check_value(s[name], f"{where}.StatisticValues.{name}")
        if s["SampleCount"] <= 0:
            raise invalid(f"The value {s['SampleCount']} for parameter "
                          f"{where}.StatisticValues.SampleCount is invalid.")  # fmt: skip
        statistics = (s["SampleCount"], s["Sum"], s["Minimum"], s["Maximum"])
    key = (region, namespace, d["MetricName"], dimensions(dims))
    return key, ts, d.get("Unit") or "None", res, values, statistics


# ------------------------------------------------------------------ GetMetricStatistics


def check_period(period: int, start: float, now: float, where: str = "Period") -> None:
    """CloudWatch's rules: 1, 5, 10, 30 or a multiple of 60 (and of 300 / 3600 for data
    older than 15 / 63 days, which is kept only at those resolutions)."""
    if period <= 0 or (period not in HIGH_RES_PERIODS and period % 60):
        raise invalid(f"The parameter {where} must be a multiple of 60.")
    age = now - start
    if age > 63 * 86400 and period % 3600:
        raise invalid(f"The parameter {where} must be a multiple of 3600 for data older than "
                      "63 days.")  # fmt: skip
    if age > 15 * 86400 and period % 300:
        raise invalid(f"The parameter {where} must be a multiple of 300 for data older than "
                      "15 days.")  # fmt: skip
    if age > 3 * 3600 and period % 60:
        raise invalid(f"The parameter {where} must be a multiple of 60 for data older than "
                      "3 hours.")  # fmt: skip


@handles("GetMetricStatistics")
def get_metric_statistics(call: Call) -> dict[str, Any]:
    p = call.params
    stats = p.get("Statistics") or []
    extended = p.get("ExtendedStatistics") or []
    if bool(stats) == bool(extended):
        raise combination("Must specify either Statistics or ExtendedStatistics, but not both.")
    for name in extended:
        if not is_percentile(name):
            raise invalid(f"The value {name} for parameter ExtendedStatistics is invalid.")
    start, end, period = epoch(p["StartTime"]), epoch(p["EndTime"]), p["Period"]
    if start >= end:
        raise invalid("The parameter StartTime must be less than the parameter EndTime.")
    metrics = metrics_of(call)
    check_period(period, start, metrics.clock())
    wanted = math.ceil((end - start) / period)
    if wanted > MAX_DATAPOINTS:
        raise combination(
            f"You have requested up to {wanted} datapoints, which exceeds the limit of "
            f"{MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, "
            "or decreasing the time range."
        )
    key = (call.region, p["Namespace"], p["MetricName"], dimensions(p.get("Dimensions")))
    points = []
    for (ts, unit), agg in sorted(metrics.buckets(key, start, end, period, p.get("Unit")).items()):
        point: dict[str, Any] = {"Timestamp": float(ts), "Unit": unit}
        for name in stats:
            value = agg.statistic(name)
            if value is not None:
                point[name] = value
        if extended:
            found = {n: v for n in extended if (v := agg.statistic(n)) is not None}
            point["ExtendedStatistics"] = found
        points.append(point)
    return {"Label": p["MetricName"], "Datapoints": points}


# ------------------------------------------------------------------ ListMetrics

LIST_PAGE = 500


@handles("ListMetrics")
def list_metrics(call: Call) -> dict[str, Any]:
    p = call.params
    metrics = metrics_of(call)
    filters = p.get("Dimensions") or []
    # CloudWatch lists the metrics with data in the last two weeks (the last 3 hours, asked).
    since = metrics.clock() - (3 * 3600 if p.get("RecentlyActive") == "PT3H" else 14 * 86400)
    try:
        offset = int(p.get("NextToken") or 0)
    except ValueError:
        raise AwsError("InvalidNextToken", "The service couldn't process the NextToken.") from None
    found = []
    for (_, ns, name, dims), last in metrics.series(call.region):
        if p.get("Namespace") not in (None, ns) or p.get("MetricName") not in (None, name):
            continue
        have = dict(dims)
        if any(f["Name"] not in have or f.get("Value") not in (None, have[f["Name"]])
               for f in filters):  # fmt: skip
            continue
        if last < since:
            continue
        found.append({
            "Namespace": ns, "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
        })  # fmt: skip
    page = found[offset : offset + LIST_PAGE]
    out: dict[str, Any] = {"Metrics": page}
    if offset + LIST_PAGE < len(found):
        out["NextToken"] = str(offset + LIST_PAGE)
    return out
