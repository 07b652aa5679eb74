"""The apigatewayv2 and function URL APIs through boto3, against the gateway served in-process
(uvicorn in a thread, a scripted invoker in place of real functions)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from gateway_fakes import FakeShoal, InProcessServer, returns

FN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:wall"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    shoal = FakeShoal(tmp_path_factory.mktemp("gw"))
    shoal.functions.names.update({"wall", "other"})
    shoal.functions.aliases.add(("wall", "live"))
    with InProcessServer(shoal) as srv:
        yield srv


def client(server: InProcessServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="shoal",
        aws_secret_access_key="shoal",
        config=Config(retries={"max_attempts": 0}),
    )


@pytest.fixture
def apigw(server: InProcessServer) -> Any:
    return client(server, "apigatewayv2")


@pytest.fixture
def lam(server: InProcessServer) -> Any:
    return client(server, "lambda")


def http(
    method: str, url: str, body: bytes | None = None, content_type: str = "text/plain"
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, dict(e.headers), e.read()


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_quick_create_makes_route_integration_and_default_stage(
    apigw: Any, server: InProcessServer
) -> None:
    api = apigw.create_api(Name="quick", ProtocolType="HTTP", Target=FN_ARN)
    api_id = api["ApiId"]
    assert len(api_id) == 10 and api_id.isalnum() and api_id.islower()
    assert api["ApiEndpoint"] == f"{server.endpoint}/execute-api/{api_id}"
    assert api["RouteSelectionExpression"] == "${request.method} ${request.path}"
    routes = apigw.get_routes(ApiId=api_id)["Items"]
    integrations = apigw.get_integrations(ApiId=api_id)["Items"]
    stages = apigw.get_stages(ApiId=api_id)["Items"]
    assert [r["RouteKey"] for r in routes] == ["$default"]
    assert routes[0]["Target"] == f"integrations/{integrations[0]['IntegrationId']}"
    assert routes[0]["ApiGatewayManaged"] is True
    assert integrations[0]["IntegrationType"] == "AWS_PROXY"
    assert integrations[0]["IntegrationUri"] == FN_ARN
    assert integrations[0]["PayloadFormatVersion"] == "2.0"
    assert [(s["StageName"], s["AutoDeploy"]) for s in stages] == [("$default", True)]
    status, headers, body = http("GET", api["ApiEndpoint"] + "/hello")
    assert (status, body) == (200, b"ok")
    assert "apigw-requestid" in headers


def test_the_message_wall_shape_through_boto3(apigw: Any, server: InProcessServer) -> None:
    api = apigw.create_api(Name="MessageWall", ProtocolType="HTTP", Description="wall")
    api_id = api["ApiId"]
    integration = apigw.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN_ARN}"
        "/invocations",
        PayloadFormatVersion="2.0",
    )
    assert integration["TimeoutInMillis"] == 30000
    route = apigw.create_route(
        ApiId=api_id,
        RouteKey="ANY /MessageWall",
        Target=f"integrations/{integration['IntegrationId']}",
    )
    stage = apigw.create_stage(ApiId=api_id, StageName="default", AutoDeploy=True)
    assert stage["StageName"] == "default"
    assert apigw.get_route(ApiId=api_id, RouteId=route["RouteId"])["RouteKey"] == (
        "ANY /MessageWall"
    )
    got = apigw.get_api(ApiId=api_id)
    assert (got["Name"], got["Description"]) == ("MessageWall", "wall")
    server.shoal.invoker.behaviour = lambda n, q, e: returns(e["body"])(n, q, e)
    status, _, body = http("POST", f"{got['ApiEndpoint']}/default/MessageWall", b"Hi")
    assert (status, body) == (200, b"Hi")
    # A form post (curl -d without a content type) arrives base64-encoded, as on AWS.
    status, _, body = http("POST", f"{got['ApiEndpoint']}/default/MessageWall", b"Hi", "")
    assert (status, body) == (200, b"SGk=")
    assert server.shoal.invoker.calls[-1][:2] == (FN_ARN, None)
    status, _, body = http("GET", f"{got['ApiEndpoint']}/default/Nope")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_crud_updates_and_deletes(apigw: Any, server: InProcessServer) -> None:
    api_id = apigw.create_api(Name="crud", ProtocolType="HTTP")["ApiId"]
    integration_id = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri="wall", PayloadFormatVersion="1.0"
    )["IntegrationId"]
    route_id = apigw.create_route(
        ApiId=api_id, RouteKey="GET /items/{id}", Target=f"integrations/{integration_id}"
    )["RouteId"]
    updated = apigw.update_route(ApiId=api_id, RouteId=route_id, RouteKey="GET /things/{id}")
    assert updated["RouteKey"] == "GET /things/{id}"
    assert updated["Target"] == f"integrations/{integration_id}"
    assert (
        apigw.update_integration(
            ApiId=api_id, IntegrationId=integration_id, PayloadFormatVersion="2.0"
        )["PayloadFormatVersion"]
        == "2.0"
    )
    apigw.create_stage(ApiId=api_id, StageName="dev", StageVariables={"a": "1"})
    stage = apigw.update_stage(ApiId=api_id, StageName="dev", StageVariables={"a": "2"})
    assert stage["StageVariables"] == {"a": "2"}
    deployment = apigw.create_deployment(ApiId=api_id, StageName="dev")
    assert (
        apigw.get_stage(ApiId=api_id, StageName="dev")["DeploymentId"]
        == (deployment["DeploymentId"])
    )
    assert apigw.update_api(ApiId=api_id, Name="renamed")["Name"] == "renamed"

    with pytest.raises(ClientError) as excinfo:
        apigw.delete_integration(ApiId=api_id, IntegrationId=integration_id)
    assert error_code(excinfo) == ("ConflictException", 409)
    apigw.delete_route(ApiId=api_id, RouteId=route_id)
    apigw.delete_integration(ApiId=api_id, IntegrationId=integration_id)
    apigw.delete_stage(ApiId=api_id, StageName="dev")
    assert apigw.get_routes(ApiId=api_id)["Items"] == []
    assert apigw.get_stages(ApiId=api_id)["Items"] == []
    apigw.delete_api(ApiId=api_id)
    with pytest.raises(ClientError) as excinfo:
        apigw.get_api(ApiId=api_id)
    assert error_code(excinfo) == ("NotFoundException", 404)
    assert api_id not in [a["ApiId"] for a in apigw.get_apis()["Items"]]


def test_errors_are_api_gateway_errors(apigw: Any) -> None:
    api_id = apigw.create_api(Name="errs", ProtocolType="HTTP")["ApiId"]
    cases = [
        (lambda: apigw.create_route(ApiId=api_id, RouteKey="FETCH /x"), "BadRequestException"),
        (
            lambda: apigw.create_route(ApiId=api_id, RouteKey="GET /x", Target="integrations/nope"),
            "BadRequestException",
        ),
        (
            lambda: apigw.create_integration(
                ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=FN_ARN
            ),
            "BadRequestException",
        ),
        (
            lambda: apigw.create_integration(
                ApiId=api_id,
                IntegrationType="AWS_PROXY",
                IntegrationUri="arn:aws:s3:::bucket",
                PayloadFormatVersion="2.0",
            ),
            "BadRequestException",
        ),
        (lambda: apigw.create_api(Name="ws", ProtocolType="WEBSOCKET"), "BadRequestException"),
        (lambda: apigw.get_route(ApiId=api_id, RouteId="nope"), "NotFoundException"),
        (lambda: apigw.get_stage(ApiId=api_id, StageName="nope"), "NotFoundException"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert excinfo.value.response["Error"]["Code"] == code
    apigw.create_route(ApiId=api_id, RouteKey="GET /x")
    with pytest.raises(ClientError) as excinfo:
        apigw.create_route(ApiId=api_id, RouteKey="GET /x")
    assert error_code(excinfo) == ("ConflictException", 409)


def test_get_apis_pages(apigw: Any) -> None:
    for i in range(3):
        apigw.create_api(Name=f"page{i}", ProtocolType="HTTP")
    first = apigw.get_apis(MaxResults="2")
    assert len(first["Items"]) == 2 and "NextToken" in first
    rest = apigw.get_apis(NextToken=first["NextToken"])
    ids = [a["ApiId"] for a in first["Items"] + rest["Items"]]
    assert len(ids) == len(set(ids))
    assert {"page0", "page1", "page2"} <= {a["Name"] for a in first["Items"] + rest["Items"]}


def test_function_url_lifecycle(lam: Any, server: InProcessServer) -> None:
    created = lam.create_function_url_config(
        FunctionName="wall", AuthType="NONE", Cors={"AllowOrigins": ["*"]}
    )
    url = created["FunctionUrl"]
    assert url.startswith(f"{server.endpoint}/lambda-url/") and url.endswith("/")
    assert created["FunctionArn"] == FN_ARN
    assert created["Cors"] == {"AllowOrigins": ["*"]}
    with pytest.raises(ClientError) as excinfo:
        lam.create_function_url_config(FunctionName="wall", AuthType="NONE")
    assert error_code(excinfo) == ("ResourceConflictException", 409)

    server.shoal.invoker.behaviour = returns({"statusCode": 201, "body": "made"})
    status, _, body = http("PUT", url + "thing", b"{}")
    assert (status, body) == (201, b"made")

    alias = lam.create_function_url_config(
        FunctionName="wall", Qualifier="live", AuthType="NONE"
    )
    assert alias["FunctionArn"] == FN_ARN + ":live"
    http("GET", alias["FunctionUrl"])
    assert server.shoal.invoker.calls[-1][:2] == (FN_ARN, "live")

    got = lam.get_function_url_config(FunctionName=FN_ARN)
    assert got["FunctionUrl"] == url and "LastModifiedTime" in got
    updated = lam.update_function_url_config(FunctionName="wall", AuthType="AWS_IAM")
    assert updated["AuthType"] == "AWS_IAM"
    assert updated["FunctionUrl"] == url
    calls = len(server.shoal.invoker.calls)
    assert http("GET", url)[::2] == (403, b'{"Message":"Forbidden"}')  # unsigned: refused
    assert len(server.shoal.invoker.calls) == calls
    listed = lam.list_function_url_configs(FunctionName="wall")["FunctionUrlConfigs"]
    assert sorted(c["FunctionArn"] for c in listed) == [FN_ARN, FN_ARN + ":live"]

    lam.delete_function_url_config(FunctionName="wall")
    with pytest.raises(ClientError) as excinfo:
        lam.get_function_url_config(FunctionName="wall")
    assert error_code(excinfo) == ("ResourceNotFoundException", 404)
    assert http("GET", url)[0] == 403
    with pytest.raises(ClientError) as excinfo:
        lam.create_function_url_config(FunctionName="missing", AuthType="NONE")
    assert error_code(excinfo) == ("ResourceNotFoundException", 404)
