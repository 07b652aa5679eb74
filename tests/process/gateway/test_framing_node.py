"""Node's ``fetch`` and ``http.get`` read what the gateway serves from the two usual Python web
adapters: a FastAPI app through Mangum and a Flask app through serverless-wsgi, each packaged at
test time from PyPI (``pip install --target``), deployed as a function behind an HTTP API.

Both adapters put the framework's own ``content-length`` into the result (shown first, by
invoking the function directly): copied through, it made a second Content-Length, which Node's
parser refuses ("Parse Error: Duplicate Content-Length"). Read with a raw socket, the answer has
exactly one Content-Length line and no Transfer-Encoding.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import ROLE, RUNTIME, unique_name

# Versions that support Python 3.11, pinned so the test is the same every run.
FASTAPI = ["fastapi==0.115.6", "mangum==0.19.0"]
FLASK = ["flask==3.1.0", "serverless-wsgi==3.0.5"]

FASTAPI_APP = """
from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()

@app.get("/hello")
def hello():
    return {"framework": "fastapi", "message": "Hello from Mangum"}

handler = Mangum(app, lifespan="off")
"""

FLASK_APP = """
import serverless_wsgi
from flask import Flask, jsonify

app = Flask(__name__)

@app.get("/hello")
def hello():
    return jsonify(framework="flask", message="Hello from serverless-wsgi")

def handler(event, context):
    return serverless_wsgi.handle_request(app, event, context)
"""

NODE_CLIENT = """
const http = require("http");
const url = process.argv[2];

function get(url) {
  return new Promise((resolve) => {
    http.get(url, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    }).on("error", (e) => resolve({ error: String(e) }));
  });
}

(async () => {
  const out = {};
  try {
    const res = await fetch(url);
    out.fetch = { status: res.status, body: await res.text() };
  } catch (e) {
    out.fetch = { error: String(e.cause || e) };
  }
  out.get = await get(url);
  console.log(JSON.stringify(out));
})();
"""


def package(where: Path, requirements: list[str], app: str) -> bytes:
    """A function package: the requirements installed from PyPI beside ``app.py``, zipped."""
    target = where / "pkg"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-warn-conflicts", "--target", str(target), *requirements],
        check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    (target / "app.py").write_text(app)
    shutil.rmtree(target / "bin", ignore_errors=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(target.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(target).as_posix())
    return buf.getvalue()


def deploy(lambda_client: Any, apigw_client: Any, name: str, code: bytes) -> str:
    lambda_client.create_function(
        FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="app.handler",
        Code={"ZipFile": code}, Timeout=60, MemorySize=512,
    )  # fmt: skip
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 600}
    )
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api = apigw_client.create_api(Name=name, ProtocolType="HTTP", Target=arn)
    endpoint: str = api["ApiEndpoint"]
    return endpoint


def raw_get(url: str) -> tuple[list[str], bytes]:
    """The response's header lines and the bytes after them, as they came off the socket."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), 60) as sock:
        request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
        sock.sendall(request.encode() + b"\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode("latin-1").split("\r\n"), body


def adapter_result(lambda_client: Any, name: str) -> dict[str, Any]:
    """What the adapter itself returns for GET /hello, invoked directly with an HTTP API event."""
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": "/hello", "rawQueryString": "",
        "headers": {"host": "example.com", "user-agent": "test"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "example.com",
            "domainPrefix": "example", "requestId": "r", "routeKey": "$default",
            "stage": "$default", "time": "02/Dec/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": "GET", "path": "/hello", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "test"},
        },
        "isBase64Encoded": False,
    }  # fmt: skip
    out = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert "FunctionError" not in out, out["Payload"].read()
    result: dict[str, Any] = json.load(out["Payload"])
    return result


# Each web adapter, with its pinned packages and its app (test_web_adapters.py takes its own apps).
def adapters(fastapi_app: str, flask_app: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(
        ("framework", "requirements", "app"),
        [("fastapi", FASTAPI, fastapi_app), ("flask", FLASK, flask_app)],
    )


@adapters(FASTAPI_APP, FLASK_APP)
def test_node_reads_adapter_responses(
    framework: str,
    requirements: list[str],
    app: str,
    lambda_client: Any,
    apigw_client: Any,
    tmp_path: Path,
) -> None:
    name = unique_name(framework)
    endpoint = deploy(lambda_client, apigw_client, name, package(tmp_path, requirements, app))
    expected = {
        "fastapi": {"framework": "fastapi", "message": "Hello from Mangum"},
        "flask": {"framework": "flask", "message": "Hello from serverless-wsgi"},
    }[framework]

    # The adapter's own answer carries the framework's content-length (either spelling): the
    # thing the gateway must not copy.
    direct = adapter_result(lambda_client, name)
    assert "content-length" in {k.lower() for k in direct["headers"]}, direct["headers"]

    # On the wire: one Content-Length, of the body sent, and no Transfer-Encoding beside it.
    lines, body = raw_get(endpoint + "/hello")
    assert lines[0] == "HTTP/1.1 200 OK", lines
    lengths = [ln for ln in lines if ln.lower().startswith("content-length:")]
    assert lengths == [f"content-length: {len(body)}"], lines
    assert not [ln for ln in lines if ln.lower().startswith("transfer-encoding:")], lines
    assert json.loads(body) == expected

    # Node, both ways.
    script = tmp_path / "client.js"
    script.write_text(NODE_CLIENT)
    out = subprocess.run(
        ["node", str(script), endpoint + "/hello"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for client in ("fetch", "get"):
        assert "error" not in result[client], (client, result[client])
        assert result[client]["status"] == 200
        assert json.loads(result[client]["body"]) == expected
