"""``GET /metrics``: every CloudWatch series of the server in Prometheus' exposition format.

Each metric is a Prometheus *summary* — ``<namespace>_<name>_count`` (CloudWatch's
SampleCount) and ``<namespace>_<name>_sum`` (its Sum), both totals since the series began, so
``rate()`` works on them — named in snake case (``AWS/Lambda`` ``Duration`` →
``aws_lambda_duration``), labelled with its dimensions in snake case (``function_name``,
``resource``; a series has only its own dimensions' labels, so the account-level aggregate has
none), its ``region`` and its ``unit``. Totals come from the hourly buckets (kept 455
days), so a scrape costs one grouped query whatever the traffic.

Who may scrape (:mod:`shoal.api.metrics_endpoint` decides): a request SigV4-signed (service
``monitoring``) by root or by a principal allowed ``cloudwatch:GetMetricData``, or one with
``Authorization: Bearer <token>`` where the token is the one in ``<data>/metrics-token`` (0600,
made by root with ``shoal metrics-token``; no file, no bearer access). Everyone else gets 403.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

if TYPE_CHECKING:
    from shoal.observability.metrics import MetricService

TOKEN_FILE = "metrics-token"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def snake(name: str) -> str:
    return _INVALID.sub("_", _CAMEL.sub("_", name)).lower().strip("_") or "_"


def family_name(namespace: str, name: str) -> str:
    out = f"{snake(namespace)}_{snake(name)}"
    return out if not out[0].isdigit() else f"_{out}"


class _Series(Collector):
    def __init__(self, metrics: MetricService) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        # A family's series keep their own labels (the aggregate has none of the dimension
        # labels): the exposition format allows it, and it is how CloudWatch tells them apart.
        families: dict[str, Metric] = {}
        for (region, namespace, name, dims), unit, count, total in self.metrics.totals():
            fam = family_name(namespace, name)
            family = families.get(fam)
            if family is None:
                family = families[fam] = Metric(fam, f"CloudWatch {namespace} {name}", "summary")
            labels = {"region": region, "unit": unit, **{snake(k): v for k, v in dims}}
            family.add_sample(f"{fam}_count", labels, count)
            family.add_sample(f"{fam}_sum", labels, total)
        yield from families.values()


def exposition(metrics: MetricService) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Series(metrics))
    return generate_latest(registry)


def token_path(data_dir: Path) -> Path:
    return data_dir / TOKEN_FILE


def bearer_ok(data_dir: Path, header: str) -> bool:
    if not header.startswith("Bearer "):
        return False
    try:
        expected = token_path(data_dir).read_text().strip()
    except OSError:
        return False
    given = header[len("Bearer ") :].strip()
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
