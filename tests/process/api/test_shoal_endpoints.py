"""Shoal's own endpoints (``/shoal/...``) answer bad parameters with a 400 and a JSON error."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from conftest import ShoalServer, create_function, shoal_urlopen


def get(server: ShoalServer, path: str, method: str = "GET") -> tuple[int, str, Any]:
    try:
        with shoal_urlopen(server.endpoint + path, method, timeout=30) as response:
            return response.status, response.headers["Content-Type"], json.loads(response.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        assert e.headers["Content-Type"].startswith("application/json"), body
        return e.code, e.headers["Content-Type"], json.loads(body)


@pytest.mark.parametrize(
    "query",
    ["start=abc", "limit=abc", "limit=0", "limit=-3", "start=-1", "start=1e3",
     "start=" + "9" * 5000, "limit=" + "9" * 30],
)  # fmt: skip
def test_log_parameters_that_are_not_usable_are_a_400(server: ShoalServer, query: str) -> None:
    status, _, doc = get(server, f"/shoal/logs/some-function?{query}")
    assert status == 400
    assert query.split("=")[0] in doc["message"]


@pytest.mark.parametrize("name", ["..", ".", "%2E%2E", "a%2Fb", "%00"])
def test_a_log_name_that_is_no_function_name_is_a_400(server: ShoalServer, name: str) -> None:
    status, _, doc = get(server, f"/shoal/logs/{name}")
    assert status == 400
    assert "function name" in doc["message"]


def test_good_log_parameters_still_work(server: ShoalServer, lambda_client: Any) -> None:
    name = create_function(lambda_client, code="def handler(e, c):\n    print('hi')\n")
    lambda_client.invoke(FunctionName=name, Payload=b"{}")
    status, ctype, doc = get(server, f"/shoal/logs/{name}?start=0&limit=2")
    assert status == 200 and ctype == "application/json"
    assert len(doc["events"]) == 2


@pytest.mark.parametrize("depth", ["abc", "-1", "65", "1.5"])
def test_du_depth_that_is_not_usable_is_a_400(
    server: ShoalServer, efs_client: Any, depth: str
) -> None:
    fs_id = efs_client.create_file_system(CreationToken=f"du-{depth}")["FileSystemId"]
    status, _, doc = get(server, f"/shoal/fs/file-systems/{fs_id}/du?depth={depth}")
    assert status == 400
    assert doc["ErrorCode"] == "BadRequest" and "depth" in doc["Message"]
    status, _, doc = get(server, f"/shoal/fs/file-systems/{fs_id}/du?depth=1")
    assert status == 200 and doc["FileSystemId"] == fs_id


def test_unknown_shoal_paths_answer_json(server: ShoalServer) -> None:
    assert get(server, "/shoal/fs/nothing-here")[0] == 404
    assert get(server, "/shoal/nothing-here")[0] == 404


@pytest.mark.parametrize(
    "path, method, allowed",
    [("/shoal/fs/file-systems/fs-0123456789abcdef0/path", "POST", "GET"),
     ("/shoal/fs/file-systems/fs-0123456789abcdef0/du", "DELETE", "GET"),
     ("/shoal/fs/access-points/fsap-0123456789abcdef0/path", "GET", "POST"),
     ("/shoal/fs/mount-targets/fsmt-0123456789abcdef0", "PUT", "GET")],
)  # fmt: skip
def test_another_method_is_a_405_in_json(
    server: ShoalServer, path: str, method: str, allowed: str
) -> None:
    with pytest.raises(urllib.error.HTTPError) as e:
        shoal_urlopen(server.endpoint + path, method, timeout=30)
    with e.value:
        assert e.value.code == 405 and e.value.headers["Allow"] == allowed
        assert e.value.headers["Content-Type"].startswith("application/json")
        assert json.loads(e.value.read())["ErrorCode"] == "MethodNotAllowed"
    # The method it takes still reaches it (here: not found, in the same shape).
    status, _, doc = get(server, path, allowed)
    assert status == 404 and doc["ErrorCode"].endswith("NotFound")
