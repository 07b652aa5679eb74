"""HTTP_PROXY integrations against a real server: an upstream served by the test on a loopback
port that echoes what it received as JSON, the API managed with boto3 and called with httpx and
Node's fetch; each parameter mapping checked against what the upstream got."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from conftest import unique_name

BIG = 10 * 1024 * 1024 + 1  # one byte over API Gateway's payload quota


class Upstream:
    """An echo server on 127.0.0.1: answers every request with what it received."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _echo(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path.startswith("/slow"):
                    time.sleep(1.5)
                if self.path.startswith("/big"):
                    self.send_response(200)
                    self.send_header("content-length", str(BIG))
                    self.end_headers()
                    self.wfile.write(b"x" * BIG)
                    return
                if self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("location", "http://127.0.0.1:1/elsewhere")
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                doc = {
                    "method": self.command,
                    "path": self.path,
                    "headers": [[k.lower(), v] for k, v in self.headers.items()],
                    "body": body.decode("latin-1"),
                    "peer": self.client_address[1],
                }
                out = json.dumps(doc).encode()
                status = 201 if self.path.startswith("/created") else 200
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("x-upstream", "echo")
                self.send_header("x-drop-me", "yes")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _echo  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


def _proxy(apigw: Any, api_id: str, uri: str, **kw: Any) -> str:
    return str(
        apigw.create_integration(
            ApiId=api_id,
            IntegrationType="HTTP_PROXY",
            IntegrationUri=uri,
            IntegrationMethod=kw.pop("method", "ANY"),
            PayloadFormatVersion="1.0",
            **kw,
        )["IntegrationId"]
    )


@pytest.fixture(scope="module")
def api(apigw_client: Any, upstream: Upstream) -> dict[str, Any]:
    apigw = apigw_client
    api_id = apigw.create_api(Name=unique_name("proxy"), ProtocolType="HTTP")["ApiId"]
    plain = _proxy(apigw, api_id, upstream.url + "/base/{proxy}")
    apigw.create_route(ApiId=api_id, RouteKey="ANY /p/{proxy+}", Target=f"integrations/{plain}")
    appended = _proxy(apigw, api_id, "http://${stageVariables.up}/root")
    apigw.create_route(ApiId=api_id, RouteKey="ANY /a/{rest+}", Target=f"integrations/{appended}")
    mapped = _proxy(
        apigw,
        api_id,
        upstream.url + "/mapped",
        method="POST",
        TimeoutInMillis=1000,
        RequestParameters={
            "overwrite:header.x-over": "$request.header.x-in",
            "append:header.x-app": "added-$context.stage",
            "remove:header.x-secret": "''",
            "overwrite:querystring.q": "$request.querystring.src",
            "append:querystring.many": "two",
            "remove:querystring.gone": "''",
            "append:header.x-req": "$context.requestId",
            "append:header.x-var": "${stageVariables.flavour}",
            "overwrite:header.x-body": "$request.body.user.name",
            "overwrite:header.x-body-id": "${request.body.user.id}",
        },
        ResponseParameters={
            "200": {
                "overwrite:statuscode": "202",
                "overwrite:header.x-upstream": "renamed-$response.header.x-upstream",
                "append:header.x-added": "static",
                "remove:header.x-drop-me": "''",
            }
        },
    )
    apigw.create_route(ApiId=api_id, RouteKey="POST /m", Target=f"integrations/{mapped}")
    path = _proxy(
        apigw, api_id, upstream.url, RequestParameters={"overwrite:path": "/created/$request.path"}
    )
    apigw.create_route(ApiId=api_id, RouteKey="GET /over", Target=f"integrations/{path}")
    slow = _proxy(apigw, api_id, upstream.url + "/slow", TimeoutInMillis=300)
    apigw.create_route(ApiId=api_id, RouteKey="GET /slow", Target=f"integrations/{slow}")
    dead = _proxy(apigw, api_id, "http://127.0.0.1:1/nothing")
    apigw.create_route(ApiId=api_id, RouteKey="GET /dead", Target=f"integrations/{dead}")
    metadata = _proxy(apigw, api_id, "http://${stageVariables.meta}/latest/meta-data/")
    apigw.create_route(ApiId=api_id, RouteKey="GET /meta", Target=f"integrations/{metadata}")
    redirect = _proxy(apigw, api_id, upstream.url + "/redirect")
    apigw.create_route(ApiId=api_id, RouteKey="GET /redirect", Target=f"integrations/{redirect}")
    big = _proxy(apigw, api_id, upstream.url + "/big")
    apigw.create_route(ApiId=api_id, RouteKey="GET /big", Target=f"integrations/{big}")
    default = _proxy(apigw, api_id, upstream.url + "/all")
    apigw.create_route(ApiId=api_id, RouteKey="$default", Target=f"integrations/{default}")
    apigw.create_stage(
        ApiId=api_id,
        StageName="$default",
        AutoDeploy=True,
        StageVariables={
            "up": upstream.url.split("//")[1],
            "flavour": "vanilla",
            "meta": "169.254.169.254",
        },
    )
    endpoint = apigw.get_api(ApiId=api_id)["ApiEndpoint"]
    return {"id": api_id, "endpoint": endpoint, "mapped": mapped}


def _headers(doc: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in doc["headers"]:
        out.setdefault(k, []).append(v)
    return out


def test_management_shapes(apigw_client: Any, api: dict[str, Any], upstream: Upstream) -> None:
    got = apigw_client.get_integration(ApiId=api["id"], IntegrationId=api["mapped"])
    assert got["IntegrationType"] == "HTTP_PROXY"
    assert got["IntegrationMethod"] == "POST"
    assert got["ConnectionType"] == "INTERNET"
    assert got["PayloadFormatVersion"] == "1.0"
    assert got["TimeoutInMillis"] == 1000
    assert got["RequestParameters"]["remove:querystring.gone"] == "''"
    assert got["ResponseParameters"]["200"]["overwrite:statuscode"] == "202"
    for bad in (
        {"IntegrationUri": "ftp://example.com/x", "IntegrationMethod": "GET"},
        {"IntegrationUri": upstream.url},  # no IntegrationMethod
        {"IntegrationUri": upstream.url, "IntegrationMethod": "GET",
         "RequestParameters": {"overwrite:header.host": "evil"}},
        {"IntegrationUri": upstream.url, "IntegrationMethod": "GET",
         "RequestParameters": {"rewrite:header.x": "y"}},
        {"IntegrationUri": upstream.url, "IntegrationMethod": "GET",
         "RequestParameters": {"overwrite:header.X-Forwarded-For": "1.2.3.4"}},
        {"IntegrationUri": upstream.url, "IntegrationMethod": "GET",
         "ResponseParameters": {"200": {"overwrite:header.x-amzn-requestid": "forged"}}},
        {"IntegrationUri": upstream.url, "IntegrationMethod": "GET",
         "ResponseParameters": {"200": {"append:querystring.q": "x"}}},
    ):  # fmt: skip
        with pytest.raises(ClientError) as e:
            apigw_client.create_integration(ApiId=api["id"], IntegrationType="HTTP_PROXY", **bad)
        assert e.value.response["Error"]["Code"] == "BadRequestException"


def test_forwards_method_path_query_headers_body(api: dict[str, Any], upstream: Upstream) -> None:
    r = httpx.post(
        api["endpoint"] + "/p/one/two%20three?x=1&x=2&y=",
        content=b"hello upstream",
        headers={"x-custom": "kept", "connection": "keep-alive, x-custom2", "x-custom2": "hop"},
    )
    assert r.status_code == 200
    assert r.headers["x-upstream"] == "echo"
    assert "apigw-requestid" in r.headers
    doc = r.json()
    assert doc["method"] == "POST"
    assert doc["path"] == "/base/one/two%20three?x=1&x=2&y="
    assert doc["body"] == "hello upstream"
    headers = _headers(doc)
    assert headers["x-custom"] == ["kept"]
    assert "x-custom2" not in headers  # named by Connection: hop-by-hop
    assert headers["host"] == [upstream.url.split("//")[1]]  # the upstream's, not the client's
    assert headers["x-forwarded-for"] == ["127.0.0.1"]
    assert headers["x-forwarded-proto"] == ["http"]


def test_greedy_path_appended_and_stage_variable_in_uri(api: dict[str, Any]) -> None:
    r = httpx.get(api["endpoint"] + "/a/deep/er/path?k=v")
    assert r.status_code == 200
    assert r.json()["path"] == "/root/deep/er/path?k=v"


def test_upstream_connections_are_kept_alive(api: dict[str, Any]) -> None:
    peers = {httpx.get(api["endpoint"] + "/p/again").json()["peer"] for _ in range(3)}
    assert len(peers) == 1  # one pooled connection served all three


def test_default_route_appends_the_whole_path(api: dict[str, Any]) -> None:
    r = httpx.delete(api["endpoint"] + "/some/where?z=1")
    assert r.status_code == 200
    assert (r.json()["method"], r.json()["path"]) == ("DELETE", "/all/some/where?z=1")


def test_request_and_response_mappings(api: dict[str, Any]) -> None:
    r = httpx.post(
        api["endpoint"] + "/m?src=fromsrc&q=old&many=one&gone=1&kept=yes",
        headers={"x-in": "incoming", "x-over": "old", "x-app": "first", "x-secret": "s3cret"},
        content=b'{"user": {"name": "bob", "id": 7}}',
    )
    assert r.status_code == 202  # overwrite:statuscode for the upstream's 200
    assert r.headers["x-upstream"] == "renamed-echo"
    assert r.headers["x-added"] == "static"
    assert "x-drop-me" not in r.headers
    doc = r.json()
    headers = _headers(doc)
    assert headers["x-over"] == ["incoming"]
    assert headers["x-app"] == ["first", "added-$default"]
    assert "x-secret" not in headers
    assert headers["x-req"] == [r.headers["apigw-requestid"]]
    assert headers["x-var"] == ["vanilla"]
    assert (headers["x-body"], headers["x-body-id"]) == (["bob"], ["7"])
    assert doc["body"] == '{"user": {"name": "bob", "id": 7}}'  # the body itself unchanged
    path, _, query = doc["path"].partition("?")
    assert path == "/mapped"
    pairs = [tuple(p.split("=", 1)) for p in query.split("&")]
    assert ("q", "fromsrc") in pairs and ("q", "old") not in pairs
    assert ("many", "one") in pairs and ("many", "two") in pairs
    assert not any(k == "gone" for k, _ in pairs)
    assert ("kept", "yes") in pairs


def test_overwrite_path(api: dict[str, Any]) -> None:
    r = httpx.get(api["endpoint"] + "/over")
    assert r.status_code == 201
    assert r.json()["path"] == "/created//over"


def test_upstream_failures(api: dict[str, Any]) -> None:
    slow = httpx.get(api["endpoint"] + "/slow")
    assert (slow.status_code, slow.content) == (503, b'{"message":"Service Unavailable"}')
    big = httpx.get(api["endpoint"] + "/big")  # over the payload quota: never relayed
    assert (big.status_code, big.json()) == (500, {"message": "Internal Server Error"})
    dead = httpx.get(api["endpoint"] + "/dead")
    assert (dead.status_code, dead.json()) == (500, {"message": "Internal Server Error"})
    meta = httpx.get(api["endpoint"] + "/meta")  # link-local: refused before any connection
    assert (meta.status_code, meta.json()) == (500, {"message": "Internal Server Error"})
    redirect = httpx.get(api["endpoint"] + "/redirect")  # answered, never followed
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "http://127.0.0.1:1/elsewhere"


def test_node_fetch_through_the_proxy(api: dict[str, Any]) -> None:
    script = (
        "fetch(process.argv[1], {method: 'PUT', body: 'from node', headers: {'x-n': '1'}})"
        ".then(async r => console.log(JSON.stringify({status: r.status, doc: await r.json()})))"
    )
    out = subprocess.run(
        ["node", "-e", script, api["endpoint"] + "/p/node"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    got = json.loads(out.stdout)
    assert got["status"] == 200
    assert got["doc"]["method"] == "PUT"
    assert got["doc"]["path"] == "/base/node"
    assert got["doc"]["body"] == "from node"
    assert ["x-n", "1"] in got["doc"]["headers"]


def test_jwt_authorizer_claims_mapped_to_the_upstream(
    apigw_client: Any, upstream: Upstream
) -> None:
    from test_authorizers_jwt import Issuer

    issuer = Issuer()
    try:
        issuer.add_key("k1")
        apigw = apigw_client
        api_id = apigw.create_api(Name=unique_name("proxyjwt"), ProtocolType="HTTP")["ApiId"]
        authorizer = apigw.create_authorizer(
            ApiId=api_id,
            Name="oidc",
            AuthorizerType="JWT",
            IdentitySource=["$request.header.Authorization"],
            JwtConfiguration={"Issuer": issuer.url, "Audience": ["my-app"]},
        )["AuthorizerId"]
        integration = _proxy(
            apigw,
            api_id,
            upstream.url + "/who",
            RequestParameters={
                "overwrite:header.x-user": "$context.authorizer.claims.sub",
                "overwrite:header.x-team": "${context.authorizer.claims.team}",
            },
        )
        apigw.create_route(
            ApiId=api_id,
            RouteKey="GET /who",
            Target=f"integrations/{integration}",
            AuthorizationType="JWT",
            AuthorizerId=authorizer,
        )
        apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        url = apigw.get_api(ApiId=api_id)["ApiEndpoint"] + "/who"
        refused = httpx.get(url)
        assert (refused.status_code, refused.json()) == (401, {"message": "Unauthorized"})
        token = issuer.token(team="blue")
        r = httpx.get(url, headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200
        headers = _headers(r.json())
        assert headers["x-user"] == ["alice"]
        assert headers["x-team"] == ["blue"]
        assert headers["authorization"] == [f"Bearer {token}"]  # passed on, as on AWS
    finally:
        issuer.close()
