"""Web apps behind an HTTP API make URLs that come back through Shoal: a FastAPI app through
Mangum and a Flask app through serverless-wsgi (packaged from PyPI at test time, as in
:mod:`test_framing_node`), each followed with ``curl -L`` on the path-style endpoint
(``{base}/execute-api/{apiId}/…``) and on the host-style one (``{apiId}.execute-api.localhost``).

What the adapters need from the event: ``x-forwarded-proto`` (both default to https, where
Shoal serves http), the ``host`` the client used (with its port), and, on a path-style request,
the gateway putting ``/execute-api/{apiId}`` back into ``Location``: the apps see the paths AWS
would give them and redirect to ``/hello`` or ``http://127.0.0.1:PORT/hello``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from test_framing_node import adapters, deploy, package

from conftest import unique_name

FASTAPI_APP = """
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from mangum import Mangum

app = FastAPI()

@app.get("/hello")
def hello(request: Request):
    return {"framework": "fastapi", "self": str(request.url_for("hello"))}

@app.get("/absolute")
def absolute(request: Request):
    return RedirectResponse(request.url_for("hello"))

@app.get("/relative")
def relative():
    return RedirectResponse("/hello")

handler = Mangum(app, lifespan="off")
"""

FLASK_APP = """
import serverless_wsgi
from flask import Flask, jsonify, redirect, url_for

app = Flask(__name__)

@app.get("/hello")
def hello():
    return jsonify({"framework": "flask", "self": url_for("hello", _external=True)})

@app.get("/absolute")
def absolute():
    return redirect(url_for("hello", _external=True))

@app.get("/relative")
def relative():
    return redirect(url_for("hello"))

def handler(event, context):
    return serverless_wsgi.handle_request(app, event, context)
"""


def curl_follow(url: str) -> tuple[str, dict[str, Any]]:
    """``curl -L``: the URL it ended at, and the JSON body there."""
    out = subprocess.run(
        ["curl", "-s", "-L", "--fail", "--max-redirs", "3", "-w", "\\n%{url_effective}", url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, (url, out.returncode, out.stdout, out.stderr)
    body, _, effective = out.stdout.rpartition("\n")
    return effective, json.loads(body)


@adapters(FASTAPI_APP, FLASK_APP)
def test_redirects_and_absolute_urls_resolve_through_shoal(
    framework: str,
    requirements: list[str],
    app: str,
    lambda_client: Any,
    apigw_client: Any,
    tmp_path: Path,
) -> None:
    path_style = deploy(lambda_client, apigw_client, unique_name(framework),
                        package(tmp_path, requirements, app))  # fmt: skip
    parts = urlsplit(path_style)
    api_id = parts.path.rstrip("/").rsplit("/", 1)[1]
    host_style = f"http://{api_id}.execute-api.localhost:{parts.port}"

    for base in (path_style, host_style):
        for route in ("absolute", "relative"):
            effective, doc = curl_follow(f"{base}/{route}")
            assert effective == f"{base}/hello", (route, effective)
            assert doc["framework"] == framework
    # FastAPI's own redirect: a trailing slash, to the URL without it.
    if framework == "fastapi":
        for base in (path_style, host_style):
            assert curl_follow(f"{base}/hello/")[0] == f"{base}/hello"
    # An absolute URL in a body: the app builds it from the Host and X-Forwarded-Proto, which
    # name the host-style endpoint as the client used it.
    effective, doc = curl_follow(f"{host_style}/hello")
    assert doc["self"] == f"{host_style}/hello"
    assert curl_follow(doc["self"])[1]["framework"] == framework
