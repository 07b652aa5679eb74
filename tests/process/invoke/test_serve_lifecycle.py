"""``shoal serve`` as a process: graceful shutdown, nothing left running, logs across restarts,
and invoking from the command line (the shoal CLI and the AWS CLI)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from conftest import ROOT, create_function, shoal_urlopen, start_server

AWS = str(ROOT / ".venv" / "bin" / "aws")


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc's parent links)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigterm_lets_the_invocation_finish_and_leaves_nothing_running(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    client = srv.client("lambda")
    name = create_function(
        client,
        code=("import time\ndef handler(e, c):\n    time.sleep(1.5)\n    return 'finished'\n"),
    )
    client.invoke(FunctionName=name, Payload=b"{}")  # warm: an environment exists
    result: dict[str, object] = {}

    def call() -> None:
        r = client.invoke(FunctionName=name, Payload=b"{}")
        result["payload"] = json.loads(r["Payload"].read())

    caller = threading.Thread(target=call)
    caller.start()
    # Wait until the invocation runs (its START line is in the log), then stop the server.
    from conftest import wait_for

    def started() -> bool:
        with shoal_urlopen(f"{srv.endpoint}/shoal/logs/{name}") as r:
            return sum(e["message"].startswith("START") for e in json.load(r)["events"]) == 2

    wait_for(started)
    below = descendants(srv.process.pid)
    assert below, "the server has a fork server and environments below it"
    assert srv.stop(signal.SIGTERM) == 0
    caller.join(30)
    assert result["payload"] == "finished"
    assert not [pid for pid in below if alive(pid)]


def test_logs_survive_a_restart(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    client = srv.client("lambda")
    name = create_function(client, code="def handler(e, c):\n    print('remember me')\n")
    client.invoke(FunctionName=name, Payload=b"{}")
    assert srv.stop() == 0
    again = start_server(tmp_path / "data")
    try:
        with shoal_urlopen(f"{again.endpoint}/shoal/logs/{name}") as r:
            messages = [e["message"] for e in json.load(r)["events"]]
        assert "remember me" in messages
        assert any(m.startswith("REPORT RequestId:") for m in messages)
        # The function survived too, and still runs.
        out = again.client("lambda").invoke(FunctionName=name, Payload=b"{}")
        assert out["StatusCode"] == 200
    finally:
        again.stop()


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "shoal",
        "AWS_SECRET_ACCESS_KEY": "shoal",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
    }
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)


def test_invoke_from_the_aws_cli(server, lambda_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client,
        code=(
            "def handler(e, c):\n    print('cli says', e['who'])\n    return {'hello': e['who']}\n"
        ),
    )
    out = tmp_path / "out.json"
    r = cli(
        AWS,
        "--endpoint-url",
        server.endpoint,
        "lambda",
        "invoke",
        "--function-name",
        name,
        "--payload",
        '{"who": "aws"}',
        "--log-type",
        "Tail",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    meta = json.loads(r.stdout)
    assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST"
    assert "cli says aws" in base64.b64decode(meta["LogResult"]).decode()
    assert json.loads(out.read_text()) == {"hello": "aws"}


def test_invoke_and_logs_from_the_shoal_cli(server, lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(
        lambda_client,
        code=("def handler(e, c):\n    print('shoal cli', e['n'])\n    return e['n'] * 2\n"),
    )
    r = cli(
        sys.executable,
        "-m",
        "shoal",
        "function",
        "invoke",
        name,
        "--payload",
        '{"n": 21}',
        "--endpoint-url",
        server.endpoint,
    )
    assert r.returncode == 0, r.stderr
    assert "42" in r.stdout
    r = cli(sys.executable, "-m", "shoal", "logs", name, "--endpoint-url", server.endpoint)
    assert r.returncode == 0, r.stderr
    assert "shoal cli 21" in r.stdout and "REPORT RequestId" in r.stdout
