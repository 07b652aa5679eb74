"""Function logs as a user of Lambda's Python runtime sees them: the LogResult of a
RequestResponse invoke with LogType=Tail, and the stored events (``/shoal/logs/{function}``).

What is checked: an unhandled exception or a failed init is one ``[ERROR] Type: message``
event with its traceback; ``logging`` records have the runtime's format and request id, one
event each whatever their newlines, while printed lines are one event per line; LoggingConfig
JSON gives Lambda's JSON shapes, filtered by ApplicationLogLevel and SystemLogLevel; a line a
function prints is never a platform line (``"platform": true`` marks those), and output left
without its newline ends before END in the tail.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
from botocore.exceptions import ClientError

from conftest import create_function, shoal_urlopen, wait_for

NBSP = "\u00a0"
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def invoke(client, name: str):  # type: ignore[no-untyped-def]
    """(response, decoded LogResult, request id of the START line)."""
    r = client.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    r["Body"] = r.pop("Payload").read()
    tail = base64.b64decode(r["LogResult"]).decode()
    found = re.search(r"RequestId: ([0-9a-f-]{36})", tail) or re.search(
        r'"requestId": "([0-9a-f-]{36})"', tail
    )
    return r, tail, found.group(1) if found else None


def events(server, name: str, wanted: int = 1):  # type: ignore[no-untyped-def]
    """The function's stored events, once ``wanted`` invocations have been reported."""

    def read():  # type: ignore[no-untyped-def]
        with shoal_urlopen(f"{server.endpoint}/shoal/logs/{name}") as response:
            got = json.load(response)["events"]
        reports = [e for e in got if e.get("platform") and "REPORT" in e["message"].upper()]
        return got if len(reports) >= wanted else None

    return wait_for(read)


def function_events(got):  # type: ignore[no-untyped-def]
    return [e["message"] for e in got if not e.get("platform")]


def test_unhandled_exception_is_one_error_event(lambda_client, server) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client,
        code="def handler(e, c):\n    print('before')\n    return 1 / 0\n",
    )
    r, tail, rid = invoke(lambda_client, name)
    assert r["FunctionError"] == "Unhandled"
    doc = json.loads(r["Body"])
    assert list(doc) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert doc["errorMessage"] == "division by zero" and doc["errorType"] == "ZeroDivisionError"
    assert doc["requestId"] == rid
    assert doc["stackTrace"][0].startswith('  File "/var/task/app.py", line 3, in handler\n')
    messages = function_events(events(server, name))
    assert messages[0] == "before"
    error = messages[1]
    assert error.startswith(
        "[ERROR] ZeroDivisionError: division by zero\nTraceback (most recent call last):\n"
    )
    # awslambdaric's indentation: the frames' leading spaces are no-break spaces.
    assert f'\n{NBSP * 2}File "/var/task/app.py", line 3, in handler\n' in error
    assert error.endswith(f"\n{NBSP * 4}return 1 / 0")
    assert len(messages) == 2
    assert error + "\nEND RequestId: " in tail  # the same event, whole, in the tail


LOGGING = """
import logging
logging.basicConfig(format="%(message)s", level=logging.DEBUG)  # nothing, as on Lambda
logging.info("at init, before any level")  # the root logger is at WARNING: not shown
logger = logging.getLogger()
logger.setLevel(logging.INFO)
logging.getLogger("app.db").warning("at init")

def handler(event, context):
    logging.debug("not shown")
    logger.info("hello %s", "world")
    logging.warning("careful")
    print("one\\ntwo")
    try:
        raise ValueError("bad value")
    except ValueError:
        logging.exception("it failed:\\n  twice")
    return "ok"
"""


def test_logging_records_have_the_runtime_format(lambda_client, server) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=LOGGING)
    r, tail, rid = invoke(lambda_client, name)
    assert json.loads(r["Body"]) == "ok"
    messages = function_events(events(server, name))
    assert re.fullmatch(rf"\[WARNING\]\t{STAMP}\t\tat init", messages[0])  # no request yet
    assert re.fullmatch(rf"\[INFO\]\t{STAMP}\t{rid}\thello world", messages[1])
    assert re.fullmatch(rf"\[WARNING\]\t{STAMP}\t{rid}\tcareful", messages[2])
    assert messages[3:5] == ["one", "two"]  # printed lines: one event each
    # A record with newlines and a traceback: one event.
    exception = messages[5]
    assert re.match(rf"\[ERROR\]\t{STAMP}\t{rid}\tit failed:\n  twice\n", exception)
    assert "Traceback (most recent call last):\n" in exception
    assert exception.endswith("ValueError: bad value")
    assert len(messages) == 6
    lines = tail.splitlines()
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert lines[-2:-1] == [f"END RequestId: {rid}"] and lines[-1].startswith("REPORT ")
    assert "\n".join(messages[1:]) in tail


def test_a_printed_platform_line_stays_the_functions(lambda_client, server) -> None:  # type: ignore[no-untyped-def]
    forged = "REPORT RequestId: 00000000-0000-4000-8000-000000000000\tDuration: 1.00 ms"
    name = create_function(
        lambda_client,
        code=(
            "import sys\n"
            "def handler(e, c):\n"
            f"    print('END RequestId: x')\n    print({forged!r})\n"
            "    sys.stdout.write('no newline')\n"
            "    return 'ok'\n"
        ),
    )
    r, tail, rid = invoke(lambda_client, name)
    got = events(server, name)
    platform = [e["message"] for e in got if e.get("platform")]
    assert [m.split(" ")[0] for m in platform] == ["START", "END", "REPORT"]
    assert all(rid in m for m in platform)
    assert function_events(got) == ["END RequestId: x", forged, "no newline"]
    # Unterminated output ends its line before END in the tail.
    assert f"\nno newline\nEND RequestId: {rid}\nREPORT RequestId: {rid}\t" in tail


def test_init_failures_are_logged_by_the_runtime(lambda_client, server) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client, code="def helper():\n    raise RuntimeError('boom at import')\nhelper()\n"
    )
    r = lambda_client.invoke(FunctionName=name, Payload=b"{}")
    doc = json.loads(r["Payload"].read())
    assert doc["errorType"] == "RuntimeError" and doc["errorMessage"] == "boom at import"
    assert doc["requestId"] == ""
    # From the import (importlib's frames, as on Lambda) down to the raise.
    assert doc["stackTrace"][-2:] == [
        '  File "/var/task/app.py", line 3, in <module>\n    helper()\n',
        '  File "/var/task/app.py", line 2, in helper\n'
        "    raise RuntimeError('boom at import')\n",
    ]
    got = wait_for(lambda: _events_with_platform(server, name))
    messages = function_events(got)
    assert re.match(rf"\[WARNING\]\t{STAMP}\t\tLAMBDA_WARNING: Unhandled exception\.", messages[0])
    assert messages[1].startswith(
        "[ERROR] RuntimeError: boom at import\nTraceback (most recent call last):\n"
    )
    assert messages[1].endswith(
        f'{NBSP * 2}File "/var/task/app.py", line 3, in <module>\n{NBSP * 4}helper()\n'
        f'{NBSP * 2}File "/var/task/app.py", line 2, in helper\n'
        f"{NBSP * 4}raise RuntimeError('boom at import')"
    )
    platform = [e["message"] for e in got if e.get("platform")]
    assert platform[0].startswith("INIT_REPORT Init Duration: ")
    assert platform[0].endswith("\tPhase: init\tStatus: error\tError Type: RuntimeError")

    missing = create_function(lambda_client, code="x = 1\n", handler="missing.handler")
    lambda_client.invoke(FunctionName=missing, Payload=b"{}")
    got = wait_for(lambda: _events_with_platform(server, missing))
    assert (
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'missing': "
        "No module named 'missing'\nTraceback (most recent call last):"
    ) in function_events(got)


def _events_with_platform(server, name):  # type: ignore[no-untyped-def]
    with shoal_urlopen(f"{server.endpoint}/shoal/logs/{name}") as response:
        got = json.load(response)["events"]
    return got if any(e.get("platform") for e in got) else None


JSON_HANDLER = """
import logging
logger = logging.getLogger("orders")

def handler(event, context):
    logging.getLogger().setLevel(logging.DEBUG)  # the platform still filters by level
    logger.debug("a debug")
    logger.info("an info")
    logger.warning("a warning", extra={"order": 7})
    try:
        {}["key"]
    except KeyError:
        logger.exception("lookup\\nfailed")
    print("printed")  # INFO, for Lambda's level filter
    print('{"level": "error", "msg": "printed JSON"}')  # ERROR
    if event.get("raise"):
        raise ValueError("unhandled")
    return "ok"
"""


def test_json_format_and_level_filters(lambda_client, server) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client,
        code=JSON_HANDLER,
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"},
    )
    config = lambda_client.get_function_configuration(FunctionName=name)["LoggingConfig"]
    assert config == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "WARN",
        "SystemLogLevel": "INFO",
        "LogGroup": f"/aws/lambda/{name}",
    }
    r = lambda_client.invoke(FunctionName=name, Payload=b'{"raise": true}', LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    rid = json.loads(r["Payload"].read())["requestId"]
    got = events(server, name)
    records = [json.loads(m) if m.startswith("{") else m for m in function_events(got)]
    warning, exception, printed, error = records  # no INFO, the plain print dropped
    assert re.fullmatch(STAMP, warning.pop("timestamp"))
    assert warning == {
        "level": "WARN",
        "message": "a warning",
        "logger": "orders",
        "requestId": rid,
        "order": 7,
    }
    assert exception["level"] == "ERROR" and exception["message"] == "lookup\nfailed"
    assert exception["errorType"] == "KeyError" and exception["errorMessage"] == "'key'"
    assert exception["stackTrace"][0].startswith('  File "/var/task/app.py", line 11')
    assert exception["location"] == "/var/task/app.py:handler:13"
    assert printed == {"level": "error", "msg": "printed JSON"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", error.pop("timestamp"))
    assert error["level"] == "ERROR" and error["errorType"] == "ValueError"
    assert error["errorMessage"] == "unhandled" and error["requestId"] == rid
    assert set(error) == {"level", "errorMessage", "errorType", "requestId", "stackTrace"}
    system = [json.loads(e["message"]) for e in got if e.get("platform")]
    assert [s["type"] for s in system] == ["platform.start", "platform.report"]
    start, report = system
    assert re.fullmatch(STAMP, start["time"])
    assert start["record"] == {"requestId": rid, "version": "$LATEST"}
    assert report["record"]["requestId"] == rid and report["record"]["status"] == "error"
    assert report["record"]["errorType"] == "ValueError"
    metrics = report["record"]["metrics"]
    assert set(metrics) == {
        "durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB", "initDurationMs",
    }  # fmt: skip
    assert metrics["memorySizeMB"] == 128 and metrics["billedDurationMs"] >= 1
    tail = base64.b64decode(r["LogResult"]).decode()
    assert tail.splitlines()[0] == json.dumps(start) and "START" not in tail

    # DEBUG application logs, no INFO system logs.
    lambda_client.update_function_configuration(
        FunctionName=name, LoggingConfig={"ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN"}
    )
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    r = lambda_client.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    tail = base64.b64decode(r["LogResult"]).decode()
    levels = [json.loads(line)["level"] for line in tail.splitlines() if line.startswith("{")]
    assert levels == ["DEBUG", "INFO", "WARN", "ERROR", "error"]
    assert "platform." not in tail and "\nprinted\n" in tail


def test_logging_config_is_validated_and_merged(lambda_client) -> None:  # type: ignore[no-untyped-def]
    message = (
        "ApplicationLogLevel and SystemLogLevel can only be set for functions configured to "
        "use JSON log format."
    )
    with pytest.raises(ClientError) as e:
        create_function(
            lambda_client,
            code="",
            LoggingConfig={"LogFormat": "Text", "ApplicationLogLevel": "INFO"},
        )
    assert e.value.response["Error"] == {
        "Code": "InvalidParameterValueException",
        "Message": message,
    }
    with pytest.raises(ClientError) as e:
        create_function(lambda_client, code="", LoggingConfig={"LogFormat": "Yaml"})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    name = create_function(lambda_client, code="")
    assert lambda_client.get_function_configuration(FunctionName=name)["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": f"/aws/lambda/{name}",
    }
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_configuration(
            FunctionName=name, LoggingConfig={"SystemLogLevel": "WARN"}
        )
    assert e.value.response["Error"]["Message"] == message

    def update(config):  # type: ignore[no-untyped-def]
        out = lambda_client.update_function_configuration(FunctionName=name, LoggingConfig=config)
        lambda_client.get_waiter("function_updated_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
        )
        return out["LoggingConfig"]

    assert update({"LogFormat": "JSON", "SystemLogLevel": "DEBUG"}) == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "DEBUG",
        "LogGroup": f"/aws/lambda/{name}",
    }
    assert update({"ApplicationLogLevel": "FATAL"})["SystemLogLevel"] == "DEBUG"
    assert update({"LogFormat": "Text"}) == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    assert update({"LogGroup": "/custom/group"})["LogGroup"] == "/custom/group"
    env = lambda_client.get_function_configuration(FunctionName=name)
    assert "Environment" not in env  # the runtime's variables are not the function's
    assert env["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/custom/group"}


def test_restored_environments_log_records_of_their_own(lambda_client, server) -> None:  # type: ignore[no-untyped-def]
    """Snapshot starts: the runtime was configured in the template; each restored environment
    frames its records with its own token, into its own pipe."""
    name = create_function(
        lambda_client,
        code=(
            "import logging\nlogging.getLogger().setLevel(logging.INFO)\n"
            "logging.info('at init, in the template')\n"
            "def handler(e, c):\n    logging.info('restored\\nand logging')\n    return 1 / 0\n"
        ),
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    r, tail, rid = invoke(lambda_client, name)
    assert r["FunctionError"] == "Unhandled"
    assert "\tRestore Duration: " in tail.splitlines()[-1]  # a restored environment
    assert re.search(rf"\[INFO\]\t{STAMP}\t{rid}\trestored\nand logging\n", tail), tail
    messages = function_events(events(server, name))
    assert any(m.startswith("[ERROR] ZeroDivisionError: division by zero\n") for m in messages)
    assert any(
        re.fullmatch(rf"\[INFO\]\t{STAMP}\t{rid}\trestored\nand logging", m) for m in messages
    )


@pytest.mark.parametrize("runtime", ["python3.9", "python3.12", "python3.13"])
def test_every_python_runtime_logs_alike(lambda_client, server, runtime: str) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import logging\nlogging.getLogger().setLevel(logging.INFO)\n"
        "def handler(e, c):\n    logging.info('ok %s', 1)\n    return {}['missing']\n"
    )
    text = create_function(lambda_client, code=code, Runtime=runtime)
    r, tail, rid = invoke(lambda_client, text)
    assert json.loads(r["Body"])["stackTrace"] == [
        "  File \"/var/task/app.py\", line 5, in handler\n    return {}['missing']\n"
    ]  # no column markers (3.11+), as Lambda's
    assert re.search(rf"\n\[INFO\]\t{STAMP}\t{rid}\tok 1\n\[ERROR\] KeyError: 'missing'\n", tail)
    structured = create_function(
        lambda_client, code=code, Runtime=runtime, LoggingConfig={"LogFormat": "JSON"}
    )
    r = lambda_client.invoke(FunctionName=structured, Payload=b"{}", LogType="Tail")
    lines = base64.b64decode(r["LogResult"]).decode().splitlines()
    info = json.loads(lines[1])
    assert set(info) == {"timestamp", "level", "message", "logger", "requestId"}  # no taskName
    assert json.loads(lines[2])["errorType"] == "KeyError"
