"""``GET /metrics``: every CloudWatch series of the server in Prometheus' exposition format.

Each metric is a Prometheus *summary* — ``<namespace>_<name>_count`` (CloudWatch's
SampleCount) and ``<namespace>_<name>_sum`` (its Sum), both totals since the series began, so
``rate()`` works on them — named in snake case (``AWS/Lambda`` ``Duration`` →
``aws_lambda_duration``), labelled with its dimensions in snake case (``function_name``,
``resource``), its ``region`` and its ``unit``. Totals come from the hourly buckets (kept 455
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

from prometheus_client.core import Metric, SummaryMetricFamily
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
        families: dict[str, SummaryMetricFamily] = {}
        labelled: dict[str, list[str]] = {}
        rows = self.metrics.totals()
        for (_, namespace, name, dims), _, _, _ in rows:
            fam = family_name(namespace, name)
            labels = ["region", "unit", *(snake(k) for k, _ in dims)]
            # One family, one label set: series of the same metric with other dimensions are
            # the same family with the missing labels empty.
            known = labelled.setdefault(fam, [])
            for label in labels:
                if label not in known:
                    known.append(label)
        for (region, namespace, name, dims), unit, count, total in rows:
            fam = family_name(namespace, name)
            known = labelled[fam]
            given = dict(zip(["region", "unit", *(snake(k) for k, _ in dims)],
                             [region, unit, *(v for _, v in dims)], strict=True))  # fmt: skip
            family = families.get(fam)
            if family is None:
                family = families[fam] = SummaryMetricFamily(
                    fam, f"CloudWatch {namespace} {name}", labels=known
                )
            # SampleCount is a float in CloudWatch (StatisticValues); Prometheus' count too.
            family.add_metric([given.get(k, "") for k in known], count, total)  # type: ignore[arg-type]
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
