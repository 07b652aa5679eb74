"""The Embedded Metric Format extractor, a pure function, against the specification's cases."""

from __future__ import annotations

import json

from shoal.observability.emf import Datapoint, extract


def doc(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "_aws": {"Timestamp": 1700000000000, "CloudWatchMetrics": [{
            "Namespace": "App", "Dimensions": [["Service"], ["Service", "Op"]],
            "Metrics": [{"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1},
                        {"Name": "Hits"}]}]},
        "Service": "api", "Op": "get", "Latency": [1, 2.5], "Hits": 3,
    }  # fmt: skip
    base.update(extra)
    return base


def test_several_dimension_sets_metrics_and_values() -> None:
    points = extract(json.dumps(doc()), 5)
    assert points == [
        Datapoint("App", "Latency", (("Service", "api"),), (1.0, 2.5), "Milliseconds", 1,
                  1700000000000),
        Datapoint("App", "Latency", (("Op", "get"), ("Service", "api")), (1.0, 2.5),
                  "Milliseconds", 1, 1700000000000),
        Datapoint("App", "Hits", (("Service", "api"),), (3.0,), "None", 60, 1700000000000),
        Datapoint("App", "Hits", (("Op", "get"), ("Service", "api")), (3.0,), "None", 60,
                  1700000000000),
    ]  # fmt: skip


def test_no_dimensions_and_the_events_timestamp() -> None:
    d = doc()
    meta = d["_aws"]
    assert isinstance(meta, dict)
    del meta["Timestamp"]
    meta["CloudWatchMetrics"][0]["Dimensions"] = [[]]
    points = extract(json.dumps(d), 1234)
    assert {(p.name, p.dimensions, p.timestamp_ms) for p in points} == {
        ("Latency", (), 1234), ("Hits", (), 1234)}  # fmt: skip


def test_invalid_documents_yield_nothing() -> None:
    assert extract("plain text", 0) == []
    assert extract('{"_aws": ', 0) == []
    assert extract(json.dumps({"_aws": {"Timestamp": 1}}), 0) == []  # no CloudWatchMetrics
    assert extract(json.dumps(doc(Op=7)), 0) == []  # a dimension's value must be a string
    assert extract(json.dumps(doc(Hits="3")), 0) == []  # a metric's value must be a number
    assert extract(json.dumps(doc(Latency=[])), 0) == []
    assert extract(json.dumps(doc(Latency=list(range(101)))), 0) == []
    d = doc()
    d.pop("Op")
    assert extract(json.dumps(d), 0) == []  # a dimension set names a missing member
    d = doc()
    d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "Furlongs"  # type: ignore[index]
    assert extract(json.dumps(d), 0) == []
    d = doc()
    d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = [[f"d{i}" for i in range(31)]]  # type: ignore[index]
    assert extract(json.dumps(d), 0) == []


def test_a_function_cannot_forge_aws_namespaces() -> None:
    d = doc()
    d["_aws"]["CloudWatchMetrics"][0]["Namespace"] = "AWS/Lambda"  # type: ignore[index]
    assert extract(json.dumps(d), 0) == []
