"""The seed's MessageWall, word for word: the article's handler source as printed, its file
system and access point, an HTTP API with stage ``default`` and route ``ANY /MessageWall``, the
article's six curl commands with the article's outputs; then 400 POSTs from 40 concurrent
clients, every message on the wall exactly once and intact, served by several environments."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from conftest import ROOT, RUNTIME, make_zip, unique_name, wait_for

SEED = ROOT.parent / "shared" / "seeds" / "aws-news-blog-shared-file-system-for-lambda.txt"
ROLE = "arn:aws:iam::123456789012:role/MessageWall-role"


def article_handler() -> str:
    """The article's code, from ``import os`` to ``return messages``, exactly as printed."""
    text = SEED.read_text()
    start = text.index("import os\nimport fcntl\n")
    # The handler's own "return messages", not get_messages()'s.
    handler = text.index("def lambda_handler(", start)
    end = text.index("    return messages\n", handler) + len("    return messages\n")
    return text[start:end]


def make_wall(efs_client: Any, lambda_client: Any, apigw_client: Any) -> tuple[str, str]:
    """Everything the article sets up; returns (function name, the API's MessageWall URL)."""
    fs_id = efs_client.create_file_system(CreationToken=unique_name("msg-fs"))["FileSystemId"]
    wait_for(
        lambda: (
            efs_client.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["LifeCycleState"]
            == "available"
        )
    )
    access_point = efs_client.create_access_point(
        FileSystemId=fs_id,
        PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory={
            "Path": "/message",
            "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "750"},
        },
    )
    ap_id = access_point["AccessPointId"]
    wait_for(
        lambda: (
            efs_client.describe_access_points(AccessPointId=ap_id)["AccessPoints"][0][
                "LifeCycleState"
            ]
            == "available"
        )
    )
    name = unique_name("MessageWall")
    lambda_client.create_function(
        FunctionName=name,
        Runtime=RUNTIME,
        Role=ROLE,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": make_zip({"lambda_function.py": article_handler()})},
        FileSystemConfigs=[{"Arn": access_point["AccessPointArn"], "LocalMountPath": "/mnt/msg"}],
    )
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    function_arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api = apigw_client.create_api(Name=f"{name}-API", ProtocolType="HTTP")
    integration = apigw_client.create_integration(
        ApiId=api["ApiId"],
        IntegrationType="AWS_PROXY",
        IntegrationUri=function_arn,
        PayloadFormatVersion="2.0",
    )
    apigw_client.create_route(
        ApiId=api["ApiId"],
        RouteKey="ANY /MessageWall",
        Target=f"integrations/{integration['IntegrationId']}",
    )
    apigw_client.create_stage(ApiId=api["ApiId"], StageName="default", AutoDeploy=True)
    return name, f"{api['ApiEndpoint']}/default/MessageWall"


def curl(*args: str) -> str:
    return subprocess.run(
        ["curl", "-s", *args], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def post(url: str, message: str) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    try:
        conn.request("POST", parts.path, message.encode(), {"Content-Type": "text/plain"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_message_wall(server: Any, efs_client: Any, lambda_client: Any, apigw_client: Any) -> None:
    name, url = make_wall(efs_client, lambda_client, apigw_client)

    # The article's six steps, with the article's outputs.
    assert curl(url) == "No message yet."
    assert (
        curl("-X", "POST", "-H", "Content-Type: text/plain", "-d", "Hello from EFS!", url)
        == "Hello from EFS!\n"
    )
    assert (
        curl("-X", "POST", "-H", "Content-Type: text/plain", "-d", "Hello again :)", url)
        == "Hello from EFS!\nHello again :)\n"
    )
    assert curl(url) == "Hello from EFS!\nHello again :)\n"
    assert curl("-X", "DELETE", url) == "Messages deleted."
    assert curl(url) == "No message yet."

    # 400 POSTs from 40 concurrent clients.
    messages = [f"client-{c:02d} message-{i:02d} " + "x" * 64 for c in range(40) for i in range(10)]

    def client(c: int) -> list[int]:
        return [post(url, m) for m in messages[c * 10 : (c + 1) * 10]]

    with ThreadPoolExecutor(40) as pool:
        statuses = [s for batch in pool.map(client, range(40)) for s in batch]
    assert statuses == [200] * 400

    lines = curl(url).split("\n")
    assert lines[-1] == ""  # the wall ends with a newline: no half-written line
    counts = Counter(lines[:-1])
    assert len(lines) - 1 == 400
    assert all(re.fullmatch(r"client-\d\d message-\d\d x{64}", line) for line in counts)
    assert counts == Counter(messages)

    # Several execution environments served them: one log stream per environment.
    with urllib.request.urlopen(f"{server.endpoint}/shoal/logs/{quote(name, safe='')}") as r:
        events = json.load(r)["events"]
    streams = {e["logStreamName"] for e in events if e["message"].startswith("START RequestId")}
    assert len(streams) > 1, streams


def test_handler_is_the_article_code_as_printed() -> None:
    source = article_handler()
    assert source.startswith("import os\nimport fcntl\nMSG_FILE_PATH = '/mnt/msg/content'\n")
    assert source.endswith("        messages = 'Method unsupported.'\n    return messages\n")
    compile(source, "lambda_function.py", "exec")
    assert Path(SEED).is_file()
