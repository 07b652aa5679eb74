"""The POSIX conformance suite inside a function: the checks ship in the function's zip and
run against its access point at /mnt/fs, as the access point's POSIX user."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import posix_checks
import pytest

from conftest import RUNTIME, ShoalServer, make_zip, unique_name
from seed_setup import POSIX_KINDS, posix_access_point

HANDLER = """
import os
import posix_checks

def handler(event, context):
    return {"uid": os.getuid(), "results": posix_checks.run_all("/mnt/fs", event.get("only"))}
"""


@pytest.fixture(scope="module", params=POSIX_KINDS)
def function(request: pytest.FixtureRequest, server: ShoalServer, efs_client: Any,
             lambda_client: Any) -> str:  # fmt: skip
    ap = posix_access_point(server, efs_client, request.param)
    name = unique_name("posix")
    source = Path(posix_checks.__file__).read_text()
    lambda_client.create_function(
        FunctionName=name,
        Runtime=RUNTIME,
        Role="arn:aws:iam::123456789012:role/lambda-role",
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": HANDLER, "posix_checks.py": source})},
        Timeout=300,
        MemorySize=512,
        FileSystemConfigs=[{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/fs"}],
    )
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    return name


def test_every_check_passes_inside_a_function(lambda_client: Any, function: str) -> None:
    r = lambda_client.invoke(FunctionName=function, Payload=b"{}")
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    assert body["uid"] == 1001
    assert set(body["results"]) == set(posix_checks.CHECKS)
    failed = {k: v for k, v in body["results"].items() if v != "ok"}
    assert failed == {}
