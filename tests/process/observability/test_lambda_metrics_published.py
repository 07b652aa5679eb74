"""The AWS/Lambda metrics Shoal publishes: exact counts after known traffic, with Lambda's
names, units and dimensions, read back with boto3."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from metrics_helpers import metrics_server, total, window

from conftest import ShoalServer, create_function, wait_for

__all__ = ["metrics_server"]

CODE = """
import time
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    time.sleep(event.get("sleep", 0))
    return {"ok": True}
"""


def test_invocations_errors_duration_by_function_resource_and_version(
    metrics_server: ShoalServer,
) -> None:
    lam = metrics_server.client("lambda")
    cw = metrics_server.client("cloudwatch")
    name = create_function(lam, code=CODE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    for _ in range(5):
        lam.invoke(FunctionName=name, Payload=b"{}")
    for _ in range(2):
        r = lam.invoke(FunctionName=name, Payload=json.dumps({"fail": True}).encode())
        assert r["FunctionError"] == "Unhandled"
    for _ in range(3):
        lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")
    lam.invoke(FunctionName=f"{name}:{version}", Payload=b"{}")
    ns = "AWS/Lambda"
    fn = {"FunctionName": name}
    assert total(cw, ns, "Invocations", fn) == 11
    assert total(cw, ns, "Errors", fn) == 2
    assert total(cw, ns, "Invocations", {**fn, "Resource": name}) == 7
    assert total(cw, ns, "Invocations", {**fn, "Resource": f"{name}:live"}) == 3
    assert total(cw, ns, "Invocations", {**fn, "Resource": f"{name}:live",
                                         "ExecutedVersion": version}) == 3  # fmt: skip
    assert total(cw, ns, "Invocations", {**fn, "Resource": f"{name}:{version}"}) == 1
    assert total(cw, ns, "Duration", fn, "SampleCount") == 11
    assert total(cw, ns, "ConcurrentExecutions", fn, "Maximum") == 1
    assert (total(cw, ns, "Invocations", {}) or 0) >= 11  # the account's aggregate
    # The account's concurrency, without dimensions, as Lambda publishes it.
    assert (total(cw, ns, "ConcurrentExecutions", {}, "Maximum") or 0) >= 1
    assert (total(cw, ns, "UnreservedConcurrentExecutions", {}, "Maximum") or 0) >= 1
    start, end = window()
    (point,) = cw.get_metric_statistics(
        Namespace=ns, MetricName="Duration", Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=start, EndTime=end, Period=1200, Statistics=["Maximum"],
    )["Datapoints"]  # fmt: skip
    assert point["Unit"] == "Milliseconds" and 0 < point["Maximum"] < 5000
    listed = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "FunctionName", "Value": name}])
    names = {m["MetricName"] for m in listed["Metrics"]}
    assert {"Invocations", "Errors", "Duration", "ConcurrentExecutions"} <= names


def test_throttles_are_counted_and_not_invocations(metrics_server: ShoalServer) -> None:
    lam = metrics_server.client("lambda")
    cw = metrics_server.client("cloudwatch")
    name = create_function(lam, code=CODE)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    for _ in range(3):
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName=name, Payload=b"{}")
        assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    fn = {"FunctionName": name}
    assert total(cw, "AWS/Lambda", "Throttles", fn) == 3
    assert total(cw, "AWS/Lambda", "Invocations", fn) is None


def test_async_events_received_and_age(metrics_server: ShoalServer) -> None:
    lam = metrics_server.client("lambda")
    cw = metrics_server.client("cloudwatch")
    name = create_function(lam, code=CODE)
    for _ in range(4):
        assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")[
            "StatusCode"] == 202  # fmt: skip
    fn = {"FunctionName": name}
    assert total(cw, "AWS/Lambda", "AsyncEventsReceived", fn) == 4
    wait_for(lambda: total(cw, "AWS/Lambda", "Invocations", fn) == 4, timeout=60)
    assert total(cw, "AWS/Lambda", "AsyncEventAge", fn, "SampleCount") == 4
    assert total(cw, "AWS/Lambda", "AsyncEventsDropped", fn) is None



def test_provisioned_concurrency_metrics(metrics_server: ShoalServer) -> None:
    lam = metrics_server.client("lambda")
    cw = metrics_server.client("cloudwatch")
    name = create_function(lam, code=CODE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                           ProvisionedConcurrentExecutions=2)  # fmt: skip
    wait_for(lambda: lam.get_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version)["Status"] == "READY", timeout=60)  # fmt: skip
    for _ in range(3):
        lam.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")
    res = {"FunctionName": name, "Resource": f"{name}:{version}"}
    ns = "AWS/Lambda"
    assert total(cw, ns, "ProvisionedConcurrencyInvocations", res) == 3
    assert total(cw, ns, "ProvisionedConcurrencySpilloverInvocations", res) is None
    assert total(cw, ns, "ProvisionedConcurrentExecutions", res, "Maximum") == 1
    assert total(cw, ns, "ProvisionedConcurrencyUtilization", res, "Maximum") == 0.5


def test_async_events_dropped_and_destination_failures(metrics_server: ShoalServer) -> None:
    lam = metrics_server.client("lambda")
    cw = metrics_server.client("cloudwatch")
    name = create_function(lam, code=CODE)
    target = create_function(lam, code=CODE)
    arn = lam.get_function(FunctionName=target)["Configuration"]["FunctionArn"]
    on_failure = {"OnFailure": {"Destination": arn}}
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig=on_failure
    )
    lam.delete_function(FunctionName=target)  # the destination is gone when the event fails
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true}')
    fn = {"FunctionName": name}
    wait_for(lambda: total(cw, "AWS/Lambda", "AsyncEventsDropped", fn) == 1, timeout=60)
    assert total(cw, "AWS/Lambda", "Errors", fn) == 1
    wait_for(lambda: total(cw, "AWS/Lambda", "DestinationDeliveryFailures", fn) == 1, timeout=10)


def test_an_async_invocation_of_an_alias_is_the_aliass(metrics_server: ShoalServer) -> None:
    lam = metrics_server.client("lambda")
    cw = metrics_server.client("cloudwatch")
    name = create_function(lam, code=CODE)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion=version)
    lam.invoke(FunctionName=name, Qualifier="prod", InvocationType="Event", Payload=b"{}")
    dims = {"FunctionName": name, "Resource": f"{name}:prod", "ExecutedVersion": version}
    wait_for(lambda: total(cw, "AWS/Lambda", "Invocations", dims) == 1, timeout=60)
    assert total(cw, "AWS/Lambda", "AsyncEventsReceived", dims) == 1
