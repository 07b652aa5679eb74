"""The json protocol (1.1: CloudWatch Logs, KMS; 1.0: DynamoDB, SQS) against the real models:
botocore's own serializer makes the requests Shoal parses, and botocore's own parser reads the
answers and errors Shoal writes."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import botocore.parsers
import botocore.serialize
import botocore.session
import pytest

from shoal.api import json_protocol
from shoal.api.model import ServiceModel, load_model
from shoal.errors import AwsError

SESSION = botocore.session.get_session()
LOADER = SESSION.get_component("data_loader")
T0 = dt.datetime(2026, 3, 1, 12, 30, 5, tzinfo=dt.UTC)


def model(service: str) -> ServiceModel:
    if service in ("logs", "kms"):
        return load_model(service)
    return ServiceModel(service, LOADER.load_service_model(service, "service-2"))


def request(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The request botocore's JSONSerializer makes for ``params``."""
    op_model = SESSION.get_service_model(service).operation_model(operation)
    serializer = botocore.serialize.create_serializer("json", include_validation=True)
    out: dict[str, Any] = serializer.serialize_to_request(params, op_model)
    return out


def parsed(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    req = request(service, operation, params)
    m = model(service)
    headers = {k.lower(): v for k, v in req["headers"].items()}
    prefix, name = json_protocol.target(headers) or ("", "")
    assert prefix == m.metadata["targetPrefix"] and name == operation
    assert headers["content-type"] == json_protocol.content_type(m)
    return json_protocol.parse_input(m, m.operations[operation], req["body"])


def answer(service: str, operation: str, result: dict[str, Any]) -> dict[str, Any]:
    """What botocore's JSONParser reads from Shoal's answer."""
    m = model(service)
    response = json_protocol.serialize_output(m, m.operations[operation], result)
    op_model = SESSION.get_service_model(service).operation_model(operation)
    out: dict[str, Any] = botocore.parsers.create_parser("json").parse(
        {"status_code": response.status, "headers": dict(response.headers),
         "body": response.body},
        op_model.output_shape,
    )  # fmt: skip
    out.pop("ResponseMetadata", None)
    return out


def error(service: str, err: AwsError) -> tuple[int, dict[str, Any]]:
    response = json_protocol.serialize_error(model(service), err)
    headers = {k.lower(): v for k, v in response.headers}
    out = botocore.parsers.create_parser("json").parse(
        {"status_code": response.status, "headers": headers, "body": response.body}, None
    )
    return response.status, out["Error"]


@pytest.mark.parametrize(
    "service, operation, params",
    [
        ("logs", "PutLogEvents", {
            "logGroupName": "/aws/lambda/f", "logStreamName": "s",
            "logEvents": [{"timestamp": 1700000000000, "message": "hello"},
                          {"timestamp": 1700000000001, "message": "über"}],
        }),
        ("logs", "CreateLogGroup", {"logGroupName": "g", "tags": {"team": "a", "env": "b"}}),
        ("logs", "PutMetricFilter", {
            "logGroupName": "g", "filterName": "f", "filterPattern": "ERROR",
            "metricTransformations": [{
                "metricName": "Errors", "metricNamespace": "App", "metricValue": "1",
                "defaultValue": 0.5, "dimensions": {"Function": "$.fn"}, "unit": "Count",
            }],
        }),
        ("logs", "FilterLogEvents", {
            "logGroupName": "g", "logStreamNames": ["a", "b"], "startTime": 1, "endTime": 2,
            "limit": 10, "interleaved": True,
        }),
        ("kms", "Encrypt", {
            "KeyId": "alias/k", "Plaintext": b"\x00\x01secret\xff",
            "EncryptionContext": {"purpose": "test"}, "GrantTokens": ["t1", "t2"],
        }),
        ("kms", "CreateKey", {
            "Description": "d", "KeyUsage": "ENCRYPT_DECRYPT",
            "Tags": [{"TagKey": "k", "TagValue": "v"}], "BypassPolicyLockoutSafetyCheck": False,
        }),
        ("dynamodb", "PutItem", {
            "TableName": "t",
            "Item": {"id": {"S": "1"}, "blob": {"B": b"\x00\xff"}, "n": {"N": "1.5"},
                     "l": {"L": [{"S": "a"}, {"M": {"inner": {"BOOL": True}}}]}},
        }),
        ("dynamodb", "DescribeBackup", {"BackupArn": "arn:aws:dynamodb:us-east-1:1:table/t/backup/b"
                                                      "ackup-0001"}),
        ("sqs", "SendMessage", {
            "QueueUrl": "http://q", "MessageBody": "m", "DelaySeconds": 1,
            "MessageAttributes": {"a": {"DataType": "Binary", "BinaryValue": b"\x01"}},
        }),
    ],
)  # fmt: skip
def test_a_request_botocore_serializes_parses_to_its_params(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    assert parsed(service, operation, params) == params


def test_timestamps_and_floats_are_parsed_as_botocore_sends_them() -> None:
    # dynamodb's ListBackups takes timestamps (epoch seconds); NaN travels as a string.
    params = {"TableName": "t", "TimeRangeLowerBound": T0, "TimeRangeUpperBound": T0}
    assert parsed("dynamodb", "ListBackups", params) == params
    got = parsed("logs", "PutMetricFilter", {
        "logGroupName": "g", "filterName": "f", "filterPattern": "",
        "metricTransformations": [{"metricName": "m", "metricNamespace": "n",
                                   "metricValue": "1", "defaultValue": float("nan")}],
    })  # fmt: skip
    assert math.isnan(got["metricTransformations"][0]["defaultValue"])


@pytest.mark.parametrize(
    "service, operation, result",
    [
        ("logs", "DescribeLogGroups", {
            "logGroups": [{"logGroupName": "g", "creationTime": 1700000000000,
                           "retentionInDays": 7, "storedBytes": 12, "arn": "arn:x"}],
            "nextToken": "n",
        }),
        ("logs", "GetLogEvents", {
            "events": [{"timestamp": 1, "message": "a", "ingestionTime": 2}],
            "nextForwardToken": "f", "nextBackwardToken": "b",
        }),
        ("kms", "Encrypt", {"CiphertextBlob": b"\x00\xffcipher", "KeyId": "arn:k",
                            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        ("kms", "DescribeKey", {"KeyMetadata": {
            "KeyId": "k", "Arn": "arn:k", "CreationDate": T0, "Enabled": True,
            "KeyUsage": "ENCRYPT_DECRYPT", "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "MultiRegionConfiguration": {"MultiRegionKeyType": "PRIMARY",
                                         "ReplicaKeys": [{"Arn": "a", "Region": "eu-west-1"}]},
        }}),
        ("kms", "ListKeys", {"Keys": [{"KeyId": "k", "KeyArn": "arn:k"}], "Truncated": False}),
        ("dynamodb", "GetItem", {"Item": {"b": {"B": b"\x01"}, "m": {"M": {"x": {"NS": ["1"]}}}}}),
    ],
)  # fmt: skip
def test_an_answer_reads_back_through_botocores_parser(
    service: str, operation: str, result: dict[str, Any]
) -> None:
    assert answer(service, operation, result) == result


def test_an_operation_without_output_answers_an_empty_object() -> None:
    m = model("logs")
    response = json_protocol.serialize_output(m, m.operations["CreateLogGroup"], None)
    assert response.status == 200 and response.body == b"{}"
    assert ("Content-Type", "application/x-amz-json-1.1") in response.headers


def test_a_modeled_error_reads_back_with_its_code_message_and_status() -> None:
    status, err = error("logs", AwsError("ResourceNotFoundException", "The group is gone."))
    assert (status, err["Code"], err["Message"]) == (400, "ResourceNotFoundException",
                                                     "The group is gone.")  # fmt: skip
    status, err = error("kms", AwsError("NotFoundException", "Key 'k' does not exist"))
    assert (status, err["Code"], err["Message"]) == (400, "NotFoundException",
                                                     "Key 'k' does not exist")  # fmt: skip
    status, err = error("kms", AwsError("KMSInternalException", "boom"))
    assert (status, err["Code"]) == (500, "KMSInternalException")


def test_a_query_compatible_error_names_its_query_code_in_the_header() -> None:
    response = json_protocol.serialize_error(model("sqs"), AwsError("QueueDoesNotExist", "no"))
    assert dict(response.headers)["x-amzn-query-error"] == "QueueDoesNotExist;Sender"
    status, err = error("sqs", AwsError("QueueDoesNotExist", "The queue does not exist."))
    assert (status, err["Code"], err["Message"]) == (400, "QueueDoesNotExist",
                                                     "The queue does not exist.")  # fmt: skip
    assert err["Type"] == "Sender"


def test_an_error_of_no_served_service_is_still_parsed() -> None:
    response = json_protocol.serialize_error(None, AwsError("UnknownOperationException", "x"))
    assert json.loads(response.body) == {"__type": "UnknownOperationException", "message": "x"}
    assert ("Content-Type", "application/x-amz-json-1.0") in response.headers


@pytest.mark.parametrize(
    "body",
    [
        b"{not json", b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b"[1, 2]", b'"text"',
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_serialization_error(body: bytes) -> None:
    m = model("logs")
    with pytest.raises(AwsError) as info:
        json_protocol.parse_input(m, m.operations["CreateLogGroup"], body)
    assert info.value.code == "SerializationException" and info.value.status == 400


@pytest.mark.parametrize(
    "operation, doc, code",
    [
        ("CreateLogGroup", {"logGroupName": 5}, "SerializationException"),
        ("CreateLogGroup", {"logGroupName": "g", "tags": ["a"]}, "SerializationException"),
        ("PutLogEvents", {"logGroupName": "g", "logStreamName": "s",
                          "logEvents": [{"timestamp": "soon", "message": "m"}]},
         "SerializationException"),
        ("CreateLogGroup", {}, "ValidationException"),
        ("CreateLogGroup", {"logGroupName": ""}, "ValidationException"),
    ],
)  # fmt: skip
def test_input_of_the_wrong_type_or_constraint_is_refused(
    operation: str, doc: dict[str, Any], code: str
) -> None:
    m = model("logs")
    with pytest.raises(AwsError) as info:
        json_protocol.parse_input(m, m.operations[operation], json.dumps(doc).encode())
    assert info.value.code == code and info.value.status == 400


def test_a_validation_error_is_worded_as_aws_words_it() -> None:
    m = model("kms")
    with pytest.raises(AwsError) as info:
        json_protocol.parse_input(m, m.operations["DescribeKey"], b"{}")
    assert info.value.message == (
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_a_blob_that_is_not_base64_is_refused() -> None:
    m = model("kms")
    body = json.dumps({"KeyId": "k", "Plaintext": "not base64!"}).encode()
    with pytest.raises(AwsError) as info:
        json_protocol.parse_input(m, m.operations["Encrypt"], body)
    assert info.value.code == "SerializationException"
