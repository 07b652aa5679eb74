"""Invoke through a real server with boto3: the runtime contract, errors, logs and scale-out."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ROLE,
    RUNTIME,
    create_function,
    make_zip,
    shoal_urlopen,
    signed_request,
    unique_name,
    wait_for,
)

ECHO = """
import json, os
def handler(event, context):
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "group": context.log_group_name,
        "stream": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "env": dict(os.environ),
    }
"""


def invoke(client, name: str, payload: object = None, **kwargs):  # type: ignore[no-untyped-def]
    body = b"" if payload is None else json.dumps(payload).encode()
    response = client.invoke(FunctionName=name, Payload=body, **kwargs)
    response["Body"] = response["Payload"].read()
    return response


@pytest.fixture(scope="module")
def echo(lambda_client):  # type: ignore[no-untyped-def]
    return create_function(
        lambda_client,
        code=ECHO,
        MemorySize=256,
        Timeout=7,
        Environment={"Variables": {"STAGE": "test", "AWS_REGION_OVERRIDE": "no"}},
    )


def test_event_context_and_environment(lambda_client, echo: str) -> None:  # type: ignore[no-untyped-def]
    r = invoke(lambda_client, echo, {"a": [1, 2]})
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert r["ExecutedVersion"] == "$LATEST"
    out = json.loads(r["Body"])
    assert out["event"] == {"a": [1, 2]}
    assert out["request_id"] == r["ResponseMetadata"]["HTTPHeaders"].get(
        "x-amzn-requestid", out["request_id"]
    )
    assert out["function_name"] == echo and out["function_version"] == "$LATEST"
    assert out["arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{echo}"
    assert out["memory"] == "256" or out["memory"] == 256
    assert out["group"] == f"/aws/lambda/{echo}"
    assert 0 < out["remaining"] <= 7000
    env = out["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == echo
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{echo}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == out["stream"]
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{RUNTIME}"
    assert env["STAGE"] == "test"
    assert {"TZ", "LANG", "PATH", "LAMBDA_RUNTIME_DIR"} <= set(env)


def test_empty_payload_is_an_empty_event(lambda_client, echo: str) -> None:  # type: ignore[no-untyped-def]
    assert json.loads(invoke(lambda_client, echo)["Body"])["event"] == {}


def test_function_variables_override_and_pythonpath_takes_effect(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = unique_name()
    lambda_client.create_function(
        FunctionName=name,
        Runtime=RUNTIME,
        Role=ROLE,
        Handler="app.handler",
        Code={
            "ZipFile": make_zip(
                {
                    "app.py": "import os, deep\ndef handler(e, c):\n"
                    "    return [deep.VALUE, os.environ['TZ']]\n",
                    "vendor/deep.py": "VALUE = 'from PYTHONPATH'\n",
                }
            )
        },
        Environment={"Variables": {"PYTHONPATH": "/var/task/vendor", "TZ": "Europe/Paris"}},
    )
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    assert json.loads(invoke(lambda_client, name)["Body"]) == ["from PYTHONPATH", "Europe/Paris"]


def test_dry_run_and_event(lambda_client, echo: str) -> None:  # type: ignore[no-untyped-def]
    assert invoke(lambda_client, echo, {}, InvocationType="DryRun")["StatusCode"] == 204
    r = invoke(lambda_client, echo, {"async": True}, InvocationType="Event")
    assert r["StatusCode"] == 202 and r["Body"] == b""


def test_log_tail(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client,
        code=(
            "import logging, sys\n"
            "def handler(e, c):\n"
            "    print('to stdout')\n"
            "    sys.stderr.write('to stderr\\n')\n"
            "    logging.getLogger().error('to logging')\n"
            "    return 1\n"
        ),
    )
    r = invoke(lambda_client, name, {}, LogType="Tail")
    tail = base64.b64decode(r["LogResult"]).decode()
    lines = tail.splitlines()
    rid = json.loads(json.dumps(r["ResponseMetadata"]))  # noqa: F841 - shape only
    assert lines[0].startswith("START RequestId: ") and lines[0].endswith("Version: $LATEST")
    assert "to stdout" in lines and "to stderr" in lines
    assert any(line.startswith("[ERROR]\t") and line.endswith("to logging") for line in lines)
    assert lines[-2].startswith("END RequestId: ")
    report = lines[-1]
    assert report.startswith("REPORT RequestId: ")
    for field in (
        "Duration: ",
        "Billed Duration: ",
        "Memory Size: 128 MB",
        "Max Memory Used: ",
        "Init Duration: ",
    ):
        assert field in report
    # A warm invocation reports no Init Duration.
    again = base64.b64decode(invoke(lambda_client, name, {}, LogType="Tail")["LogResult"]).decode()
    assert "Init Duration" not in again.splitlines()[-1]


def test_log_tail_is_the_last_4_kb(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client,
        code=("def handler(e, c):\n    for i in range(2000):\n        print('line', i)\n"),
    )
    r = invoke(lambda_client, name, {}, LogType="Tail")
    tail = base64.b64decode(r["LogResult"])
    assert len(tail) == 4096
    assert tail.decode().splitlines()[-1].startswith("REPORT RequestId:")


def test_handler_exception(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client,
        code=(
            "class NotGood(Exception):\n    pass\n"
            "def handler(e, c):\n    raise NotGood('it broke')\n"
        ),
    )
    r = invoke(lambda_client, name, {})
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    err = json.loads(r["Body"])
    assert err["errorMessage"] == "it broke" and err["errorType"] == "NotGood"
    assert err["requestId"] and isinstance(err["stackTrace"], list) and err["stackTrace"]


@pytest.mark.parametrize(
    ("code", "handler", "error_type", "message"),
    [
        (
            "import not_a_module\n",
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app'",
        ),
        ("x = 1\n", "app.handler", "Runtime.HandlerNotFound", "Handler 'handler' missing"),
        (
            "def handler(e, c):\n    return object()\n",
            "app.handler",
            "Runtime.MarshalError",
            "Unable to marshal response",
        ),
        ("", "nomodule.handler", "Runtime.ImportModuleError", "Unable to import module"),
    ],
)
def test_runtime_errors(
    lambda_client,
    code: str,
    handler: str,
    error_type: str,  # type: ignore[no-untyped-def]
    message: str,
) -> None:
    name = create_function(lambda_client, code=code, handler=handler)
    r = invoke(lambda_client, name, {})
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(r["Body"])
    assert err["errorType"] == error_type
    assert message in err["errorMessage"]


def test_timeout_replaces_the_environment(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client,
        Timeout=1,
        code=(
            "import os, time\n"
            "def handler(e, c):\n"
            "    if e.get('sleep'):\n        time.sleep(30)\n"
            "    return os.environ['AWS_LAMBDA_LOG_STREAM_NAME']\n"
        ),
    )
    first = json.loads(invoke(lambda_client, name, {})["Body"])
    r = invoke(lambda_client, name, {"sleep": True})
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(r["Body"])
    assert err["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in err["errorMessage"]
    after = json.loads(invoke(lambda_client, name, {})["Body"])
    assert after != first  # a new environment


def test_out_of_memory(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client,
        MemorySize=128,
        code=(
            "def handler(e, c):\n    blocks = []\n"
            "    while True:\n        blocks.append(bytearray(16 * 1024 * 1024))\n"
        ),
    )
    r = invoke(lambda_client, name, {})
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(r["Body"])
    assert err["errorType"] == "Runtime.OutOfMemory"
    assert "killed" in err["errorMessage"]


def test_crash_is_an_error_not_a_hang(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code="import os\ndef handler(e, c):\n    os._exit(3)\n")
    r = invoke(lambda_client, name, {})
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(r["Body"])["errorType"] == "Runtime.ExitError"


def test_output_flood_is_capped_and_the_server_keeps_serving(server, lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client,
        Timeout=60,
        code=(
            "import sys\n"
            "def handler(e, c):\n"
            "    chunk = 'x' * 1023 + '\\n'\n"
            "    for _ in range(40 * 1024):\n        sys.stdout.write(chunk)\n"
            "    return 'done'\n"
        ),
    )
    r = invoke(lambda_client, name, {})
    assert json.loads(r["Body"]) == "done"
    with shoal_urlopen(f"{server.endpoint}/shoal/logs/{name}?limit=1000000") as response:
        events = json.load(response)["events"]
    total = sum(len(e["message"]) for e in events)
    assert total < 20 * 1024 * 1024  # 40 MB written, the log keeps at most 16 MB
    assert any("dropped" in e["message"] for e in events)
    assert any(e["message"].startswith("REPORT") for e in events)


def raw_invoke(server, name: str, body: bytes, invocation_type: str = "RequestResponse"):  # type: ignore[no-untyped-def]
    request = signed_request(
        "POST", f"{server.endpoint}/2015-03-31/functions/{name}/invocations", body,
        headers={"X-Amz-Invocation-Type": invocation_type},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read()


def test_payload_errors(server, echo: str) -> None:  # type: ignore[no-untyped-def]
    status, headers, body = raw_invoke(server, echo, b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert status == 413 and headers["x-amzn-ErrorType"] == "RequestTooLargeException"
    # Event: 1 MB, as Invoke documents it now (it was 256 KB).
    status, headers, body = raw_invoke(server, echo, b'"' + b"x" * (1024 * 1024) + b'"', "Event")
    assert status == 413 and headers["x-amzn-ErrorType"] == "RequestTooLargeException"
    assert b"smaller than 1048576 bytes" in body
    status, _, _ = raw_invoke(server, echo, b'"' + b"x" * (512 * 1024) + b'"', "Event")
    assert status == 202
    status, headers, body = raw_invoke(server, echo, b"{not json")
    assert status == 400 and headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    doc = json.loads(body)
    assert doc["Type"] == "User" and "Could not parse request body into json" in doc["message"]


def test_unknown_function_and_qualifier(lambda_client, echo: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as e:
        lambda_client.invoke(FunctionName="no-such-function", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        lambda_client.invoke(FunctionName=echo, Qualifier="nope", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_versions_and_aliases_run_their_own_code(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code="def handler(e, c):\n    return 'one'\n")
    v1 = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=v1)
    lambda_client.update_function_code(
        FunctionName=name, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 'two'\n"})
    )
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    assert json.loads(invoke(lambda_client, name, {})["Body"]) == "two"
    r = invoke(lambda_client, name, {}, Qualifier="live")
    assert json.loads(r["Body"]) == "one" and r["ExecutedVersion"] == v1
    r = invoke(lambda_client, f"{name}:{v1}", {})
    assert json.loads(r["Body"]) == "one"


def test_context_arn_is_the_arn_invoked(lambda_client) -> None:  # type: ignore[no-untyped-def]
    """As Lambda gives it: an alias's ARN through the alias, a version's through the version,
    the unqualified ARN when no qualifier was given."""
    name = create_function(
        lambda_client, code="def handler(e, c):\n    return c.invoked_function_arn\n"
    )
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    v1 = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=v1)
    assert json.loads(invoke(lambda_client, name, {})["Body"]) == arn
    assert json.loads(invoke(lambda_client, name, {}, Qualifier="live")["Body"]) == f"{arn}:live"
    assert json.loads(invoke(lambda_client, f"{name}:live", {})["Body"]) == f"{arn}:live"
    assert json.loads(invoke(lambda_client, name, {}, Qualifier=v1)["Body"]) == f"{arn}:{v1}"


def test_fifty_concurrent_invocations_scale_out(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client,
        code=(
            "import os, time\n"
            "def handler(e, c):\n    time.sleep(0.2)\n"
            "    return [c.aws_request_id, os.environ['AWS_LAMBDA_LOG_STREAM_NAME']]\n"
        ),
    )
    with ThreadPoolExecutor(50) as pool:
        results = list(
            pool.map(lambda _: json.loads(invoke(lambda_client, name, {})["Body"]), range(50))
        )
    request_ids = {r[0] for r in results}
    streams = {r[1] for r in results}
    assert len(request_ids) == 50
    assert len(streams) > 1


def test_isolation_through_the_server(server, lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client,
        code=f"""
import os, signal, threading, time
gate = threading.Event()
def handler(event, context):
    out = {{"uid": os.getuid(), "gid": os.getgid()}}
    try:
        open("/var/task/new", "w")
        out["task_write"] = "allowed"
    except OSError as e:
        out["task_write"] = e.errno
    try:
        os.kill({server.process.pid}, 0)
        out["signal_server"] = "allowed"
    except OSError as e:
        out["signal_server"] = e.errno
    out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    out["root_entries"] = sorted(os.listdir("/"))
    marker = "/tmp/" + event["me"]
    open(marker, "w").write("x")
    time.sleep(0.5)  # both environments are busy at once
    out["tmp"] = sorted(os.listdir("/tmp"))
    return out
""",
    )
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(
            lambda me: json.loads(invoke(lambda_client, name, {"me": me})["Body"]), ["a", "b"]
        )
    for out in (a, b):
        assert out["uid"] != 0 and out["gid"] != 0
        assert out["task_write"] == 30  # EROFS
        assert out["signal_server"] == 3  # ESRCH: the server is not in the environment's view
        assert max(out["pids"]) < 10  # only the environment's own processes
        assert (
            "work" not in out["root_entries"]
            and "root" not in out["root_entries"]
            or out["root_entries"].count("root") == 1
        )
    assert a["tmp"] == ["a"] and b["tmp"] == ["b"]  # /tmp is per environment


def test_logs_are_framed_per_invocation_and_grouped(server, lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code="def handler(e, c):\n    print('hi', e['n'])\n")
    for n in range(3):
        invoke(lambda_client, name, {"n": n})

    def events():  # type: ignore[no-untyped-def]
        with shoal_urlopen(f"{server.endpoint}/shoal/logs/{name}") as r:
            return json.load(r)["events"]

    got = wait_for(
        lambda: (e := events()) and sum(x["message"].startswith("REPORT") for x in e) == 3 and e
    )
    messages = [e["message"] for e in got]
    assert [m for m in messages if m.startswith("hi")] == ["hi 0", "hi 1", "hi 2"]
    assert sum(m.startswith("START RequestId:") for m in messages) == 3
    assert sum(m.startswith("END RequestId:") for m in messages) == 3
    assert all(e["logStreamName"].count("[$LATEST]") == 1 for e in got)
