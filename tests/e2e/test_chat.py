"""The chat example as a user runs it: ``examples/chat/setup.sh`` (the AWS CLI), then two
members, one with Python's ``websockets`` client and one with Node 20's ``WebSocket``, talking
through the function's broadcast (``PostToConnection`` with the function's role credentials,
member ids kept on an EFS access point); then ``teardown.sh``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from conftest import ROOT, ShoalServer, unique_name

CHAT = ROOT / "examples" / "chat"

# Bob: connects, says hello, prints every message it gets, and leaves after the second.
NODE_BOB = """
const ws = new WebSocket(process.argv[1] + "?name=bob");
let seen = 0;
ws.onopen = () => {
  console.log("open");
  ws.send(JSON.stringify({action: "sendmessage", message: "hi from node"}));
};
ws.onmessage = (m) => {
  console.log(m.data);
  if (++seen === 2) ws.close(1000, "bye");
};
ws.onclose = (e) => { console.log("closed " + e.code); process.exit(0); };
ws.onerror = (e) => { console.log("error " + e.message); process.exit(1); };
"""


def script(srv: ShoalServer, path: Path, *args: str) -> str:
    env = {**os.environ, "SHOAL_ENDPOINT": srv.endpoint, "SHOAL_DATA_DIR": str(srv.data_dir)}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    proc = subprocess.run([str(path), *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, f"{path.name}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout.strip()


def test_chat(server: ShoalServer) -> None:
    name = unique_name("Chat")
    url = script(server, CHAT / "setup.sh", name)
    assert url.startswith("ws://") and url.endswith("/production")
    assert script(server, CHAT / "setup.sh", name) == url  # again: finds what it made
    try:
        with connect(url + "?name=alice", open_timeout=120) as alice:
            bob = subprocess.Popen(["node", "--experimental-websocket", "-e", NODE_BOB, url],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            try:
                assert bob.stdout is not None
                assert bob.stdout.readline().strip() == "open"
                heard = json.loads(alice.recv(timeout=120))
                assert heard == {"from": "bob", "message": "hi from node"}
                alice.send(json.dumps({"action": "sendmessage", "message": "hi bob"}))
                assert json.loads(alice.recv(timeout=120)) == {"from": "alice",
                                                               "message": "hi bob"}
                out, _ = bob.communicate(timeout=120)
            finally:
                if bob.poll() is None:
                    bob.kill()
                    bob.communicate()
            lines = out.splitlines()
            assert [json.loads(line) for line in lines[:2]] == [
                {"from": "bob", "message": "hi from node"}, {"from": "alice", "message": "hi bob"}
            ]
            assert lines[2] == "closed 1000"
            # Bob is gone ($disconnect forgot him): alice alone hears herself.
            alice.send(json.dumps({"action": "sendmessage", "message": "anyone?"}))
            assert json.loads(alice.recv(timeout=120)) == {"from": "alice", "message": "anyone?"}
            alice.send("hello?")  # no action: $default answers how to talk
            help_text: Any = json.loads(alice.recv(timeout=120))
            assert "sendmessage" in help_text["error"]
    finally:
        script(server, CHAT / "teardown.sh", name)
    apis = server.client("apigatewayv2").get_apis()["Items"]  # type: ignore[attr-defined]
    assert not [a for a in apis if a["Name"] == f"{name}-API"]
