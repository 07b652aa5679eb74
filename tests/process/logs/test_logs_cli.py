"""The AWS CLI v2 (Debian's ``/usr/bin/aws``) reading function logs as a user types it:
``aws logs tail --follow`` on a live function, ``aws logs get-log-events``; and the logs
surviving a restart."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from conftest import ShoalServer, create_function, start_server, unique_name, wait_for

AWS_V2 = "/usr/bin/aws"
CODE = "import json\ndef handler(e, c):\n    print('said:', e.get('say'))\n    return 1\n"


def aws_env() -> dict[str, str]:
    return {
        **os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "", "PYTHONUNBUFFERED": "1",
    }  # fmt: skip


def aws(server: ShoalServer, *argv: str) -> Any:
    out = subprocess.run(
        [AWS_V2, "--endpoint-url", server.endpoint, *argv, "--output", "json"],
        capture_output=True, text=True, env=aws_env(), timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def invoke(lam: Any, name: str, say: str) -> None:
    assert lam.invoke(FunctionName=name, Payload=json.dumps({"say": say}))["StatusCode"] == 200


def test_aws_logs_tail_follow_shows_a_live_functions_lines(
    server: ShoalServer, lambda_client: Any
) -> None:
    name = create_function(lambda_client, code=CODE)
    invoke(lambda_client, name, "first")  # makes the group, as Lambda does
    tail = subprocess.Popen(
        [AWS_V2, "--endpoint-url", server.endpoint, "logs", "tail", f"/aws/lambda/{name}",
         "--follow", "--since", "10m", "--format", "short"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=aws_env(),
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert tail.stdout is not None
        for line in tail.stdout:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()

    def wait_line(text: str, timeout: float = 40) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"tail never printed {text!r}") from None
            if text in line:
                return line
            if time.monotonic() > deadline:
                raise AssertionError(f"tail never printed {text!r}")

    try:
        assert "said: first" in wait_line("said: first")
        invoke(lambda_client, name, "second, while following")
        assert "said: second, while following" in wait_line("said: second")
        assert tail.poll() is None  # still following
    finally:
        tail.kill()
        tail.wait(10)
        reader.join(10)
        assert tail.stdout is not None and tail.stderr is not None
        tail.stdout.close()
        tail.stderr.close()


def test_aws_logs_get_log_events_and_describe(server: ShoalServer, lambda_client: Any) -> None:
    name = create_function(lambda_client, code=CODE)
    invoke(lambda_client, name, "hello cli")
    group = f"/aws/lambda/{name}"
    streams = aws(server, "logs", "describe-log-streams", "--log-group-name", group)
    (stream,) = streams["logStreams"]
    got = aws(server, "logs", "get-log-events", "--log-group-name", group, "--log-stream-name",
              stream["logStreamName"], "--start-from-head")  # fmt: skip
    messages = [e["message"] for e in got["events"]]
    assert any("said: hello cli" in m for m in messages), messages
    assert got["nextForwardToken"].startswith("f/")
    again = aws(server, "logs", "get-log-events", "--log-group-name", group,
                "--log-stream-name", stream["logStreamName"],
                "--next-token", got["nextForwardToken"])  # fmt: skip
    assert again["events"] == [] and again["nextForwardToken"] == got["nextForwardToken"]
    groups = aws(server, "logs", "describe-log-groups", "--log-group-name-prefix", group)
    assert [g["logGroupName"] for g in groups["logGroups"]] == [group]


def test_logs_survive_a_restart_and_retention_is_swept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # A sweep every 0.2 s (the interval is the environment's to set).
    srv = start_server(data, env={"SHOAL_LOG_SWEEP_S": "0.2"})
    try:
        lam: Any = srv.client("lambda")
        name = create_function(lam, code=CODE)
        invoke(lam, name, "before the restart")
        logs: Any = srv.client("logs")
        logs.create_log_group(logGroupName="/kept")
        logs.create_log_stream(logGroupName="/kept", logStreamName="s")
        day = 86_400_000
        now = int(time.time() * 1000)
        logs.put_log_events(logGroupName="/kept", logStreamName="s", logEvents=[
            {"timestamp": now - 3 * day, "message": "three days old"},
            {"timestamp": now - 3 * day + 1, "message": "three days old too"},
        ])  # fmt: skip
        logs.put_log_events(logGroupName="/kept", logStreamName="s",
                            logEvents=[{"timestamp": now, "message": "new"}])  # fmt: skip
    finally:
        assert srv.stop() == 0
    again = start_server(data, env={"SHOAL_LOG_SWEEP_S": "0.2"})
    try:
        logs = again.client("logs")
        got = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern="said:")
        assert [e["message"] for e in got["events"]] == ["said: before the restart"]
        got = logs.filter_log_events(logGroupName="/kept")
        assert [e["message"] for e in got["events"]] == [
            "three days old", "three days old too", "new"
        ]
        logs.put_retention_policy(logGroupName="/kept", retentionInDays=1)

        def swept() -> bool:
            got = logs.filter_log_events(logGroupName="/kept")
            return [e["message"] for e in got["events"]] == ["new"]

        wait_for(swept, timeout=20)
        (stream,) = logs.describe_log_streams(logGroupName="/kept")["logStreams"]
        assert stream["storedBytes"] == len("new")
        assert stream["firstEventTimestamp"] == now
    finally:
        again.stop()


def test_shoal_logs_follow(server: ShoalServer, lambda_client: Any) -> None:
    """``shoal logs NAME`` prints the function's lines (a FilterLogEvents client)."""
    import sys

    name = create_function(lambda_client, code=CODE)
    invoke(lambda_client, name, unique_name("line"))
    out = subprocess.run(
        [sys.executable, "-m", "shoal", "logs", name, "--endpoint-url", server.endpoint],
        capture_output=True, text=True, env=aws_env(), timeout=60, check=True,
    )  # fmt: skip
    lines = out.stdout.splitlines()
    assert lines[0].split(" ", 2)[2].startswith("START RequestId:")
    assert any("said: line-" in line for line in lines)


CRASH = """
import logging
def handler(event, context):
    if event.get("fail"):
        return 1 / 0
    logging.getLogger().warning("all is well %s", event.get("n"))
    return "ok"
"""


def test_a_traceback_is_found_by_a_filter_pattern(
    server: ShoalServer, lambda_client: Any
) -> None:
    """A 500 behind an API leaves its traceback, found as a user looks for it:
    ``aws logs filter-log-events --filter-pattern``, in one event with the frames."""
    name = create_function(lambda_client, code=CRASH)
    for n in range(3):
        invoke_raw = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"n": n}))
        assert invoke_raw["StatusCode"] == 200
    failed = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"fail": True}))
    assert failed.get("FunctionError") == "Unhandled"
    group = f"/aws/lambda/{name}"

    def found(pattern: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = aws(
            server, "logs", "filter-log-events", "--log-group-name", group,
            "--filter-pattern", pattern,
        )["events"]  # fmt: skip
        return events

    (event,) = wait_for(lambda: found('"ZeroDivisionError"'))
    assert event["message"].startswith("[ERROR] ZeroDivisionError: division by zero")
    assert "Traceback (most recent call last):" in event["message"]
    assert "1 / 0" in event["message"]  # the frame's line, in the same event
    # The same event by alternatives and with an exclusion; the warnings by their level.
    assert [e["eventId"] for e in found("?ZeroDivisionError ?KeyError")] == [event["eventId"]]
    assert found("ZeroDivisionError -Traceback") == []
    assert len(found("WARNING well")) == 3
    assert found('"all is well" -WARNING') == []
