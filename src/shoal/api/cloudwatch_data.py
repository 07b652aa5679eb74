"""CloudWatch's GetMetricData: several queries at once, paged, with simple metric math.

Each ``MetricStat`` query is one statistic of one metric per period (the periods that have
data, as CloudWatch answers them); an ``Expression`` combines the others by ``Id``: arithmetic
(``m1 + m2``, ``m1 * 100 / m2``; series are joined on their timestamps) and ``SUM``, ``AVG``,
``MIN``, ``MAX`` over ``METRICS()`` (every MetricStat query of the request) or a list
(``SUM([m1, m2])``). Other functions are refused with ``InvalidParameterValue``.

Pages: ``MaxDatapoints`` (default 100,800) counts the datapoints of all the answer's results;
a result cut by the page says ``PartialData`` and the rest follows with ``NextToken`` (an
offset into the same answer, bound to the request's queries and times).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from shoal.api.cloudwatch import (
    STATISTICS,
    check_period,
    dimensions,
    epoch,
    handles,
    invalid,
    metrics_of,
)
from shoal.api.dispatch import Call
from shoal.errors import AwsError
from shoal.observability.metrics import MetricService
from shoal.observability.stats import Agg, is_percentile

DEFAULT_MAX_DATAPOINTS = 100_800
MAX_EXPRESSION = 2048  # the model's MetricExpression max
Series = dict[int, float]  # period start -> value
_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}  # fmt: skip
_REDUCE: dict[str, Callable[[list[float]], float]] = {
    "SUM": sum, "AVG": lambda v: sum(v) / len(v), "MIN": min, "MAX": max,
}  # fmt: skip


def metric_series(metrics: MetricService, region: str, stat: Mapping[str, Any], start: float,
                  end: float) -> tuple[Series, set[str]]:  # fmt: skip
    """The statistic per period, and the units its data had (several when no Unit is asked:
    CloudWatch then answers them together, with a ``MultipleUnits`` message)."""
    metric = stat["Metric"]
    key = (region, metric.get("Namespace", ""), metric.get("MetricName", ""),
           dimensions(metric.get("Dimensions")))  # fmt: skip
    merged: dict[int, Agg] = {}
    units: set[str] = set()
    for (ts, unit), agg in metrics.buckets(key, start, end, stat["Period"],
                                           stat.get("Unit")).items():  # fmt: skip
        units.add(unit)
        if ts in merged:
            merged[ts].merge(agg)
        else:
            merged[ts] = agg
    out: Series = {}
    for ts, agg in merged.items():
        value = agg.statistic(stat["Stat"])
        if value is not None:
            out[ts] = value
    return out, units


def default_labels(queries: list[Mapping[str, Any]]) -> dict[str, str]:
    """CloudWatch's label of a MetricStat query without one: the metric's name, followed by
    its statistic when the request's queries have several, and by its period when they
    have several periods (``metric1 Sum 60``)."""
    stats = [q["MetricStat"] for q in queries if "MetricStat" in q]
    several_stats = len({s["Stat"] for s in stats}) > 1
    several_periods = len({s["Period"] for s in stats}) > 1
    out = {}
    for q in queries:
        if "MetricStat" in q:
            s = q["MetricStat"]
            words = [s["Metric"].get("MetricName", q["Id"])]
            if several_stats:
                words.append(s["Stat"])
            if several_periods:
                words.append(str(s["Period"]))
            out[q["Id"]] = " ".join(words)
        else:
            out[q["Id"]] = q["Id"]
    return out


class _Math:
    """Evaluates one expression over the request's other results."""

    def __init__(self, results: Mapping[str, Series], metric_ids: list[str], where: str) -> None:
        self.results = results
        self.metric_ids = metric_ids
        self.where = where

    def bad(self, why: str) -> AwsError:
        return invalid(f"Error in expression {self.where}: {why}")

    def value(self, node: ast.AST) -> Series | float | list[Series]:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in self.results:
                raise self.bad(f"Unrecognized metric id {node.id}")
            return self.results[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return self.binary(operator.mul, -1.0, self.value(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return self.binary(_BINARY[type(node.op)], self.value(node.left),
                               self.value(node.right))  # fmt: skip
        if isinstance(node, ast.List):
            return [self.series(self.value(e)) for e in node.elts]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self.call(node.func.id, node.args)
        raise self.bad("Unsupported syntax")

    def series(self, value: Any) -> Series:
        if not isinstance(value, dict):
            raise self.bad("Expected a time series")
        return value

    def call(self, name: str, args: list[ast.expr]) -> Series | list[Series]:
        if name == "METRICS" and not args:
            return [self.results[i] for i in self.metric_ids]
        if name in _REDUCE and len(args) == 1:
            found = self.value(args[0])
            many = found if isinstance(found, list) else [self.series(found)]
            stamps = sorted({ts for s in many for ts in s})
            reduce = _REDUCE[name]
            return {ts: reduce([s[ts] for s in many if ts in s]) for ts in stamps}
        raise self.bad(f"Unsupported function {name}")

    def binary(self, op: Callable[[float, float], float], a: Any, b: Any) -> Series | float:
        if isinstance(a, list) or isinstance(b, list):
            raise self.bad("Arrays of time series are only taken by SUM, AVG, MIN and MAX")

        def safe(x: float, y: float) -> float:
            try:
                return op(x, y)
            except ArithmeticError:  # x / 0, 10 ** 400: no datapoint, as CloudWatch drops them
                return math.nan

        if isinstance(a, dict) and isinstance(b, dict):
            return {ts: safe(a[ts], b[ts]) for ts in a if ts in b}
        if isinstance(a, dict):
            return {ts: safe(v, b) for ts, v in a.items()}
        if isinstance(b, dict):
            return {ts: safe(a, v) for ts, v in b.items()}
        return safe(a, b)


def _evaluate(expression: str, results: Mapping[str, Series], metric_ids: list[str],
              where: str) -> Series:  # fmt: skip
    evaluator = _Math(results, metric_ids, where)
    if len(expression) > MAX_EXPRESSION:
        raise evaluator.bad(f"Expressions are at most {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression, mode="eval")
        found = evaluator.value(tree.body)
    except (SyntaxError, RecursionError, MemoryError):
        raise evaluator.bad("Syntax error") from None
    if isinstance(found, list):
        raise evaluator.bad("The expression must return one time series")
    if not isinstance(found, dict):
        raise evaluator.bad("The expression must return a time series")
    return {ts: v for ts, v in found.items() if not math.isnan(v)}


def _check_query(q: Mapping[str, Any], where: str, now: float, start: float) -> None:
    if not _ID.match(q["Id"]):
        raise invalid(f"The value {q['Id']} for parameter {where}.Id is invalid.")
    if ("MetricStat" in q) == ("Expression" in q):
        raise AwsError("InvalidParameterCombination",
                       f"Exactly one of {where}.MetricStat and {where}.Expression must be "
                       "specified.", 400)  # fmt: skip
    stat = q.get("MetricStat")
    if stat is not None:
        if stat["Stat"] not in STATISTICS and not is_percentile(stat["Stat"]):
            raise invalid(f"The value {stat['Stat']} for parameter {where}.MetricStat.Stat is "
                          "invalid.")  # fmt: skip
        check_period(stat["Period"], start, now, f"{where}.MetricStat.Period")


def _token(p: Mapping[str, Any], offset: int) -> str:
    raw = json.dumps({"o": offset, "h": _request_hash(p)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _request_hash(p: Mapping[str, Any]) -> str:
    bound = {k: p.get(k) for k in ("MetricDataQueries", "StartTime", "EndTime", "ScanBy")}
    return hashlib.sha256(json.dumps(bound, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _offset(p: Mapping[str, Any]) -> int:
    token = p.get("NextToken")
    if not token:
        return 0
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
        if doc["h"] == _request_hash(p):
            return int(doc["o"])
    except (ValueError, KeyError, TypeError):
        pass
    raise AwsError("InvalidNextToken", "The service couldn't process the NextToken.", 400)


@handles("GetMetricData")
def get_metric_data(call: Call) -> dict[str, Any]:
    p = call.params
    queries = p["MetricDataQueries"]
    start, end = epoch(p["StartTime"]), epoch(p["EndTime"])
    if start >= end:
        raise invalid("The parameter StartTime must be less than the parameter EndTime.")
    if len(queries) > 500:
        raise invalid("The collection MetricDataQueries must not have a size greater than 500.")
    metrics = metrics_of(call)
    now = metrics.clock()
    ids = [q["Id"] for q in queries]
    if len(set(ids)) != len(ids):
        raise invalid("The values for parameter id in MetricDataQueries are not unique.")
    for i, q in enumerate(queries, 1):
        _check_query(q, f"MetricDataQueries.member.{i}", now, start)
    results: dict[str, Series] = {}
    messages: dict[str, list[dict[str, str]]] = {}
    metric_ids = [q["Id"] for q in queries if "MetricStat" in q]
    for q in queries:
        if "MetricStat" in q:
            results[q["Id"]], units = metric_series(metrics, call.region, q["MetricStat"],
                                                    start, end)  # fmt: skip
            if len(units) > 1:
                shown = f"Multiple units returned: '[{', '.join(sorted(units))}]'"
                messages[q["Id"]] = [{"Code": "MultipleUnits", "Value": shown}]
    for i, q in enumerate(queries, 1):  # in order: an expression may name an earlier one
        if "Expression" in q:
            results[q["Id"]] = _evaluate(q["Expression"], results, metric_ids,
                                         f"MetricDataQueries.member.{i}.Expression")  # fmt: skip
    descending = p.get("ScanBy", "TimestampDescending") == "TimestampDescending"
    offset = _offset(p)
    budget = p.get("MaxDatapoints") or DEFAULT_MAX_DATAPOINTS
    labels = default_labels(queries)
    out, seen, more = [], 0, False
    for q in queries:
        if not q.get("ReturnData", True):
            continue
        stamps = sorted(results[q["Id"]], reverse=descending)
        skip = min(len(stamps), max(0, offset - seen))
        seen += len(stamps)
        take = stamps[skip : skip + budget]
        budget -= len(take)
        partial = skip + len(take) < len(stamps)
        more = more or partial
        result = {
            "Id": q["Id"], "Label": q.get("Label") or labels[q["Id"]],
            "Timestamps": [float(ts) for ts in take],
            "Values": [results[q["Id"]][ts] for ts in take],
            "StatusCode": "PartialData" if partial else "Complete",
        }  # fmt: skip
        if q["Id"] in messages:
            result["Messages"] = messages[q["Id"]]
        out.append(result)
    answer: dict[str, Any] = {"MetricDataResults": out, "Messages": []}
    if more:
        answer["NextToken"] = _token(p, offset + sum(len(r["Timestamps"]) for r in out))
    return answer
