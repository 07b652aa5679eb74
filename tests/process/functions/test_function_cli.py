"""The command line: the AWS CLI and ``shoal function`` / ``shoal logs`` against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROLE, ROOT, RUNTIME, make_zip, unique_name

AWS = str(ROOT / ".venv" / "bin" / "aws")


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "shoal",
        "AWS_SECRET_ACCESS_KEY": "shoal",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
    }
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def shoal(server, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    group, command, *rest = argv
    return run(
        sys.executable,
        "-m",
        "shoal",
        group,
        command,
        *rest,
        "--endpoint-url",
        server.endpoint,
        check=check,
    )


def test_aws_cli_creates_and_lists_a_function(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("awscli")
    package = tmp_path / "fn.zip"
    package.write_bytes(make_zip({"app.py": "def handler(e, c):\n    return 1\n"}))
    created = json.loads(
        run(
            AWS,
            "--endpoint-url",
            server.endpoint,
            "lambda",
            "create-function",
            "--function-name",
            name,
            "--runtime",
            RUNTIME,
            "--role",
            ROLE,
            "--handler",
            "app.handler",
            "--zip-file",
            f"fileb://{package}",
            "--environment",
            "Variables={STAGE=test}",
        ).stdout
    )
    assert created["FunctionName"] == name
    assert created["State"] == "Pending"
    run(
        AWS,
        "--endpoint-url",
        server.endpoint,
        "lambda",
        "wait",
        "function-active-v2",
        "--function-name",
        name,
    )
    listed = json.loads(
        run(AWS, "--endpoint-url", server.endpoint, "lambda", "list-functions").stdout
    )
    mine = [f for f in listed["Functions"] if f["FunctionName"] == name]
    assert len(mine) == 1 and mine[0]["Environment"] == {"Variables": {"STAGE": "test"}}
    failed = run(
        AWS,
        "--endpoint-url",
        server.endpoint,
        "lambda",
        "get-function",
        "--function-name",
        unique_name("nope"),
        check=False,
    )
    assert failed.returncode != 0 and "ResourceNotFoundException" in failed.stderr


def test_shoal_function_commands(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("cli")
    source = tmp_path / "src"
    (source / "lib").mkdir(parents=True)
    (source / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (source / "lib" / "util.py").write_text("X = 1\n")
    created = json.loads(
        shoal(
            server,
            "function",
            "create",
            name,
            "--source",
            str(source),
            "--handler",
            "app.handler",
            "--memory",
            "256",
            "--env",
            "A_KEY=1",
            "--env",
            "B_KEY=x=y",
        ).stdout
    )
    assert created["State"] == "Active"
    assert created["Role"] == "arn:aws:iam::123456789012:role/shoal-function"  # made for it
    assert created["MemorySize"] == 256
    assert created["Environment"] == {"Variables": {"A_KEY": "1", "B_KEY": "x=y"}}
    listing = shoal(server, "function", "list").stdout.splitlines()
    assert listing[0].split()[:2] == ["NAME", "RUNTIME"]
    assert any(line.split()[0] == name for line in listing[1:])
    got = json.loads(shoal(server, "function", "get", name).stdout)
    assert got["Configuration"]["Handler"] == "app.handler"
    import io
    import urllib.request
    import zipfile

    with urllib.request.urlopen(got["Code"]["Location"]) as response:
        names = zipfile.ZipFile(io.BytesIO(response.read())).namelist()
    assert sorted(names) == ["app.py", "lib/util.py"]
    updated = json.loads(
        shoal(
            server,
            "function",
            "update",
            name,
            "--timeout",
            "30",
            "--source",
            str(source / "app.py"),
        ).stdout
    )
    assert updated["Timeout"] == 30 and updated["LastUpdateStatus"] == "Successful"
    assert updated["CodeSha256"] != created["CodeSha256"]
    failed = shoal(
        server,
        "function",
        "create",
        name,
        "--source",
        str(source),
        "--handler",
        "app.handler",
        check=False,
    )
    assert failed.returncode == 254
    assert "ResourceConflictException" in failed.stderr
    shoal(server, "function", "delete", name)
    missing = shoal(server, "function", "get", name, check=False)
    assert missing.returncode == 254 and "ResourceNotFoundException" in missing.stderr


def test_shoal_logs_prints_a_functions_events(server) -> None:  # type: ignore[no-untyped-def]
    name = unique_name("logs")
    # The function's log group, written through the API as a function's output would be.
    stream = "2024/01/31/[$LATEST]abc"
    logs = server.client("logs")
    logs.create_log_group(logGroupName=f"/aws/lambda/{name}")
    logs.create_log_stream(logGroupName=f"/aws/lambda/{name}", logStreamName=stream)
    now = int(time.time() * 1000)
    old = now - 3_600_000
    for when, message in ((old, "old line"), (now, "hello from the function")):
        logs.put_log_events(logGroupName=f"/aws/lambda/{name}", logStreamName=stream,
                            logEvents=[{"timestamp": when, "message": message}])  # fmt: skip
    everything = shoal(server, "logs", name).stdout.splitlines()
    assert len(everything) == 2
    assert everything[1].endswith(f"{stream} hello from the function")
    recent = run(
        sys.executable,
        "-m",
        "shoal",
        "logs",
        name,
        "--since",
        "60",
        "--endpoint-url",
        server.endpoint,
    ).stdout.splitlines()
    assert len(recent) == 1 and recent[0].endswith("hello from the function")
