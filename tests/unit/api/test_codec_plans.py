"""The codec's compiled member plans and memoised pattern checks change nothing on the wire:
repeated and long values are validated every time, Invoke's response is what botocore reads."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.parsers import create_parser
from urllib3 import HTTPHeaderDict

from shoal.api import codec
from shoal.api.model import load_model
from shoal.errors import AwsError

LAMBDA = load_model("lambda")
INVOKE = LAMBDA.operations["Invoke"]


def parse(name: str, headers: dict[str, str] | None = None) -> dict[str, object]:
    return codec.parse_input(LAMBDA, INVOKE, {"FunctionName": name}, {}, headers or {}, b"{}")


def test_a_bad_name_is_refused_every_time_and_a_good_one_passes_every_time() -> None:
    for _ in range(3):
        assert parse("fn-1")["FunctionName"] == "fn-1"
        with pytest.raises(AwsError) as info:
            parse("bad name!")
        assert info.value.code == "ValidationException"
        assert info.value.message.startswith(
            "1 validation error detected: Value 'bad name!' at 'functionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
        )


def test_long_values_are_checked_against_the_pattern_too() -> None:
    long_bad = "x" * 300 + "!"
    with pytest.raises(AwsError) as info:
        parse(long_bad)
    message = info.value.message
    assert message.startswith("2 validation errors detected: ")
    assert "Member must have length less than or equal to 256" in message
    assert "Member must satisfy regular expression pattern" in message


def test_enum_headers_and_their_errors() -> None:
    params = parse("f", {"x-amz-invocation-type": "Event", "x-amz-log-type": "Tail"})
    assert params["InvocationType"] == "Event" and params["LogType"] == "Tail"
    with pytest.raises(AwsError) as info:
        parse("f", {"x-amz-invocation-type": "Later"})
    assert (
        "Value 'Later' at 'invocationType' failed to satisfy constraint: Member must satisfy "
        "enum value set: [Event, RequestResponse, DryRun]" in info.value.message
    )


def test_invoke_response_as_botocore_reads_it() -> None:
    result = {
        "StatusCode": 200,
        "FunctionError": "Unhandled",
        "LogResult": "bG9n",
        "ExecutedVersion": "$LATEST",
        "Payload": b'{"errorMessage": "x"}',
    }
    response = codec.serialize_output(LAMBDA, INVOKE, result)
    assert response.status == 200 and response.body == b'{"errorMessage": "x"}'
    assert sorted(response.headers) == [
        ("X-Amz-Executed-Version", "$LATEST"),
        ("X-Amz-Function-Error", "Unhandled"),
        ("X-Amz-Log-Result", "bG9n"),
    ]
    op_model = botocore.session.get_session().get_service_model("lambda").operation_model("Invoke")
    parsed = create_parser("rest-json").parse(
        {"status_code": 200, "headers": HTTPHeaderDict(response.headers), "body": response.body},
        op_model.output_shape,
    )
    assert parsed["FunctionError"] == "Unhandled" and parsed["ExecutedVersion"] == "$LATEST"
    payload = parsed["Payload"]
    assert (payload.encode() if isinstance(payload, str) else payload) == b'{"errorMessage": "x"}'
    empty = codec.serialize_output(LAMBDA, INVOKE, {"StatusCode": 202})
    assert empty.status == 202 and empty.body == b"{}"
