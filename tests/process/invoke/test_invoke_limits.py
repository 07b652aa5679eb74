"""Lambda's limits and wire facts through a real server with boto3: the 6 MB response limit
(Invoke and the HTTP gateway), x-amzn-RequestId on every answer, Invoke's Content-Type, and
Max Memory Used in REPORT."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest

from conftest import create_function, shoal_urlopen, signed_request, unique_name, wait_for

LIMIT = 6 * 1024 * 1024 + 100  # what Lambda's error message names: 6291556 bytes
TOO_LARGE = {
    "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    "errorType": "Function.ResponseSizeTooLarge",
}

# Returns a JSON string of exactly event["bytes"] bytes (an HTTP API event: its body's "bytes");
# counts its invocations per environment.
SIZED = """
import json
calls = 0
def handler(event, context):
    global calls
    calls += 1
    if isinstance(event, dict) and "rawPath" in event:
        event = json.loads(event["body"])
    if "bytes" not in event:
        return {"calls": calls}
    print("generating", event["bytes"], "bytes")
    return "a" * (event["bytes"] - 2)
"""

# Writes a frame bigger than the limit straight onto its control socket, past the runtime's
# own check: what a function that takes the runtime over could do.
FORGED = """
import gc, struct, time
calls = 0
def handler(event, context):
    global calls
    calls += 1
    if not event.get("forge"):
        return {"calls": calls}
    runtime = next(o for o in gc.get_objects() if type(o).__name__ == "Runtime")
    head = b'{"op":"result","ok":true,"output":false}'
    size = 20 * 1024 * 1024
    try:
        runtime.sock.sendall(struct.pack(">II", len(head), size) + head + b"a" * size)
    except OSError:
        pass
    time.sleep(30)
"""


def invoke(client: Any, name: str, payload: object = None, **kwargs: Any) -> dict[str, Any]:
    body = b"" if payload is None else json.dumps(payload).encode()
    response: dict[str, Any] = client.invoke(FunctionName=name, Payload=body, **kwargs)
    response["Body"] = response["Payload"].read()
    return response


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    return response["ResponseMetadata"]["HTTPHeaders"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def sized(lambda_client: Any) -> str:
    return create_function(lambda_client, unique_name("sized"), SIZED, MemorySize=512, Timeout=30)


def test_a_response_of_exactly_the_limit_passes(lambda_client: Any, sized: str) -> None:
    r = invoke(lambda_client, sized, {"bytes": LIMIT})
    assert "FunctionError" not in r
    assert len(r["Body"]) == LIMIT and r["Body"][:2] == b'"a'


@pytest.mark.parametrize("size", [LIMIT + 1, 20 * 1024 * 1024])
def test_a_bigger_response_is_lambdas_error_and_the_environment_goes_on(
    lambda_client: Any, sized: str, size: int
) -> None:
    before = json.loads(invoke(lambda_client, sized, {})["Body"])["calls"]
    r = invoke(lambda_client, sized, {"bytes": size}, LogType="Tail")
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert json.loads(r["Body"]) == TOO_LARGE
    assert headers_of(r)["content-type"] == "application/json"
    assert f"generating {size} bytes" in base64.b64decode(r["LogResult"]).decode()
    # The same environment answers the next call (Lambda's does too).
    assert json.loads(invoke(lambda_client, sized, {})["Body"])["calls"] == before + 2


def test_a_forged_oversized_frame_is_cut_off_and_the_environment_replaced(
    server: Any, lambda_client: Any
) -> None:
    name = create_function(lambda_client, unique_name("forged"), FORGED, Timeout=20)
    assert json.loads(invoke(lambda_client, name, {})["Body"]) == {"calls": 1}
    start = time.monotonic()
    r = invoke(lambda_client, name, {"forge": True})
    assert r["FunctionError"] == "Unhandled" and json.loads(r["Body"]) == TOO_LARGE
    # Killed at once (not after its 20 s timeout), and a new environment serves the next call.
    assert time.monotonic() - start < 10
    assert json.loads(invoke(lambda_client, name, {})["Body"]) == {"calls": 1}
    with shoal_urlopen(f"{server.endpoint}/shoal/environments?function={name}") as f:
        envs = json.load(f)["environments"]
    assert len(envs) == 1 and envs[0]["invocations"] == 1


def test_through_the_gateway_a_too_large_response_is_a_500(
    apigw_client: Any, lambda_client: Any, sized: str
) -> None:
    arn = lambda_client.get_function(FunctionName=sized)["Configuration"]["FunctionArn"]
    api = apigw_client.create_api(Name=unique_name("big"), ProtocolType="HTTP", Target=arn)
    request = urllib.request.Request(
        api["ApiEndpoint"] + "/big",
        data=json.dumps({"bytes": LIMIT + 1}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request)
    assert e.value.code == 500
    assert json.loads(e.value.read()) == {"message": "Internal Server Error"}


# ------------------------------------------------------------------ x-amzn-RequestId

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

ECHO_ID = "def handler(event, context):\n    return context.aws_request_id\n"


def test_invoke_answers_with_the_invocations_request_id(lambda_client: Any) -> None:
    name = create_function(lambda_client, unique_name("rid"), ECHO_ID)
    r = invoke(lambda_client, name, {}, LogType="Tail")
    request_id = r["ResponseMetadata"]["RequestId"]
    assert UUID.match(request_id)
    assert headers_of(r)["x-amzn-requestid"] == request_id
    assert json.loads(r["Body"]) == request_id
    lines = base64.b64decode(r["LogResult"]).decode().splitlines()
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}\t")
    # Another call, another id.
    assert invoke(lambda_client, name, {})["ResponseMetadata"]["RequestId"] != request_id


def test_an_event_invocation_runs_under_the_id_its_202_names(
    server: Any, lambda_client: Any
) -> None:
    name = create_function(lambda_client, unique_name("rid"), ECHO_ID)
    request_id = invoke(lambda_client, name, {}, InvocationType="Event")["ResponseMetadata"][
        "RequestId"
    ]

    def started() -> bool:
        with shoal_urlopen(f"{server.endpoint}/shoal/logs/{name}") as f:
            events = json.load(f)["events"]
        return any(e["message"].startswith(f"START RequestId: {request_id} ") for e in events)

    wait_for(started)


def test_every_api_answers_with_a_request_id(server: Any) -> None:
    kwargs = {
        "endpoint_url": server.endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "shoal",
        "aws_secret_access_key": "shoal",
    }
    seen = set()
    answers = [
        boto3.client("lambda", **kwargs).list_functions(),
        boto3.client("efs", **kwargs).describe_file_systems(),
        boto3.client("apigatewayv2", **kwargs).get_apis(),
        boto3.client("ec2", **kwargs).describe_vpcs(),
        boto3.client("iam", **kwargs).list_roles(),
        boto3.client("sts", **kwargs).get_caller_identity(),
    ]
    for answer in answers:
        meta = answer["ResponseMetadata"]
        assert UUID.match(meta["RequestId"]) and meta["HTTPHeaders"]["x-amzn-requestid"]
        seen.add(meta["RequestId"])
    for client, call in (
        (boto3.client("lambda", **kwargs), lambda c: c.get_function(FunctionName="nope")),
        (boto3.client("efs", **kwargs), lambda c: c.describe_file_systems(FileSystemId="fs-0")),
        (boto3.client("apigatewayv2", **kwargs), lambda c: c.get_api(ApiId="nope")),
        (boto3.client("ec2", **kwargs), lambda c: c.describe_vpcs(VpcIds=["vpc-0"])),
        (boto3.client("iam", **kwargs), lambda c: c.get_role(RoleName="nope")),
        (
            boto3.client("sts", **kwargs),
            lambda c: c.assume_role(
                RoleArn="arn:aws:iam::123456789012:role/nope", RoleSessionName="session"
            ),
        ),
    ):
        with pytest.raises(client.exceptions.ClientError) as e:
            call(client)
        meta = e.value.response["ResponseMetadata"]
        # EC2's, IAM's and STS's XML name the request too: the same id as the header.
        assert UUID.match(meta["RequestId"])
        assert meta["HTTPHeaders"]["x-amzn-requestid"] == meta["RequestId"]
        seen.add(meta["RequestId"])
    assert len(seen) == 12
    # A path no service answers is a 404 that names its request all the same.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(signed_request("GET", f"{server.endpoint}/nowhere"))
    e.value.close()
    assert e.value.code == 404 and UUID.match(e.value.headers["x-amzn-requestid"])


# ------------------------------------------------------------------ Content-Type


def test_invoke_content_types(lambda_client: Any, sized: str) -> None:
    ok = invoke(lambda_client, sized, {})
    assert headers_of(ok)["content-type"] == "application/json"
    failed = invoke(lambda_client, sized, 5)  # `"bytes" in 5`: a TypeError in the handler
    assert failed["FunctionError"] == "Unhandled"
    assert headers_of(failed)["content-type"] == "application/json"
    assert headers_of(ok)["x-amz-executed-version"] == "$LATEST"
    # Lambda's 202 and 204 have no body, no Content-Type and no executed version.
    for kind, status in (("Event", 202), ("DryRun", 204)):
        r = invoke(lambda_client, sized, {}, InvocationType=kind)
        assert r["StatusCode"] == status and r["Body"] == b""
        assert "content-type" not in headers_of(r) and "ExecutedVersion" not in r
        assert UUID.match(r["ResponseMetadata"]["RequestId"])


# ------------------------------------------------------------------ Max Memory Used

ALLOC = """
def handler(event, context):
    block = bytearray(event.get("mb", 0) << 20)
    for i in range(0, len(block), 4096):
        block[i] = 1  # touched: resident, not just reserved
    return len(block)
"""


def max_memory_used(response: dict[str, Any]) -> int:
    report = base64.b64decode(response["LogResult"]).decode().splitlines()[-1]
    found = re.search(r"\tMax Memory Used: (\d+) MB\t", report)
    assert found, report
    return int(found.group(1))


def test_max_memory_used_is_the_environments_peak_interpreter_included(
    lambda_client: Any,
) -> None:
    name = create_function(lambda_client, unique_name("mem"), ALLOC, MemorySize=512)
    plain = max_memory_used(invoke(lambda_client, name, {}, LogType="Tail"))
    # The interpreter and the runtime (python3.11: ~14 MB resident), not only what the
    # environment allocated since its fork (3-4 MB).
    assert 10 <= plain < 100
    big = max_memory_used(invoke(lambda_client, name, {"mb": 100}, LogType="Tail"))
    assert big >= 100 and big >= plain + 95
    # The peak is the invocation's: the next plain call is back where it was.
    again = max_memory_used(invoke(lambda_client, name, {}, LogType="Tail"))
    assert again < 100 and abs(again - plain) <= 4
    # Never more than the function's memory size, as on Lambda.
    small = create_function(lambda_client, unique_name("mem"), ALLOC, MemorySize=128)
    assert max_memory_used(invoke(lambda_client, small, {"mb": 120}, LogType="Tail")) <= 128


HELD = """
held = bytearray(60 << 20)
for i in range(0, len(held), 4096):
    held[i] = 1
def handler(event, context):
    return len(held)
"""


@pytest.mark.parametrize("snap_start", [False, True])
def test_memory_held_since_init_is_counted(lambda_client: Any, snap_start: bool) -> None:
    """Init's 60 MB are the environment's: in a plain one they are charged to its cgroup; in a
    snapshot-started one they are the template's pages, shared, and counted all the same."""
    extra = {"SnapStart": {"ApplyOn": "PublishedVersions"}} if snap_start else {}
    name = create_function(lambda_client, unique_name("held"), HELD, MemorySize=512, **extra)
    r = invoke(lambda_client, name, {}, LogType="Tail")
    report = base64.b64decode(r["LogResult"]).decode().splitlines()[-1]
    assert ("Restore Duration" in report) is snap_start
    assert 60 <= max_memory_used(r) < 120
