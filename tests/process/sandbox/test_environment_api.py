"""Functions reach Shoal's API, and only it: ``AWS_ENDPOINT_URL`` names the gateway's address
and the API's port, the bundled boto3 uses it (over TLS with Shoal's CA under ``--tls auto``),
and every other port of the host stays closed (the NFS port among them)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from conftest import ROLE, ShoalServer, create_function, make_zip, start_server, unique_name

CALLER = """
import json, os, socket, ssl, urllib.error, urllib.request

def connect(host, port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((host, port))
        return "connected"
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()

def handler(event, context):
    import boto3, botocore, botocore.exceptions
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    ctx = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE"))
    with urllib.request.urlopen(endpoint + "/shoal/health", timeout=10, context=ctx) as r:
        health = json.loads(r.read())
    # Signed with the test server's root keys, which the test hands it; unknown keys are refused.
    lam = boto3.client("lambda", aws_access_key_id="shoal", aws_secret_access_key="shoal")
    pages = lam.get_paginator("list_functions").paginate()
    names = [f["FunctionName"] for page in pages for f in page["Functions"]]
    try:
        boto3.client("lambda", aws_access_key_id="fn", aws_secret_access_key="fn").list_functions()
        refused = None
    except botocore.exceptions.ClientError as e:
        refused = e.response["Error"]["Code"]
    try:  # unsigned: a function is no local user, it must sign
        urllib.request.urlopen(endpoint + "/2015-03-31/functions/", timeout=10, context=ctx)
        unsigned = None
    except urllib.error.HTTPError as e:
        with e:
            unsigned = [e.code, e.headers["x-amzn-ErrorType"]]
    host = endpoint.split("://")[1].rsplit(":", 1)[0]
    return {
        "endpoint": endpoint,
        "ca": os.environ.get("AWS_CA_BUNDLE"),
        "init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "boto3": [boto3.__version__, boto3.__file__, botocore.__version__],
        "health": health,
        "names": names,
        "refused": refused,
        "unsigned": unsigned,
        "connect": {f"{h}:{p}": connect(h, p) for h, p in event.get("connect", [])},
        "gateway_ports": {str(p): connect(host, p) for p in event.get("ports", [])},
    }
"""


def invoke(client: Any, name: str, event: dict[str, Any]) -> Any:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event))
    body = response["Payload"].read()
    assert "FunctionError" not in response, body
    return json.loads(body)


@pytest.fixture
def host_listener() -> Iterator[int]:
    with socket.socket() as srv:
        srv.bind(("0.0.0.0", 0))
        srv.listen()
        yield srv.getsockname()[1]


def test_a_function_calls_the_api_with_the_bundled_boto3(
    server: ShoalServer, lambda_client: Any, host_listener: int
) -> None:
    name = create_function(lambda_client, code=CALLER)
    api_port = int(server.endpoint.rsplit(":", 1)[1])
    # The NFS port (mount targets listen on 127.0.0.1 from 2049 up), another service of the
    # host on every address, and ports next to the API's: all closed at the gateway.
    ports = [2049, host_listener, api_port + 1, 22]
    out = invoke(lambda_client, name, {"ports": ports})
    assert out["endpoint"].startswith("http://100.") and out["endpoint"].endswith(f":{api_port}")
    assert out["ca"] is None
    version, path, _ = out["boto3"]
    assert version == boto3.__version__ and path.startswith("/var/lang/lib/python3.")
    assert out["health"] == {"status": "ok"}
    assert name in out["names"]
    assert out["refused"] == "UnrecognizedClientException"
    assert out["unsigned"] == [403, "MissingAuthenticationTokenException"]
    assert len(out["gateway_ports"]) == len(ports)
    assert "connected" not in out["gateway_ports"].values(), out  # rejected: EHOSTUNREACH
    gateway = out["endpoint"].split("://")[1].rsplit(":", 1)[0]
    socket.create_connection((gateway, host_listener), timeout=2).close()  # open to the host


def test_the_functions_own_boto3_wins(lambda_client: Any) -> None:
    name = unique_name()
    code = "import boto3\ndef handler(e, c):\n    return [boto3.__version__, boto3.__file__]\n"
    lambda_client.create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": code, "boto3/__init__.py": "__version__ = 'mine'\n"})},
    )  # fmt: skip
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)
    assert invoke(lambda_client, name, {}) == ["mine", "/var/task/boto3/__init__.py"]


def test_under_tls_the_environment_trusts_shoals_ca(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", "--tls", "auto")
    try:
        lam = boto3.client(
            "lambda", endpoint_url=srv.endpoint, region_name="us-east-1",
            verify=str(srv.data_dir / "tls" / "ca.pem"),
            aws_access_key_id="shoal", aws_secret_access_key="shoal",
            config=Config(retries={"max_attempts": 0}),
        )  # fmt: skip
        name = create_function(lam, code=CALLER)
        out = invoke(lam, name, {})
        assert out["endpoint"].startswith("https://100.")
        assert out["ca"] == "/etc/shoal-ca.pem"
        assert out["health"] == {"status": "ok"} and name in out["names"]
    finally:
        srv.stop()


def test_a_snapshot_started_environment_reaches_the_api_too(lambda_client: Any) -> None:
    name = create_function(
        lambda_client, code=CALLER, SnapStart={"ApplyOn": "PublishedVersions"}
    )
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, Qualifier=version)
    response = lambda_client.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")
    body = response["Payload"].read()
    assert "FunctionError" not in response, body
    out = json.loads(body)
    assert out["health"] == {"status": "ok"} and name in out["names"]
    assert out["init"] == "snap-start"


@pytest.mark.parametrize("runtime", ["python3.10", "python3.12", "python3.13"])
def test_every_runtime_from_3_10_bundles_the_sdk(lambda_client: Any, runtime: str) -> None:
    code = "import boto3, botocore\ndef handler(e, c):\n    return boto3.__file__\n"
    name = create_function(lambda_client, code=code, Runtime=runtime)
    site = f"/var/lang/lib/{runtime}/site-packages/boto3/__init__.py"
    assert invoke(lambda_client, name, {}) == site
