"""Details of the Lambda API that deployment tools and third-party suites rely on: TracingConfig
is kept, list members are validated in AWS's words, the deprecated InvokeAsync queues an
event, and event source mappings answer in Lambda's shapes on a Shoal that has no sources."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, RUNTIME, create_function, make_zip, shoal_urlopen, unique_name, wait_for


def _error(e: ClientError) -> tuple[str, str, int]:
    return (
        e.response["Error"]["Code"],
        e.response["Error"]["Message"],
        e.response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_tracing_config_is_kept(lambda_client: Any) -> None:
    plain = create_function(lambda_client, code="def handler(e, c): pass\n")
    config = lambda_client.get_function_configuration(FunctionName=plain)
    assert config["TracingConfig"] == {"Mode": "PassThrough"}
    traced = create_function(
        lambda_client, code="def handler(e, c): pass\n", TracingConfig={"Mode": "Active"}
    )
    assert lambda_client.get_function(FunctionName=traced)["Configuration"]["TracingConfig"] == {
        "Mode": "Active"
    }
    lambda_client.update_function_configuration(
        FunctionName=plain, TracingConfig={"Mode": "Active"}
    )
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=plain, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    version = lambda_client.publish_version(FunctionName=plain)
    assert version["TracingConfig"] == {"Mode": "Active"}
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_configuration(
            FunctionName=plain, TracingConfig={"Mode": "Sometimes"}
        )
    assert _error(e.value) == (
        "ValidationException",
        "1 validation error detected: Value 'Sometimes' at 'tracingConfig.mode' failed to "
        "satisfy constraint: Member must satisfy enum value set: [Active, PassThrough]",
        400,
    )


def test_list_members_are_validated_in_aws_words(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as e:
        lambda_client.create_function(
            FunctionName=unique_name(),
            Runtime=RUNTIME,
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": make_zip({"app.py": "def handler(e, c): pass\n"})},
            Architectures=["foo"],
        )
    assert _error(e.value) == (
        "ValidationException",
        "1 validation error detected: Value '[foo]' at 'architectures' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[x86_64, arm64], Member must not be null]",
        400,
    )


def test_invoke_async_queues_an_event(server: Any, lambda_client: Any) -> None:
    name = create_function(
        lambda_client, code="def handler(e, c):\n    print('async got', e['n'])\n"
    )
    out = lambda_client.invoke_async(FunctionName=name, InvokeArgs=json.dumps({"n": 7}))
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 202 and out["Status"] == 202

    def printed() -> bool:
        with shoal_urlopen(f"{server.endpoint}/shoal/logs/{name}") as r:
            return any(e["message"] == "async got 7" for e in json.load(r)["events"])

    assert wait_for(printed)
    with pytest.raises(ClientError) as e:
        lambda_client.invoke_async(FunctionName=unique_name(), InvokeArgs=b"{}")
    assert _error(e.value)[0::2] == ("ResourceNotFoundException", 404)
    # InvokeAsync keeps its 256 KB limit (Invoke's Event takes 1 MB).
    with pytest.raises(ClientError) as e:
        lambda_client.invoke_async(FunctionName=name, InvokeArgs=b'"' + b"x" * 262144 + b'"')
    assert _error(e.value)[0::2] == ("RequestTooLargeException", 413)
    assert "262144 bytes for the InvokeAsync operation" in _error(e.value)[1]


def test_event_source_mappings_answer_in_lambdas_shapes(lambda_client: Any) -> None:
    name = create_function(lambda_client, code="def handler(e, c): pass\n")
    listed = lambda_client.list_event_source_mappings()
    assert listed["EventSourceMappings"] == []
    assert lambda_client.list_event_source_mappings(FunctionName=name)["EventSourceMappings"] == []
    queue = "arn:aws:sqs:us-east-1:123456789012:orders"
    with pytest.raises(ClientError) as e:
        lambda_client.create_event_source_mapping(EventSourceArn=queue, FunctionName=name)
    code, message, status = _error(e.value)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "Shoal provides no event sources" in message and "SQS" in message
    with pytest.raises(ClientError) as e:
        lambda_client.create_event_source_mapping(FunctionName=name)
    assert _error(e.value) == ("InvalidParameterValueException", "Unrecognized event source.", 400)
    uuid = "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"
    calls = [
        lambda: lambda_client.get_event_source_mapping(UUID=uuid),
        lambda: lambda_client.update_event_source_mapping(UUID=uuid, BatchSize=5),
        lambda: lambda_client.delete_event_source_mapping(UUID=uuid),
    ]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert _error(e.value) == (
            "ResourceNotFoundException",
            "The resource you requested does not exist.",
            404,
        )
