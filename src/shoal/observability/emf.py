"""The Embedded Metric Format: metrics written as JSON log lines, extracted as CloudWatch
extracts them from a function's logs.

A line is an EMF document when it is a JSON object with ``_aws.CloudWatchMetrics``::

    {"_aws": {"Timestamp": 1700000000000, "CloudWatchMetrics": [{"Namespace": "App",
       "Dimensions": [["Service"], ["Service", "Op"]],
       "Metrics": [{"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1}]}]},
     "Service": "api", "Op": "get", "Latency": [12, 15]}

Each directive's every metric is published once per dimension set (``[]`` is the set with no
dimension), with its value (a number, or an array of up to 100 numbers) and the dimensions'
values read from the document's top-level members. As CloudWatch does, a document that breaks
the specification (no namespace or one of AWS's own ``AWS/…``, a dimension or metric member
missing or of the wrong type,
more than 30 dimensions in a set, more than 100 metrics in a directive) yields no metric at
all; the line stays an ordinary log event either way. :func:`extract` is pure;
:func:`attach` subscribes it to the function logs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shoal.observability.logs import LogService
    from shoal.observability.logstore import Pending
    from shoal.observability.metrics import MetricService

UNITS = frozenset(
    "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits "
    "Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second "
    "Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second "
    "Megabits/Second Gigabits/Second Terabits/Second Count/Second None".split()
)
MAX_DIMENSIONS = 30
MAX_METRICS = 100
MAX_VALUES = 100


@dataclass(frozen=True)
class Datapoint:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    values: tuple[float, ...]
    unit: str
    resolution: int  # 1 (high resolution) or 60
    timestamp_ms: int


def extract(message: str, timestamp_ms: int) -> list[Datapoint]:
    """The metrics of one log message (none for a line that is not valid EMF);
    ``timestamp_ms`` is the event's, used when the document has no ``_aws.Timestamp``."""
    if '"_aws"' not in message:
        return []
    try:
        doc = json.loads(message)
    except ValueError:
        return []
    try:
        return _points(doc, timestamp_ms)
    except _Invalid:
        return []


class _Invalid(Exception):
    pass


def _points(doc: Any, timestamp_ms: int) -> list[Datapoint]:
    meta = doc.get("_aws") if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("CloudWatchMetrics"), list):
        return []
    ts = meta.get("Timestamp", timestamp_ms)
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise _Invalid
    out: list[Datapoint] = []
    for directive in meta["CloudWatchMetrics"]:
        if not isinstance(directive, dict):
            raise _Invalid
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
            raise _Invalid
        if namespace.startswith("AWS/"):  # AWS's own: no function may forge AWS/Lambda's
            raise _Invalid
        dimension_sets = directive.get("Dimensions", [[]])
        metrics = directive.get("Metrics")
        if not isinstance(dimension_sets, list) or not isinstance(metrics, list):
            raise _Invalid
        if len(metrics) > MAX_METRICS:
            raise _Invalid
        sets = [_dimension_set(doc, names) for names in dimension_sets] or [()]
        for metric in metrics:
            name, unit, resolution = _definition(metric)
            values = _values(doc.get(name))
            for dims in sets:
                out.append(Datapoint(namespace, name, dims, values, unit, resolution, int(ts)))
    return out


def _dimension_set(doc: dict[str, Any], names: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(names, list) or len(names) > MAX_DIMENSIONS:
        raise _Invalid
    dims = []
    for name in names:
        value = doc.get(name) if isinstance(name, str) else None
        if not isinstance(value, str) or not value:
            raise _Invalid
        dims.append((name, value))
    return tuple(sorted(dims))


def _definition(metric: Any) -> tuple[str, str, int]:
    if not isinstance(metric, dict):
        raise _Invalid
    name = metric.get("Name")
    unit = metric.get("Unit", "None")
    resolution = metric.get("StorageResolution", 60)
    if not isinstance(name, str) or not name or unit not in UNITS or resolution not in (1, 60):
        raise _Invalid
    return name, unit, resolution


def _values(value: Any) -> tuple[float, ...]:
    items = value if isinstance(value, list) else [value]
    if not 1 <= len(items) <= MAX_VALUES:
        raise _Invalid
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
            raise _Invalid
    return tuple(float(v) for v in items)


def subscriber(metrics: MetricService):  # type: ignore[no-untyped-def]
    """The log subscriber (``callback(group, stream, event)``, after the event is stored) that
    publishes EMF lines as custom metrics of the event's region."""

    def on_event(group: str, stream: str, event: Pending) -> None:
        message = event.message
        if '"_aws"' not in message:  # the cheap test every log line takes
            return
        for p in extract(message, event.ts):
            key = (event.region or metrics.region, p.namespace, p.name, p.dimensions)
            metrics.publish_values(key, p.timestamp_ms / 1000, p.unit, p.resolution, p.values)

    return on_event


def attach(logs: LogService, metrics: MetricService) -> None:
    logs.subscribe(subscriber(metrics))
