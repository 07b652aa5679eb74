"""The seed's MessageWall, word for word: the article's handler source as printed, its file
system and access point, an HTTP API with stage ``default`` and route ``ANY /MessageWall``, the
article's six curl commands with the article's outputs; then 400 POSTs from 40 concurrent
clients, every message on the wall exactly once and intact, served by several environments."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlsplit

from conftest import shoal_urlopen
from seed_setup import SEED_HANDLER, article_handler, message_wall


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
    name, url = message_wall(efs_client, lambda_client, apigw_client)

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
    with shoal_urlopen(f"{server.endpoint}/shoal/logs/{quote(name, safe='')}") as r:
        events = json.load(r)["events"]
    streams = {e["logStreamName"] for e in events if e["message"].startswith("START RequestId")}
    assert len(streams) > 1, streams


def test_handler_is_the_article_code_as_printed() -> None:
    source = article_handler()
    assert source.startswith("import os\nimport fcntl\nMSG_FILE_PATH = '/mnt/msg/content'\n")
    assert source.endswith("        messages = 'Method unsupported.'\n    return messages\n")
    compile(source, "lambda_function.py", "exec")
    assert SEED_HANDLER.read_bytes() == source.encode()
