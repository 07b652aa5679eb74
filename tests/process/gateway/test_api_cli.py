"""``shoal api`` as a user types it, against a real server, checked with curl."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from conftest import ROOT, create_function, unique_name

HELLO = "def handler(event, context):\n    return 'hi from ' + event['rawPath']\n"


def shoal(server: Any, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "shoal", *args, "--endpoint-url", server.endpoint],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=ROOT,
    ).stdout


def curl(url: str) -> str:
    return subprocess.run(
        ["curl", "-s", url], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def test_api_create_route_and_stage(server: Any, lambda_client: Any) -> None:
    name = create_function(lambda_client, unique_name("cli"), HELLO)
    url = shoal(
        server,
        "api",
        "create",
        unique_name("wall"),
        "--function",
        name,
        "--route",
        "ANY /MessageWall",
        "--stage",
        "default",
    ).strip()
    assert url.startswith(server.endpoint + "/execute-api/")
    assert url.endswith("/default/MessageWall")
    assert curl(url) == "hi from /default/MessageWall"
    api_id = url.split("/execute-api/")[1].split("/")[0]
    assert api_id in shoal(server, "api", "list")
    assert '"ANY /MessageWall"' in shoal(server, "api", "routes", api_id)
    shoal(server, "api", "delete", api_id)
    assert api_id not in shoal(server, "api", "list")


def test_api_quick_create_and_function_url(server: Any, lambda_client: Any) -> None:
    name = create_function(lambda_client, unique_name("cli"), HELLO)
    base = shoal(server, "api", "create", unique_name("quick"), "--function", name).strip()
    assert curl(base + "any/where") == "hi from /any/where"
    url = shoal(server, "api", "url", name).strip()
    assert shoal(server, "api", "url", name).strip() == url  # idempotent
    assert curl(url + "x") == "hi from /x"
    shoal(server, "api", "url", name, "--delete")
    assert "Forbidden" in curl(url)


ECHO_ROUTE = """
import json

def handler(event, context):
    return json.dumps({"route": event["routeKey"], "params": event.get("pathParameters")})
"""


def test_routes_with_path_variables_print_urls_curl_can_take(
    server: Any, lambda_client: Any
) -> None:
    """``{proxy+}`` and ``{id}`` are filled in with their names: a URL with no braces (which
    are not URL characters, and curl globs) that reaches the route as printed."""
    name = create_function(lambda_client, unique_name("cli"), ECHO_ROUTE)
    out = shoal(server, "api", "create", unique_name("vars"), "--function", name,
                "--route", "ANY /files/{proxy+}", "--route", "GET /items/{id}/parts/{part}",
                "--stage", "default")  # fmt: skip
    files, parts = out.split()
    assert files.endswith("/default/files/proxy")
    assert parts.endswith("/default/items/id/parts/part")
    for url in (files, parts):
        assert "{" not in url and "}" not in url
    got = json.loads(curl_raw(files))
    assert got == {"route": "ANY /files/{proxy+}", "params": {"proxy": "proxy"}}
    got = json.loads(curl_raw(parts))
    assert got == {"route": "GET /items/{id}/parts/{part}", "params": {"id": "id", "part": "part"}}
    api_id = files.split("/execute-api/")[1].split("/")[0]
    routes = json.loads(shoal(server, "api", "routes", api_id))["Routes"]
    assert sorted((r["RouteKey"], r["Urls"]) for r in routes) == sorted(
        [("ANY /files/{proxy+}", [files]), ("GET /items/{id}/parts/{part}", [parts])]
    )


def curl_raw(url: str) -> str:
    """curl with globbing off: the URL exactly as printed."""
    return subprocess.run(
        ["curl", "-sfg", url], capture_output=True, text=True, check=True, timeout=60
    ).stdout
