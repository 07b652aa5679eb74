"""The gateway's ASGI data plane with a scripted invoker: stages, routing, events, errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from gateway_fakes import FakeInvoker, FakeShoal, Reply, Result, asgi_request, returns

from shoal.errors import AwsError

FN = "arn:aws:lambda:us-east-1:123456789012:function:wall"


@pytest.fixture
def shoal(tmp_path: Path) -> FakeShoal:
    s = FakeShoal(tmp_path)
    asyncio.run(s.start())
    return s


def request(shoal: FakeShoal, method: str, path: str, **kw: Any) -> Reply:
    return asyncio.run(asgi_request(shoal.http, method, path, **kw))


def wall_api(shoal: FakeShoal, payload_version: str = "2.0") -> str:
    apis = shoal.gateway.apis
    api = apis.create("wall", "HTTP")
    integration = apis.create_integration(api.api_id, "AWS_PROXY", FN, payload_version, None, {})
    apis.create_route(
        api.api_id, "ANY /MessageWall", f"integrations/{integration.integration_id}", {}
    )
    apis.create_stage(
        api.api_id,
        "default",
        auto_deploy=True,
        stage_variables={"color": "blue"},
        deployment_id=None,
        extra={},
    )
    return api.api_id


def test_named_stage_serves_the_route_with_the_article_event(shoal: FakeShoal) -> None:
    api_id = wall_api(shoal)
    shoal.invoker.behaviour = returns("No message yet.")
    reply = request(
        shoal,
        "POST",
        f"/execute-api/{api_id}/default/MessageWall",
        headers=[("content-type", "text/plain"), ("user-agent", "curl/7.88.1")],
        body=b"Hello from EFS!",
    )
    assert reply.status == 200
    assert reply.body == b"No message yet."
    assert reply.header("content-type") == "application/json"
    assert reply.header("content-length") == "15"
    request_id = reply.header("apigw-requestid")
    assert request_id is not None and len(request_id) == 16
    name, qualifier, event = shoal.invoker.calls[-1]
    assert (name, qualifier) == (FN, None)
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["requestId"] == request_id
    assert event["requestContext"]["stage"] == "default"
    assert event["requestContext"]["apiId"] == api_id
    assert event["routeKey"] == "ANY /MessageWall"
    assert event["rawPath"] == "/default/MessageWall"
    assert event["body"] == "Hello from EFS!"
    assert event["stageVariables"] == {"color": "blue"}


def test_unknown_api_stage_or_route_is_404(shoal: FakeShoal) -> None:
    api_id = wall_api(shoal)
    for path in (
        "/execute-api/nosuchapi0/default/MessageWall",
        f"/execute-api/{api_id}/prod/MessageWall",  # no such stage, no $default stage
        f"/execute-api/{api_id}/default/Other",
        f"/execute-api/{api_id}/default",
    ):
        reply = request(shoal, "GET", path)
        assert reply.status == 404, path
        assert json.loads(reply.body) == {"message": "Not Found"}
        assert reply.header("apigw-requestid")
    assert shoal.invoker.calls == []


def test_quick_create_default_stage_at_the_root(shoal: FakeShoal) -> None:
    api = shoal.gateway.apis.create("quick", "HTTP", target=FN + ":live")
    shoal.invoker.behaviour = returns({"ok": True})
    reply = request(shoal, "GET", f"/execute-api/{api.api_id}/any/path", query="a=1&a=2")
    assert reply.status == 200
    assert json.loads(reply.body) == {"ok": True}
    name, qualifier, event = shoal.invoker.calls[-1]
    assert (name, qualifier) == (FN, "live")
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/any/path"
    assert event["requestContext"]["stage"] == "$default"
    assert event["queryStringParameters"] == {"a": "1,2"}
    root = request(shoal, "GET", f"/execute-api/{api.api_id}")
    assert root.status == 200
    assert shoal.invoker.last_event["rawPath"] == "/"


def test_named_stage_wins_over_default_stage_for_its_prefix(shoal: FakeShoal) -> None:
    apis = shoal.gateway.apis
    api = apis.create("both", "HTTP", target=FN)
    apis.create_stage(
        api.api_id, "beta", auto_deploy=True, stage_variables={}, deployment_id=None, extra={}
    )
    request(shoal, "GET", f"/execute-api/{api.api_id}/beta/x")
    event = shoal.invoker.last_event
    assert (event["requestContext"]["stage"], event["rawPath"]) == ("beta", "/beta/x")
    request(shoal, "GET", f"/execute-api/{api.api_id}/gamma/x")
    event = shoal.invoker.last_event
    assert (event["requestContext"]["stage"], event["rawPath"]) == ("$default", "/gamma/x")


def test_path_parameters_and_greedy_proxy(shoal: FakeShoal) -> None:
    apis = shoal.gateway.apis
    api = apis.create("params", "HTTP")
    integration = apis.create_integration(api.api_id, "AWS_PROXY", "wall", "2.0", None, {})
    target = f"integrations/{integration.integration_id}"
    apis.create_route(api.api_id, "GET /items/{id}", target, {})
    apis.create_route(api.api_id, "POST /files/{proxy+}", target, {})
    apis.create_stage(
        api.api_id, "$default", auto_deploy=True, stage_variables={}, deployment_id=None, extra={}
    )
    request(shoal, "GET", f"/execute-api/{api.api_id}/items/42")
    assert shoal.invoker.last_event["pathParameters"] == {"id": "42"}
    assert shoal.invoker.last_event["routeKey"] == "GET /items/{id}"
    request(shoal, "POST", f"/execute-api/{api.api_id}/files/a/b c.txt", body=b"\x00")
    event = shoal.invoker.last_event
    assert event["pathParameters"] == {"proxy": "a/b c.txt"}
    assert event["isBase64Encoded"] is True
    assert request(shoal, "POST", f"/execute-api/{api.api_id}/items/42").status == 404


def test_payload_1_0_integration(shoal: FakeShoal) -> None:
    api_id = wall_api(shoal, payload_version="1.0")
    shoal.invoker.behaviour = returns(
        {"statusCode": 202, "multiValueHeaders": {"x-a": ["1", "2"]}, "body": "queued"}
    )
    reply = request(shoal, "PUT", f"/execute-api/{api_id}/default/MessageWall", query="k=v")
    assert reply.status == 202
    assert reply.body == b"queued"
    assert reply.all("x-a") == ["1", "2"]
    event = shoal.invoker.last_event
    assert event["version"] == "1.0"
    assert event["httpMethod"] == "PUT"
    assert event["resource"] == "/MessageWall"
    assert event["multiValueQueryStringParameters"] == {"k": ["v"]}
    shoal.invoker.behaviour = returns("not a proxy response")
    assert request(shoal, "GET", f"/execute-api/{api_id}/default/MessageWall").status == 500


def raises(error: AwsError) -> Any:
    def behaviour(*_: Any) -> Result:
        raise error

    return behaviour


@pytest.mark.parametrize(
    ("behaviour", "status", "message"),
    [
        (
            lambda *_: Result(payload=b'{"errorMessage":"boom"}', function_error="Unhandled"),
            500,
            "Internal Server Error",
        ),
        (
            lambda *_: Result(function_error="Unhandled", error_type="Sandbox.Timedout"),
            503,
            "Service Unavailable",
        ),
        (
            raises(AwsError("TooManyRequestsException", "Rate Exceeded.", Reason="X")),
            429,
            "Too Many Requests",
        ),
        (
            raises(AwsError("ResourceNotFoundException", "Function not found")),
            500,
            "Internal Server Error",
        ),
    ],
)
def test_failures_are_api_gateway_answers(
    shoal: FakeShoal, behaviour: Any, status: int, message: str
) -> None:
    api_id = wall_api(shoal)
    shoal.invoker.behaviour = behaviour
    reply = request(shoal, "GET", f"/execute-api/{api_id}/default/MessageWall")
    assert reply.status == status
    assert json.loads(reply.body) == {"message": message}


def test_body_over_10_mb_is_413_without_invoking(shoal: FakeShoal) -> None:
    api_id = wall_api(shoal)
    chunk = b"x" * (1024 * 1024)
    reply = request(
        shoal, "POST", f"/execute-api/{api_id}/default/MessageWall", chunks=[chunk] * 11
    )
    assert reply.status == 413
    assert json.loads(reply.body) == {"message": "Request Entity Too Large"}
    assert shoal.invoker.calls == []
    ok = request(shoal, "POST", f"/execute-api/{api_id}/default/MessageWall", chunks=[chunk] * 10)
    assert ok.status == 200


def test_integration_timeout_is_503_and_the_invocation_runs_on(shoal: FakeShoal) -> None:
    shoal.functions.names.add("wall")  # timeout 3 s, longer than the integration's 50 ms
    apis = shoal.gateway.apis
    api = apis.create("slow", "HTTP")
    integration = apis.create_integration(api.api_id, "AWS_PROXY", "wall", "2.0", 50, {})
    apis.create_route(api.api_id, "$default", f"integrations/{integration.integration_id}", {})
    apis.create_stage(
        api.api_id, "$default", auto_deploy=True, stage_variables={}, deployment_id=None, extra={}
    )
    finished: list[str] = []
    release = asyncio.Event()
    done = asyncio.Event()

    class Slow(FakeInvoker):
        async def invoke(self, name: str, qualifier: str | None, payload: bytes, **_: Any) -> Any:
            await release.wait()  # the function runs until the test lets it finish
            finished.append(name)
            done.set()
            return Result()

    async def scenario() -> int:
        reply = await asgi_request(shoal.http, "GET", f"/execute-api/{api.api_id}/")
        assert finished == []  # answered 503 while the function still runs
        release.set()
        await asyncio.wait_for(done.wait(), 5)
        return reply.status

    shoal.invoker = Slow()
    assert asyncio.run(scenario()) == 503
    assert finished == [FN]


def test_stage_variable_in_integration_uri(shoal: FakeShoal) -> None:
    apis = shoal.gateway.apis
    api = apis.create("vars", "HTTP")
    uri = FN + ":${stageVariables.alias}"
    integration = apis.create_integration(api.api_id, "AWS_PROXY", uri, "2.0", None, {})
    apis.create_route(api.api_id, "$default", f"integrations/{integration.integration_id}", {})
    for stage, alias in (("dev", "blue"), ("prod", "green")):
        apis.create_stage(
            api.api_id,
            stage,
            auto_deploy=True,
            stage_variables={"alias": alias},
            deployment_id=None,
            extra={},
        )
        request(shoal, "GET", f"/execute-api/{api.api_id}/{stage}/x")
        assert shoal.invoker.calls[-1][:2] == (FN, alias)


def test_cors_preflight_and_headers(shoal: FakeShoal) -> None:
    api = shoal.gateway.apis.create(
        "cors",
        "HTTP",
        target=FN,
        cors={
            "AllowOrigins": ["https://example.com"],
            "AllowMethods": ["GET", "POST"],
            "ExposeHeaders": ["x-id"],
            "MaxAge": 60,
        },
    )
    pre = request(
        shoal,
        "OPTIONS",
        f"/execute-api/{api.api_id}/x",
        headers=[("origin", "https://example.com"), ("access-control-request-method", "POST")],
    )
    assert pre.status == 204
    assert pre.header("access-control-allow-origin") == "https://example.com"
    assert pre.header("access-control-allow-methods") == "GET,POST"
    assert pre.header("access-control-max-age") == "60"
    assert shoal.invoker.calls == []
    shoal.invoker.behaviour = returns(
        {"statusCode": 200, "headers": {"access-control-allow-origin": "*"}, "body": "x"}
    )
    reply = request(
        shoal, "GET", f"/execute-api/{api.api_id}/x", headers=[("origin", "https://evil.test")]
    )
    assert reply.header("access-control-allow-origin") is None
    reply = request(
        shoal, "GET", f"/execute-api/{api.api_id}/x", headers=[("origin", "https://example.com")]
    )
    assert reply.header("access-control-allow-origin") == "https://example.com"
    assert reply.header("access-control-expose-headers") == "x-id"


def test_function_url_event_and_response(shoal: FakeShoal) -> None:
    shoal.functions.names.add("wall")
    url = shoal.gateway.urls.create("wall", FN, None, "NONE", None, None)
    shoal.invoker.behaviour = returns({"statusCode": 200, "cookies": ["s=1"], "body": "hi"})
    reply = request(
        shoal,
        "POST",
        f"/lambda-url/{url.url_id}/my/path",
        query="x=1",
        headers=[("content-type", "application/json"), ("cookie", "a=b")],
        body=b'{"k": 1}',
    )
    assert reply.status == 200
    assert reply.body == b"hi"
    assert reply.all("set-cookie") == ["s=1"]
    request_id = reply.header("x-amzn-requestid")
    name, qualifier, event = shoal.invoker.calls[-1]
    assert (name, qualifier) == (FN, None)
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/my/path"
    assert event["cookies"] == ["a=b"]
    assert event["headers"]["cookie"] == "a=b"
    assert event["body"] == '{"k": 1}'
    ctx = event["requestContext"]
    assert ctx["apiId"] == url.url_id
    assert ctx["domainPrefix"] == url.url_id
    assert ctx["domainName"] == f"{url.url_id}.lambda-url.localhost"
    assert ctx["stage"] == "$default"
    assert ctx["requestId"] == request_id
    assert request(shoal, "GET", "/lambda-url/nosuchurl/").status == 403


def test_state_survives_a_restart(tmp_path: Path) -> None:
    first = FakeShoal(tmp_path)
    asyncio.run(first.start())
    api_id = wall_api(first)
    first.functions.names.add("wall")
    url = first.gateway.urls.create("wall", FN, None, "NONE", None, None)
    first.store.close()
    second = FakeShoal(tmp_path)
    asyncio.run(second.start())
    assert request(second, "GET", f"/execute-api/{api_id}/default/MessageWall").status == 200
    assert request(second, "GET", f"/lambda-url/{url.url_id}/").status == 200
    assert [c[0] for c in second.invoker.calls] == [FN, FN]


def test_deleted_function_loses_its_url(shoal: FakeShoal) -> None:
    shoal.functions.names.add("wall")
    url = shoal.gateway.urls.create("wall", FN, None, "NONE", None, None)
    shoal.functions.remove("wall")
    assert request(shoal, "GET", f"/lambda-url/{url.url_id}/").status == 403
    assert shoal.store.load("function_url") == {}


def test_host_routed_scopes() -> None:
    from shoal.gateway.host_routing import host_routed

    def scope(host: str, path: str = "/default/MessageWall") -> dict[str, Any]:
        return {"path": path, "headers": [(b"host", host.encode())]}

    routed = host_routed(scope("abc123defg.execute-api.localhost:9000"))
    assert routed is not None
    assert routed["path"] == "/execute-api/abc123defg/default/MessageWall"
    url = host_routed(scope("u1d.lambda-url.localhost", "/x"))
    assert url is not None and url["path"] == "/lambda-url/u1d/x"
    assert host_routed(scope("127.0.0.1:9000")) is None
    assert host_routed(scope("execute-api.localhost")) is None
    assert host_routed(scope("a.b.execute-api.localhost")) is None
    assert host_routed({"path": "/", "headers": []}) is None
