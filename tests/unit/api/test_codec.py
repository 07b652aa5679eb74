"""The codec against botocore itself: requests serialised by botocore parse here, and responses
serialised here parse in botocore, for each service model Shoal serves."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import botocore.session
import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from urllib3 import HTTPHeaderDict

from shoal.api import codec
from shoal.api.model import load_model
from shoal.errors import AwsError

SESSION = botocore.session.get_session()


def botocore_request(service: str, operation: str, params: dict):  # type: ignore[no-untyped-def]
    model = SESSION.get_service_model(service)
    op_model = model.operation_model(operation)
    request = create_serializer("rest-json").serialize_to_request(params, op_model)
    url = urlsplit(request["url_path"])
    query = {k: [v] if isinstance(v, str) else list(v) for k, v in request["query_string"].items()}
    query.update(parse_qs(url.query))
    headers = {k.lower(): v for k, v in request["headers"].items()}
    body = request["body"] if isinstance(request["body"], bytes) else request["body"].encode()
    return request["method"], url.path, query, headers, body


def parse_with_shoal(service: str, method, path, query, headers, body):  # type: ignore[no-untyped-def]
    model = load_model(service)
    found = model.router.match(method, path, query)
    assert found is not None, (method, path)
    op, labels = found
    return op, codec.parse_input(model, op, labels, query, headers, body)


def botocore_parse(service: str, operation: str, response: codec.HttpResponse):  # type: ignore[no-untyped-def]
    op_model = SESSION.get_service_model(service).operation_model(operation)
    return create_parser("rest-json").parse(
        {
            "status_code": response.status,
            "headers": HTTPHeaderDict(response.headers),
            "body": response.body,
        },
        op_model.output_shape,
    )


def test_create_function_round_trip() -> None:
    params = {
        "FunctionName": "hello",
        "Runtime": "python3.11",
        "Role": "arn:aws:iam::123456789012:role/r",
        "Handler": "app.handler",
        "Code": {"ZipFile": b"PK\x03\x04binary"},
        "MemorySize": 256,
        "Environment": {"Variables": {"AB": "1"}},
        "Tags": {"team": "x"},
    }
    op, parsed = parse_with_shoal("lambda", *botocore_request("lambda", "CreateFunction", params))
    assert op.name == "CreateFunction"
    assert parsed == params


def test_invoke_headers_and_raw_payload() -> None:
    params = {
        "FunctionName": "hello",
        "InvocationType": "Event",
        "LogType": "Tail",
        "Qualifier": "live",
        "Payload": b'{"a": 1}',
    }
    op, parsed = parse_with_shoal("lambda", *botocore_request("lambda", "Invoke", params))
    assert op.name == "Invoke"
    assert parsed == params
    model = load_model("lambda")
    response = codec.serialize_output(
        model,
        op,
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "ExecutedVersion": "$LATEST",
            "LogResult": "bG9n",
            "Payload": b'{"x":1}',
        },
    )
    out = botocore_parse("lambda", "Invoke", response)
    assert out["StatusCode"] == 200
    assert out["FunctionError"] == "Unhandled"
    assert out["LogResult"] == "bG9n"
    assert json.loads(out["Payload"]) == {"x": 1}


def test_routes_are_specific() -> None:
    model = load_model("lambda")
    op, labels = model.router.match("GET", "/2015-03-31/functions/f1/configuration", {})  # type: ignore[misc]
    assert op.name == "GetFunctionConfiguration" and labels["FunctionName"] == "f1"
    op, _ = model.router.match("GET", "/2015-03-31/functions/f1", {})  # type: ignore[misc]
    assert op.name == "GetFunction"
    op, _ = model.router.match(  # type: ignore[misc]
        "GET", "/2019-09-30/functions/f1/provisioned-concurrency", {"List": ["ALL"]}
    )
    assert op.name == "ListProvisionedConcurrencyConfigs"
    op, _ = model.router.match(  # type: ignore[misc]
        "GET", "/2019-09-30/functions/f1/provisioned-concurrency", {"Qualifier": ["1"]}
    )
    assert op.name == "GetProvisionedConcurrencyConfig"
    assert model.router.match("GET", "/2015-03-31/nothing/here", {}) is None


def test_apigatewayv2_location_names_round_trip() -> None:
    params = {
        "Name": "wall",
        "ProtocolType": "HTTP",
        "Target": "arn:aws:lambda:us-east-1:1:function:f",
    }
    op, parsed = parse_with_shoal(
        "apigatewayv2", *botocore_request("apigatewayv2", "CreateApi", params)
    )
    assert parsed == params
    response = codec.serialize_output(
        load_model("apigatewayv2"),
        op,
        {
            "ApiId": "abc123defg",
            "Name": "wall",
            "ProtocolType": "HTTP",
            "ApiEndpoint": "http://x/execute-api/abc123defg",
        },
    )
    assert json.loads(response.body)["apiId"] == "abc123defg"
    out = botocore_parse("apigatewayv2", "CreateApi", response)
    assert out["ApiId"] == "abc123defg" and out["ApiEndpoint"].endswith("abc123defg")


@pytest.mark.parametrize(
    ("service", "code", "status", "message_key"),
    [
        ("lambda", "ResourceNotFoundException", 404, "Message"),
        ("lambda", "TooManyRequestsException", 429, "message"),
        ("efs", "FileSystemNotFound", 404, "Message"),
        ("apigatewayv2", "NotFoundException", 404, "message"),
    ],
)
def test_errors_in_the_model_shape(service: str, code: str, status: int, message_key: str) -> None:
    response = codec.serialize_error(load_model(service), AwsError(code, "nope", Reason="X"))
    assert response.status == status
    assert ("x-amzn-ErrorType", code) in response.headers
    body = json.loads(response.body)
    assert body[message_key] == "nope"
    op_name = {"lambda": "GetFunction", "efs": "DescribeFileSystems", "apigatewayv2": "GetApi"}[
        service
    ]
    parsed = botocore_parse(service, op_name, response)
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == "nope"


def test_lambda_error_carries_type_and_reason() -> None:
    response = codec.serialize_error(
        load_model("lambda"),
        AwsError(
            "TooManyRequestsException",
            "Rate Exceeded.",
            Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
        ),
    )
    body = json.loads(response.body)
    assert body["Type"] == "User"
    assert body["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_validation_is_worded_as_aws() -> None:
    model = load_model("lambda")
    op = model.operations["CreateFunction"]
    body = json.dumps(
        {
            "FunctionName": "f",
            "Role": "arn:aws:iam::123456789012:role/r",
            "Code": {},
            "MemorySize": 100000,
            "Timeout": 0,
        }
    ).encode()
    with pytest.raises(AwsError) as e:
        codec.parse_input(model, op, {}, {}, {}, body)
    assert e.value.code == "ValidationException"
    assert e.value.message.startswith("2 validation errors detected: ")
    assert (
        "Value '100000' at 'memorySize' failed to satisfy constraint: "
        "Member must have value less than or equal to 32768" in e.value.message
    )
    assert (
        "at 'timeout' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1" in e.value.message
    )


def test_missing_required_and_bad_json() -> None:
    model = load_model("lambda")
    op = model.operations["CreateFunction"]
    with pytest.raises(AwsError) as e:
        codec.parse_input(model, op, {}, {}, {}, b'{"FunctionName": "f"}')
    assert (
        "Value null at 'role' failed to satisfy constraint: Member must not be null"
        in e.value.message
    )
    with pytest.raises(AwsError) as e:
        codec.parse_input(model, op, {}, {}, {}, b"{not json")
    assert e.value.code == "SerializationException"
    with pytest.raises(AwsError) as e:
        codec.parse_input(model, op, {}, {}, {}, b'{"FunctionName": 5}')
    assert e.value.code == "SerializationException"
