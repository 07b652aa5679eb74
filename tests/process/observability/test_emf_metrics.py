"""Embedded Metric Format lines in a function's logs become custom metrics: hand-written ones
(several dimension sets, several metrics, arrays of values) and Powertools' ``Metrics``
(the real package in the function's zip, ColdStart included)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import aws_lambda_powertools
import jmespath
import typing_extensions
from metrics_helpers import metrics_server, total

from conftest import ROLE, RUNTIME, ShoalServer, create_function, unique_name, wait_for

__all__ = ["metrics_server"]

EMF_CODE = """
import json, time
def handler(event, context):
    ns = event["ns"]
    print(json.dumps({
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
            "Namespace": ns, "Dimensions": [["Service"], ["Service", "Op"], []],
            "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"},
                        {"Name": "Bytes", "Unit": "Bytes", "StorageResolution": 1}]}]},
        "Service": "api", "Op": "get", "Latency": [10, 20, 30], "Bytes": 512,
        "RequestId": context.aws_request_id}))
    # Not EMF: a dimension names a member the document does not have.
    print(json.dumps({"_aws": {"Timestamp": 0, "CloudWatchMetrics": [{"Namespace": ns,
        "Dimensions": [["Missing"]], "Metrics": [{"Name": "Ghost"}]}]}, "Ghost": 1}))
    return "ok"
"""


def test_emf_lines_become_metrics(metrics_server: ShoalServer) -> None:
    lam = metrics_server.client("lambda")
    cw = metrics_server.client("cloudwatch")
    name = create_function(lam, code=EMF_CODE)
    ns = unique_name("Emf")
    for _ in range(2):
        lam.invoke(FunctionName=name, Payload=json.dumps({"ns": ns}).encode())
    svc = {"Service": "api"}
    # EMF is read from the stored logs, off the invoke path: the metrics follow shortly after.
    wait_for(lambda: total(cw, ns, "Latency", svc, "SampleCount") == 6)
    assert total(cw, ns, "Latency", svc) == 120
    assert total(cw, ns, "Latency", {**svc, "Op": "get"}) == 120
    assert total(cw, ns, "Latency", {}, "Maximum") == 30
    assert total(cw, ns, "Bytes", svc) == 1024
    assert total(cw, ns, "Ghost", {"Missing": "x"}) is None
    listed = {(m["MetricName"], len(m["Dimensions"]))
              for m in cw.list_metrics(Namespace=ns)["Metrics"]}  # fmt: skip
    assert listed == {("Latency", 0), ("Latency", 1), ("Latency", 2), ("Bytes", 0), ("Bytes", 1),
                      ("Bytes", 2)}  # fmt: skip


POWERTOOLS_CODE = """
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics(namespace="{ns}", service="orders")

@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=event["n"])
    return "ok"
"""


def _package(root: Path, zf: zipfile.ZipFile) -> None:
    if root.is_file():
        zf.write(root, root.name)
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            zf.write(path, str(path.relative_to(root.parent)))


def test_powertools_metrics_end_to_end(metrics_server: ShoalServer) -> None:
    lam = metrics_server.client("lambda")
    cw = metrics_server.client("cloudwatch")
    ns = unique_name("Powertools")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", POWERTOOLS_CODE.format(ns=ns))
        for module in (aws_lambda_powertools, jmespath):
            _package(Path(module.__file__).parent, zf)  # type: ignore[arg-type]
        _package(Path(typing_extensions.__file__), zf)  # type: ignore[arg-type]
    name = unique_name("pt")
    lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": buf.getvalue()}, Timeout=30)  # fmt: skip
    waiter = lam.get_waiter("function_active_v2")
    waiter.wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})
    for n in (2, 3, 4):
        r = lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}).encode())
        assert "FunctionError" not in r, r["Payload"].read()
    wait_for(lambda: total(cw, ns, "OrdersPlaced", {"service": "orders"}, "SampleCount") == 3)
    assert total(cw, ns, "OrdersPlaced", {"service": "orders"}) == 9
    assert total(cw, ns, "OrdersPlaced", {"service": "orders"}, "SampleCount") == 3
    # One environment, one cold start.
    assert total(cw, ns, "ColdStart", {"function_name": name, "service": "orders"}) == 1


def test_emf_is_not_mistaken_for_an_unrelated_function(metrics_server: ShoalServer) -> None:
    """A plain print of JSON with an ``_aws`` key but no CloudWatchMetrics: no metric."""
    lam = metrics_server.client("lambda")
    cw = metrics_server.client("cloudwatch")
    ns = unique_name("NotEmf")
    code = ("import json\ndef handler(e, c):\n"
            f"    print(json.dumps({{'_aws': {{'Namespace': '{ns}'}}, 'x': 1}}))\n")  # fmt: skip
    name = create_function(lam, code=code)
    lam.invoke(FunctionName=name, Payload=b"{}")
    assert cw.list_metrics(Namespace=ns)["Metrics"] == []
