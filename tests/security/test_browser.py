"""Attacks from a web page in a browser on the host: forged cross-site requests (CSRF) and DNS
rebinding against the control plane, sent as a browser would send them.

A page on any site may POST a ``text/plain`` body anywhere without a CORS preflight, and the
browser names the page in ``Origin``; after DNS rebinding the page's requests carry its own name
in ``Host`` and no foreign Origin. Each attack is shown to do nothing (nothing is created or
invoked), and the same request without ``Origin`` and with Shoal's own Host is shown to work —
so a refusal is the admission check's doing, not a malformed request.
"""

from __future__ import annotations

import base64
import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions
import pytest

from conftest import (
    ROLE,
    RUNTIME,
    ShoalServer,
    create_function,
    make_zip,
    signed_headers,
    start_server,
    unique_name,
    wait_for,
)

EVIL = "http://evil.example"
CODE = "def handler(event, context):\n    print('ran', event)\n    return {'ran': True}\n"


def send(
    server: ShoalServer,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    signed: bool = True,
) -> tuple[int, dict[str, str], bytes]:
    """One request as a browser sends it: ``text/plain`` (a "simple" request), any headers.
    ``signed``: with a valid SigV4 signature too (a page cannot make one, but a refusal shown
    on a signed request is the admission check's doing, not the missing signature's)."""
    parts = urlsplit(server.endpoint)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        given = {
            "Host": parts.netloc,
            "Content-Type": "text/plain;charset=UTF-8",
            **(headers or {}),
        }
        if signed:
            url = f"http://{given['Host']}{path}"
            given = signed_headers(method, url, body, _signing_name(path), headers=given)
        for name, value in given.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _signing_name(path: str) -> str:
    if path.startswith("/shoal/"):
        return "shoal"
    if path.startswith("/2015-02-01/"):
        return "elasticfilesystem"
    return "apigateway" if path.startswith("/v2/") else "lambda"


def create_body(name: str) -> bytes:
    return json.dumps(
        {
            "FunctionName": name,
            "Runtime": RUNTIME,
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(make_zip({"app.py": CODE})).decode()},
        }
    ).encode()


def names(lambda_client: Any) -> set[str]:
    found: set[str] = set()
    for page in lambda_client.get_paginator("list_functions").paginate():
        found.update(f["FunctionName"] for f in page["Functions"])
    return found


def assert_refused(
    reply: tuple[int, dict[str, str], bytes], reason: str, message_key: str = "Message"
) -> None:
    status, headers, body = reply
    assert status == 403, body
    assert headers["x-amzn-errortype"] == "AccessDeniedException"
    assert json.loads(body)[message_key] == reason


def test_forged_create_function_is_refused(server: ShoalServer, lambda_client: Any) -> None:
    forged, real = unique_name("csrf"), unique_name("real")
    path = "/2015-03-31/functions"
    assert_refused(
        send(server, "POST", path, create_body(forged), {"Origin": EVIL}),
        "cross-origin request refused",
    )
    assert_refused(
        send(server, "POST", path, create_body(forged), {"Origin": "null"}),
        "cross-origin request refused",
    )
    assert forged not in names(lambda_client)
    # The same text/plain request as curl sends it (no Origin) but unsigned, from loopback:
    # refused, there is no unauthenticated mode.
    status, headers, body = send(server, "POST", path, create_body(forged), signed=False)
    assert (status, headers["x-amzn-errortype"]) == (403, "MissingAuthenticationTokenException")
    assert forged not in names(lambda_client)
    # Signed, as curl --aws-sigv4 sends it: it does create a function.
    status, _, body = send(server, "POST", path, create_body(real))
    assert status == 201, body
    assert real in names(lambda_client)


def test_forged_invoke_never_runs(server: ShoalServer, lambda_client: Any) -> None:
    name = create_function(lambda_client, unique_name("victim"), CODE)
    path = f"/2015-03-31/functions/{name}/invocations"
    for origin in (EVIL, "http://127.0.0.1:8000", f"https://{urlsplit(server.endpoint).netloc}"):
        assert_refused(
            send(server, "POST", path, b'{"forged": true}', {"Origin": origin}),
            "cross-origin request refused",
        )
    assert_refused(
        send(server, "POST", path, b'{"forged": true}', {"Sec-Fetch-Site": "cross-site"}),
        "cross-site request refused",
    )
    # Shoal's own origin (a page Shoal itself served) and no Origin at all are admitted.
    own = f"http://{urlsplit(server.endpoint).netloc}"
    status, _, body = send(server, "POST", path, b'{"own": true}', {"Origin": own})
    assert (status, json.loads(body)) == (200, {"ran": True})

    def runs() -> list[str]:
        status, _, body = send(server, "GET", f"/shoal/logs/{name}")
        assert status == 200
        return [e["message"] for e in json.loads(body)["events"] if "ran {" in e["message"]]

    # Exactly the admitted invocation ran: none of the forged ones reached the function.
    assert len(wait_for(runs)) == 1
    assert "forged" not in runs()[0]


def test_dns_rebinding_is_refused(server: ShoalServer, lambda_client: Any) -> None:
    port = urlsplit(server.endpoint).port
    rebound = {"Host": f"evil.example:{port}"}  # the page's own name, now resolving to us
    forged = unique_name("rebind")
    for method, path, body in [
        ("GET", "/2015-03-31/functions/", b""),  # reading the answers is the point of rebinding
        ("POST", "/2015-03-31/functions", create_body(forged)),
        ("GET", "/shoal/environments", b""),
    ]:
        reply = send(server, method, path, body, rebound)
        key = "Message" if path.startswith("/2015") else "message"
        assert_refused(reply, "Host header not served here", key)
    assert forged not in names(lambda_client)
    # With Shoal's own names the same reads work.
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        status, _, body = send(server, "GET", "/2015-03-31/functions/", headers={"Host": host})
        assert status == 200 and "Functions" in json.loads(body)


def test_efs_and_apigateway_management_are_guarded(server: ShoalServer, efs_client: Any) -> None:
    token = unique_name("csrf-fs")
    body = json.dumps({"CreationToken": token}).encode()
    status, headers, raw = send(server, "POST", "/2015-02-01/file-systems", body, {"Origin": EVIL})
    assert (status, headers["x-amzn-errortype"]) == (403, "AccessDeniedException")
    assert json.loads(raw) == {
        "ErrorCode": "AccessDeniedException",
        "Message": "cross-origin request refused",
    }
    assert efs_client.describe_file_systems(CreationToken=token)["FileSystems"] == []
    api = json.dumps({"Name": unique_name("csrf-api"), "ProtocolType": "HTTP"}).encode()
    assert_refused(
        send(server, "POST", "/v2/apis", api, {"Origin": EVIL}),
        "cross-origin request refused",
        "message",
    )
    status, _, _ = send(server, "POST", "/2015-02-01/file-systems", body)
    assert status == 201


def test_ec2_management_is_guarded(server: ShoalServer) -> None:
    """A forged form POST to the query protocol's "/" is refused in EC2's XML error shape,
    which boto3 parses; the VPC is not made."""
    ec2: Any = server.client("ec2")

    def forge(request: Any, **_: Any) -> None:
        request.headers["Origin"] = EVIL

    ec2.meta.events.register("before-send.ec2.CreateVpc", forge)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        ec2.create_vpc(CidrBlock="10.77.0.0/16")
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "UnauthorizedOperation",
        "cross-origin request refused",
    )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    cidrs = {v["CidrBlock"] for v in server.client("ec2").describe_vpcs()["Vpcs"]}
    assert "10.77.0.0/16" not in cidrs


def test_boto3_reads_the_refusal_as_access_denied(server: ShoalServer) -> None:
    """The refusal parses in botocore as AccessDeniedException with the reason."""
    lam: Any = server.client("lambda")

    def forge(request: Any, **_: Any) -> None:
        request.headers["Origin"] = EVIL

    lam.meta.events.register("before-send.lambda.ListFunctions", forge)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        lam.list_functions()
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "AccessDeniedException",
        "cross-origin request refused",
    )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_gateway_is_public_but_not_rebindable(
    server: ShoalServer, lambda_client: Any, apigw_client: Any
) -> None:
    name = create_function(lambda_client, unique_name("public"), CODE)
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api = apigw_client.create_api(Name=unique_name("public"), ProtocolType="HTTP", Target=arn)
    path = urlsplit(api["ApiEndpoint"]).path + "/x"
    port = urlsplit(server.endpoint).port
    # Any Origin may call a public API (its CORS configuration decides what the page reads).
    status, _, body = send(server, "POST", path, b"hi", {"Origin": EVIL})
    assert (status, json.loads(body)) == (200, {"ran": True})
    status, _, _ = send(
        server, "GET", "/x", headers={"Host": f"{api['ApiId']}.execute-api.localhost:{port}"}
    )
    assert status == 200
    # A rebound name does not reach it: a route on loopback may be meant for this host alone.
    status, headers, body = send(server, "GET", path, headers={"Host": f"evil.example:{port}"})
    assert (status, headers["x-amzn-errortype"]) == (403, "ForbiddenException")
    assert json.loads(body) == {"message": "Forbidden: Host header not served here"}


def test_a_refused_request_leaves_the_connection_in_step(server: ShoalServer) -> None:
    """The refused request's body is never parsed as a request of its own: the next request on
    the same connection gets its own answer."""
    parts = urlsplit(server.endpoint)
    smuggled = b"GET /shoal/environments HTTP/1.1\r\nHost: " + parts.netloc.encode() + b"\r\n\r\n"
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.request("POST", "/2015-03-31/functions", body=smuggled,
                     headers={"Origin": EVIL, "Content-Type": "text/plain"})  # fmt: skip
        first = conn.getresponse()
        assert first.status == 403
        first.read()
        conn.request("GET", "/shoal/health")
        second = conn.getresponse()
        assert (second.status, json.loads(second.read())) == (200, {"status": "ok"})
    finally:
        conn.close()


def test_allowed_host_is_served(tmp_path: Path) -> None:
    """``--allowed-host``: an operator's name for Shoal (behind a proxy, or on another address)."""
    srv = start_server(tmp_path / "data", "--allowed-host", "shoal.internal")
    try:
        port = urlsplit(srv.endpoint).port
        for host, origin, expected in [
            (f"shoal.internal:{port}", f"http://shoal.internal:{port}", 200),
            ("shoal.internal", "https://shoal.internal", 200),  # a TLS proxy in front
            (f"other.internal:{port}", None, 403),
        ]:
            headers = {"Host": host, **({"Origin": origin} if origin else {})}
            status, _, body = send(srv, "GET", "/2015-03-31/functions/", headers=headers)
            assert status == expected, (host, body)
    finally:
        srv.stop()
