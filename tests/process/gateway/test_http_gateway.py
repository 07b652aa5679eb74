"""HTTP triggers against a real server: real functions behind HTTP APIs and function URLs,
called over real HTTP (http.client, as curl does, and curl itself)."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import create_function, unique_name

ECHO = """
import base64, json

def handler(event, context):
    if event.get("rawPath", "").endswith("/binary"):
        body = base64.b64decode(event["body"]) if event.get("isBase64Encoded") else b""
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(body[::-1]).decode(), "isBase64Encoded": True}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "cookies": ["seen=1; Path=/"], "body": json.dumps(event)}
"""

PLAIN = """
def handler(event, context):
    path = event.get("rawPath") or event.get("path")
    if path.endswith("/fail"):
        raise ValueError("boom")
    if path.endswith("/slow"):
        import time
        time.sleep(5)
    if path.endswith("/number"):
        return 42
    if path.endswith("/dict"):
        return {"bird_class": "106.Horned_Puffin"}
    return "plain text"
"""


def call(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def echo(lambda_client: Any) -> str:
    name = create_function(lambda_client, unique_name("echo"), ECHO)
    arn: str = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return arn


@pytest.fixture(scope="module")
def plain(lambda_client: Any) -> str:
    name = create_function(lambda_client, unique_name("plain"), PLAIN, Timeout=1)
    arn: str = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return arn


def test_quick_create_event_is_payload_2_0(apigw_client: Any, echo: str) -> None:
    api = apigw_client.create_api(Name=unique_name("quick"), ProtocolType="HTTP", Target=echo)
    status, headers, body = call(
        api["ApiEndpoint"] + "/some/path?a=1&a=2&b=x%20y",
        "POST",
        b"Hello from EFS!",
        {
            "Content-Type": "text/plain",
            "User-Agent": "curl/7.88.1",
            "Cookie": "k=v; j=w",
            "X-Custom": "One",
        },
    )
    assert status == 200
    assert headers.get_all("set-cookie") == ["seen=1; Path=/"]
    assert len(headers["apigw-requestid"]) == 16
    event = json.loads(body)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/path"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["cookies"] == ["k=v", "j=w"]
    assert event["headers"]["x-custom"] == "One"
    assert event["headers"]["content-type"] == "text/plain"
    assert event["body"] == "Hello from EFS!"
    assert event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["apiId"] == api["ApiId"]
    assert ctx["accountId"] == "123456789012"
    assert ctx["stage"] == "$default"
    assert ctx["requestId"] == headers["apigw-requestid"]
    assert ctx["http"] == {
        "method": "POST",
        "path": "/some/path",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "curl/7.88.1",
    }
    assert isinstance(ctx["timeEpoch"], int)


def test_routes_stages_and_payload_1_0(apigw_client: Any, echo: str) -> None:
    api_id = apigw_client.create_api(Name=unique_name("routes"), ProtocolType="HTTP")["ApiId"]
    v2 = apigw_client.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo, PayloadFormatVersion="2.0"
    )["IntegrationId"]
    v1 = apigw_client.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo, PayloadFormatVersion="1.0"
    )["IntegrationId"]
    for key, integration in (
        ("GET /items/{id}", v2),
        ("POST /files/{proxy+}", v2),
        ("$default", v1),
    ):
        apigw_client.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
    apigw_client.create_stage(
        ApiId=api_id, StageName="prod", AutoDeploy=True, StageVariables={"tier": "gold"}
    )
    endpoint = apigw_client.get_api(ApiId=api_id)["ApiEndpoint"]

    status, _, body = call(f"{endpoint}/prod/items/42")
    event = json.loads(body)
    assert (status, event["routeKey"], event["pathParameters"]) == (
        200,
        "GET /items/{id}",
        {"id": "42"},
    )
    assert event["rawPath"] == "/prod/items/42"
    assert event["stageVariables"] == {"tier": "gold"}
    assert event["requestContext"]["stage"] == "prod"

    status, _, body = call(
        f"{endpoint}/prod/files/a/b/c.txt", "POST", b"{}", {"Content-Type": "application/json"}
    )
    assert json.loads(body)["pathParameters"] == {"proxy": "a/b/c.txt"}

    status, _, body = call(f"{endpoint}/prod/elsewhere?x=1&x=2", "DELETE")
    event = json.loads(body)
    assert event["version"] == "1.0"
    assert event["httpMethod"] == "DELETE"
    assert event["path"] == "/prod/elsewhere"
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["requestContext"]["stage"] == "prod"

    status, _, body = call(f"{endpoint}/staging/items/42")  # no such stage, no $default stage
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_binary_bodies_round_trip(apigw_client: Any, echo: str) -> None:
    api = apigw_client.create_api(Name=unique_name("bin"), ProtocolType="HTTP", Target=echo)
    data = bytes(range(256)) * 4
    status, headers, body = call(
        api["ApiEndpoint"] + "/binary", "POST", data, {"Content-Type": "application/octet-stream"}
    )
    assert status == 200
    assert headers["content-type"] == "application/octet-stream"
    assert body == data[::-1]


def test_return_values_and_failures(apigw_client: Any, plain: str) -> None:
    api = apigw_client.create_api(Name=unique_name("plain"), ProtocolType="HTTP", Target=plain)
    endpoint = api["ApiEndpoint"]
    status, headers, body = call(endpoint + "/text")
    assert (status, body, headers["content-type"]) == (200, b"plain text", "application/json")
    assert call(endpoint + "/number")[2] == b"42"
    assert json.loads(call(endpoint + "/dict")[2]) == {"bird_class": "106.Horned_Puffin"}
    status, _, body = call(endpoint + "/fail")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    status, _, body = call(endpoint + "/slow")  # the function's 1 s timeout
    assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"})
    # The environment that timed out is replaced; the API still answers.
    assert call(endpoint + "/text")[:1] == (200,)


def test_request_over_10_mb_is_413(apigw_client: Any, plain: str) -> None:
    api = apigw_client.create_api(Name=unique_name("big"), ProtocolType="HTTP", Target=plain)
    status, _, body = call(
        api["ApiEndpoint"] + "/x",
        "POST",
        b"x" * (10 * 1024 * 1024 + 1),
        {"Content-Type": "text/plain"},
    )
    assert (status, json.loads(body)) == (413, {"message": "Request Entity Too Large"})


def test_function_url_with_curl(lambda_client: Any, echo: str) -> None:
    config = lambda_client.create_function_url_config(FunctionName=echo, AuthType="NONE")
    url = config["FunctionUrl"]
    assert "/lambda-url/" in url and url.endswith("/")
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-i",
            "-X",
            "POST",
            "-H",
            "Content-Type: text/plain",
            "-d",
            "Hello again :)",
            url + "my/path?q=1",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"x-amzn-requestid:" in head.lower()
    event = json.loads(body)
    assert event["rawPath"] == "/my/path"
    assert event["body"] == "Hello again :)"
    assert event["requestContext"]["http"]["userAgent"].startswith("curl/")
    # Path-style: the domain fields are the Host as given (test_forwarding has host-style).
    assert event["requestContext"]["domainName"] == urlsplit(url).netloc
    assert event["requestContext"]["domainPrefix"] == "127"
    lambda_client.delete_function_url_config(FunctionName=echo)
    assert call(url)[0] == 403


def test_curl_form_post_arrives_base64(apigw_client: Any, echo: str) -> None:
    """``curl -d`` without a Content-Type sends a form, which API Gateway base64-encodes."""
    api = apigw_client.create_api(Name=unique_name("form"), ProtocolType="HTTP", Target=echo)
    out = subprocess.run(
        ["curl", "-s", "-d", "a=1", api["ApiEndpoint"] + "/form"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    event = json.loads(out)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"a=1"


def test_deleting_a_function_removes_its_url_and_breaks_its_routes(
    lambda_client: Any, apigw_client: Any
) -> None:
    name = create_function(lambda_client, unique_name("gone"), PLAIN)
    url = lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")
    api = apigw_client.create_api(
        Name=unique_name("gone"),
        ProtocolType="HTTP",
        Target=lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"],
    )
    assert call(url["FunctionUrl"])[2] == b"plain text"
    assert call(api["ApiEndpoint"] + "/")[2] == b"plain text"
    lambda_client.delete_function(FunctionName=name)
    assert call(url["FunctionUrl"])[0] == 403
    status, _, body = call(api["ApiEndpoint"] + "/")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_head_request_has_headers_and_no_body(apigw_client: Any, plain: str) -> None:
    api = apigw_client.create_api(Name=unique_name("head"), ProtocolType="HTTP", Target=plain)
    status, headers, body = call(api["ApiEndpoint"] + "/text", "HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(len(b"plain text"))
    assert "apigw-requestid" in headers


def test_host_named_api_and_function_url(apigw_client: Any, lambda_client: Any, plain: str,
                                         server: Any) -> None:
    """``{apiId}.execute-api.localhost`` and ``{urlId}.lambda-url.localhost`` route by host."""
    api = apigw_client.create_api(Name=unique_name("host"), ProtocolType="HTTP", Target=plain)
    port = urlsplit(server.endpoint).port
    status, _, body = call(f"http://127.0.0.1:{port}/number",
                           headers={"Host": f"{api['ApiId']}.execute-api.localhost:{port}"})
    assert (status, body) == (200, b"42")
    url = lambda_client.create_function_url_config(FunctionName=plain, AuthType="NONE")
    url_id = urlsplit(url["FunctionUrl"]).path.strip("/").split("/")[-1]
    status, _, body = call(f"http://127.0.0.1:{port}/dict",
                           headers={"Host": f"{url_id}.lambda-url.localhost:{port}"})
    assert status == 200 and json.loads(body) == {"bird_class": "106.Horned_Puffin"}
    status, _, _ = call(f"http://127.0.0.1:{port}/x",
                        headers={"Host": f"nosuchapi.execute-api.localhost:{port}"})
    assert status == 404


def test_throttled_function_answers_429(apigw_client: Any, lambda_client: Any) -> None:
    """Reserved concurrency 0 (the seed's way to stop a function): the gateway answers 429."""
    name = create_function(lambda_client, unique_name("throttled"), PLAIN)
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api = apigw_client.create_api(Name=unique_name("throttle"), ProtocolType="HTTP", Target=arn)
    assert call(api["ApiEndpoint"] + "/number")[0] == 200
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    status, _, body = call(api["ApiEndpoint"] + "/number")
    assert (status, json.loads(body)) == (429, {"message": "Too Many Requests"})
    lambda_client.delete_function_concurrency(FunctionName=name)
    assert call(api["ApiEndpoint"] + "/number")[0] == 200


def test_stage_variable_picks_the_alias_in_the_integration_uri(
    apigw_client: Any, lambda_client: Any
) -> None:
    """One integration, ``FUNCTION_ARN:${stageVariables.alias}``: each stage invokes the alias
    its variable names (two versions behind two aliases), as API Gateway does."""
    code = (
        "def handler(event, context):\n"
        "    return {'v': context.function_version, 'tier': event['stageVariables']['alias']}\n"
    )
    name = create_function(lambda_client, unique_name("aliased"), code)
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    v1 = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"RELEASE": "2"}}
    )
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
    v2 = lambda_client.publish_version(FunctionName=name)["Version"]
    assert v1 != v2
    lambda_client.create_alias(FunctionName=name, Name="blue", FunctionVersion=v1)
    lambda_client.create_alias(FunctionName=name, Name="green", FunctionVersion=v2)
    api_id = apigw_client.create_api(Name=unique_name("aliases"), ProtocolType="HTTP")["ApiId"]
    integration = apigw_client.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=arn + ":${stageVariables.alias}",
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    target = f"integrations/{integration}"
    apigw_client.create_route(ApiId=api_id, RouteKey="GET /who", Target=target)
    endpoint = apigw_client.get_api(ApiId=api_id)["ApiEndpoint"]
    for stage, alias, version in (("dev", "blue", v1), ("prod", "green", v2)):
        apigw_client.create_stage(
            ApiId=api_id, StageName=stage, AutoDeploy=True, StageVariables={"alias": alias}
        )
        status, _, body = call(f"{endpoint}/{stage}/who")
        assert status == 200, body
        assert json.loads(body) == {"v": version, "tier": alias}
    # A variable naming no alias: the invoke fails, answered as API Gateway answers it.
    apigw_client.update_stage(ApiId=api_id, StageName="dev", StageVariables={"alias": "nope"})
    status, _, body = call(f"{endpoint}/dev/who")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
