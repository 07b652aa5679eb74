"""The smithy-rpc-v2-cbor protocol against CloudWatch's real model: botocore's own serializer
makes the requests Shoal parses, and botocore's own parser reads the answers and errors Shoal
writes (CloudWatch is awsQueryCompatible: its clients take the code from x-amzn-query-error)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import botocore.parsers
import botocore.serialize
import botocore.session
import cbor2
import pytest

from shoal.api import cbor_protocol
from shoal.api.model import ServiceModel, load_model
from shoal.errors import AwsError

SESSION = botocore.session.get_session()
CW = load_model("cloudwatch")
T0 = dt.datetime(2026, 3, 1, 12, 30, 5, tzinfo=dt.UTC)
# botocore sends whole seconds; an answer may carry fractions.
T1 = dt.datetime(2026, 3, 1, 12, 35, 0, 250000, tzinfo=dt.UTC)


def request(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    op_model = SESSION.get_service_model("cloudwatch").operation_model(operation)
    serializer = botocore.serialize.create_serializer("smithy-rpc-v2-cbor")
    out: dict[str, Any] = serializer.serialize_to_request(params, op_model)
    return out


def parsed(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    req = request(operation, params)
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert cbor_protocol.is_cbor(headers)
    assert cbor_protocol.target(req["url_path"]) == (CW.metadata["targetPrefix"], operation)
    return cbor_protocol.parse_input(CW, CW.operations[operation], req["body"])


def read(operation: str | None, status: int, headers: list[tuple[str, str]], body: bytes
         ) -> dict[str, Any]:  # fmt: skip
    shape = None
    if operation is not None:
        shape = SESSION.get_service_model("cloudwatch").operation_model(operation).output_shape
    out: dict[str, Any] = botocore.parsers.create_parser("smithy-rpc-v2-cbor").parse(
        {"status_code": status, "headers": {k.lower(): v for k, v in headers}, "body": body},
        shape,
    )
    return out


@pytest.mark.parametrize(
    "operation, params",
    [
        ("PutMetricData", {"Namespace": "App", "MetricData": [
            {"MetricName": "Latency", "Timestamp": T0, "Value": 1.5, "Unit": "Milliseconds",
             "Dimensions": [{"Name": "Function", "Value": "f"}]},
            {"MetricName": "Sizes", "Values": [1.0, 2.5, -3.0], "Counts": [1.0, 2.0, 3.0],
             "StatisticValues": {"SampleCount": 3, "Sum": 6, "Minimum": 1, "Maximum": 3},
             "StorageResolution": 1},
        ]}),
        ("GetMetricData", {
            "StartTime": T0, "EndTime": T0 + dt.timedelta(hours=1), "MaxDatapoints": 100,
            "ScanBy": "TimestampAscending",
            "MetricDataQueries": [{"Id": "q1", "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations",
                           "Dimensions": [{"Name": "FunctionName", "Value": "f"}]},
                "Period": 60, "Stat": "Sum"}}],
        }),
        ("ListMetrics", {"Namespace": "AWS/Lambda", "RecentlyActive": "PT3H",
                         "Dimensions": [{"Name": "FunctionName"}]}),
        ("PutDashboard", {"DashboardName": "d", "DashboardBody": "{}"}),
        ("TagResource", {"ResourceARN": "arn:a", "Tags": [{"Key": "k", "Value": "v"}]}),
    ],
)  # fmt: skip
def test_a_request_botocore_serializes_parses_to_its_params(
    operation: str, params: dict[str, Any]
) -> None:
    assert parsed(operation, params) == params


@pytest.mark.parametrize(
    "operation, result",
    [
        ("GetMetricData", {"MetricDataResults": [{
            "Id": "q1", "Label": "Invocations", "Timestamps": [T0, T1], "Values": [1.0, 2.5],
            "StatusCode": "Complete"}], "NextToken": "n"}),
        ("ListMetrics", {"Metrics": [{"Namespace": "AWS/Lambda", "MetricName": "Errors",
                                      "Dimensions": [{"Name": "FunctionName", "Value": "f"}]}]}),
        ("DescribeAlarms", {"MetricAlarms": [{
            "AlarmName": "a", "ActionsEnabled": True, "StateValue": "OK", "Threshold": 1.0,
            "StateUpdatedTimestamp": T0, "EvaluationPeriods": 2, "AlarmActions": ["arn:x"]}]}),
        ("GetMetricWidgetImage", {"MetricWidgetImage": b"\x89PNG\x00\xff"}),
    ],
)  # fmt: skip
def test_an_answer_reads_back_through_botocores_parser(
    operation: str, result: dict[str, Any]
) -> None:
    response = cbor_protocol.serialize_output(CW, CW.operations[operation], result)
    assert ("smithy-protocol", "rpc-v2-cbor") in response.headers
    assert ("Content-Type", "application/cbor") in response.headers
    out = read(operation, response.status, response.headers, response.body)
    out.pop("ResponseMetadata")
    assert out == result


def test_no_output_is_no_body_and_an_empty_output_an_empty_map() -> None:
    response = cbor_protocol.serialize_output(CW, CW.operations["PutMetricData"], None)
    assert (response.status, response.body) == (200, b"")
    assert response.headers == [("smithy-protocol", "rpc-v2-cbor")]  # no body, no Content-Type
    assert set(read("PutMetricData", 200, response.headers, response.body)) == {
        "ResponseMetadata"
    }
    response = cbor_protocol.serialize_output(CW, CW.operations["PutDashboard"], None)
    assert response.body == cbor2.dumps({})
    out = read("PutDashboard", 200, response.headers, response.body)
    assert set(out) == {"ResponseMetadata"}


def test_a_modeled_error_reads_back_with_its_query_code() -> None:
    # DashboardNotFoundError's code is ResourceNotFound (404): the body names the shape, the
    # header the code botocore looks the exception up by.
    response = cbor_protocol.serialize_error(CW, AwsError("ResourceNotFound", "No dashboard d"))
    assert response.status == 404
    assert dict(response.headers)["x-amzn-query-error"] == "ResourceNotFound;Sender"
    err = read(None, response.status, response.headers, response.body)["Error"]
    assert (err["Code"], err["Message"], err["Type"]) == ("ResourceNotFound", "No dashboard d",
                                                          "Sender")  # fmt: skip
    model = SESSION.get_service_model("cloudwatch")
    assert model.shape_for_error_code(err["Code"]) is not None


def test_a_server_fault_is_a_receiver_error() -> None:
    response = cbor_protocol.serialize_error(CW, AwsError("InternalServiceError", "boom"))
    assert response.status == 500
    err = read(None, response.status, response.headers, response.body)["Error"]
    assert (err["Code"], err["Type"]) == ("InternalServiceError", "Receiver")


def test_an_error_of_no_served_service_is_still_parsed() -> None:
    response = cbor_protocol.serialize_error(None, AwsError("UnknownOperationException", "x"))
    err = read(None, response.status, response.headers, response.body)["Error"]
    assert (response.status, err["Code"], err["Message"]) == (400, "UnknownOperationException", "x")


def _nested(depth: int) -> bytes:
    return b"\x81" * depth + b"\x01"  # arrays of one item, each inside the next


def _cycle(key: str) -> bytes:
    """A map whose ``key`` is the map itself: tag 28 marks it shareable, tag 29 refers to it."""
    name = key.encode()
    return b"\xd8\x1c\xa1" + bytes([0x60 + len(name)]) + name + b"\xd8\x1d\x00"


@pytest.mark.parametrize(
    "body",
    [
        b"\xff", b"\xa1\x61", b"\x1c", _nested(100000),
        cbor2.dumps([1, 2]), cbor2.dumps("text"),
        cbor2.dumps({"Namespace": [_nested(0)] * 1} | {"Dimensions": "x"}),
    ],
)
def test_a_body_that_is_not_a_cbor_map_of_the_input_is_a_serialization_error(
    body: bytes,
) -> None:
    with pytest.raises(AwsError) as info:
        cbor_protocol.parse_input(CW, CW.operations["ListMetrics"], body)
    assert info.value.code == "SerializationException" and info.value.status == 400


def test_a_map_that_refers_back_to_itself_is_refused() -> None:
    # A recursive shape (a Node whose Next is a Node) and a map whose Next is itself: the walk
    # would never end.
    recursive = ServiceModel("recursive", {
        "metadata": {"protocol": "smithy-rpc-v2-cbor", "targetPrefix": "R"},
        "operations": {"Walk": {"name": "Walk", "http": {"method": "POST", "requestUri": "/"},
                                "input": {"shape": "Node"}}},
        "shapes": {"Node": {"type": "structure", "members": {"Next": {"shape": "Node"}}}},
    })  # fmt: skip
    for body in (_cycle("Next"), _cycle("Namespace")):
        model = recursive if b"Next" in body else CW
        op = model.operations["Walk" if model is recursive else "ListMetrics"]
        with pytest.raises(AwsError) as info:
            cbor_protocol.parse_input(model, op, body)
        assert info.value.code == "SerializationException"


def test_a_missing_member_is_a_validation_error() -> None:
    with pytest.raises(AwsError) as info:
        cbor_protocol.parse_input(CW, CW.operations["PutDashboard"], cbor2.dumps({}))
    assert info.value.code == "ValidationException"
    assert "Value null at 'dashboardName'" in info.value.message


def test_only_the_operation_path_is_a_target() -> None:
    assert cbor_protocol.target("/service/S/operation/Op") == ("S", "Op")
    assert cbor_protocol.target("/service/com.amazonaws.cloudwatch.S/operation/Op") == ("S", "Op")
    for path in ("/service/S", "/service//operation/Op", "/service/S/operation/Op/x", "/"):
        assert cbor_protocol.target(path) is None


def test_a_request_with_x_amz_target_is_no_cbor_request() -> None:
    assert cbor_protocol.is_cbor({"smithy-protocol": "rpc-v2-cbor"})
    assert not cbor_protocol.is_cbor({"smithy-protocol": "rpc-v2-cbor", "x-amz-target": "S.Op"})
    assert not cbor_protocol.is_cbor({"smithy-protocol": "rpc-v2-json"})


def test_undefined_is_read_as_null() -> None:
    body = cbor2.dumps({"Namespace": cbor2.undefined, "MetricName": "m",
                        "Dimensions": [cbor2.undefined, {"Name": "n", "Value": cbor2.undefined}]})
    params = cbor_protocol.parse_input(CW, CW.operations["ListMetrics"], body)
    assert params == {"MetricName": "m", "Dimensions": [{"Name": "n"}]}


def test_half_precision_and_integer_floats_are_read_as_floats() -> None:
    # 0xf9 3e00 is 1.5 as a half-precision float; 2 is an integer standing for 2.0.
    body = b"\xa2\x69Namespace\x61n\x6aMetricData\x81\xa2\x6aMetricName\x61m\x65Value\xf9\x3e\x00"
    params = cbor_protocol.parse_input(CW, CW.operations["PutMetricData"], body)
    assert params["MetricData"][0]["Value"] == 1.5
    body = cbor2.dumps({"Namespace": "n", "MetricData": [{"MetricName": "m", "Value": 2}]})
    assert cbor_protocol.parse_input(CW, CW.operations["PutMetricData"], body)[
        "MetricData"][0]["Value"] == 2.0  # fmt: skip
