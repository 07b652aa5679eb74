"""API Gateway v2's management plane beyond create/get/update/delete, through boto3 and AWS CLI
v2: tags by ARN, DeleteCorsConfiguration, DeleteRouteRequestParameter, UpdateDeployment, and
errors in the model's shapes (BadRequestException, never ValidationException)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from conftest import ShoalServer, create_function, signed_headers, unique_name

HELLO = "def handler(event, context):\n    return 'hi'\n"


def aws_v2(server: ShoalServer, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}  # fmt: skip
    argv = ("--endpoint-url", server.endpoint, "--output", "json", *argv)
    return subprocess.run(["/usr/bin/aws", *argv], capture_output=True, text=True, timeout=120,
                          env=env)  # fmt: skip


def api_arn(api_id: str, stage: str | None = None) -> str:
    arn = f"arn:aws:apigateway:us-east-1::/apis/{api_id}"
    return arn + (f"/stages/{stage}" if stage else "")


def test_tags_of_an_api_and_its_stage(apigw_client: Any, server: ShoalServer) -> None:
    api = apigw_client.create_api(Name=unique_name("tags"), ProtocolType="HTTP",
                                  Tags={"team": "wall"})  # fmt: skip
    api_id = api["ApiId"]
    assert api["Tags"] == {"team": "wall"}
    assert apigw_client.get_tags(ResourceArn=api_arn(api_id))["Tags"] == {"team": "wall"}
    apigw_client.tag_resource(ResourceArn=api_arn(api_id), Tags={"env": "dev", "team": "birds"})
    assert apigw_client.get_api(ApiId=api_id)["Tags"] == {"team": "birds", "env": "dev"}
    apigw_client.untag_resource(ResourceArn=api_arn(api_id), TagKeys=["team"])
    assert apigw_client.get_tags(ResourceArn=api_arn(api_id))["Tags"] == {"env": "dev"}

    stage = apigw_client.create_stage(ApiId=api_id, StageName="prod", Tags={"tier": "1"})
    assert stage["Tags"] == {"tier": "1"}
    cli = aws_v2(server, "apigatewayv2", "tag-resource", "--resource-arn",
                 api_arn(api_id, "prod"), "--tags", "owner=ops")  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    cli = aws_v2(server, "apigatewayv2", "get-tags", "--resource-arn", api_arn(api_id, "prod"))
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["Tags"] == {"tier": "1", "owner": "ops"}
    assert apigw_client.get_stage(ApiId=api_id, StageName="prod")["Tags"] == {
        "tier": "1",
        "owner": "ops",
    }
    # The API's own tags are apart from its stage's.
    assert apigw_client.get_tags(ResourceArn=api_arn(api_id))["Tags"] == {"env": "dev"}


def test_tags_of_what_is_not_there(apigw_client: Any, server: ShoalServer) -> None:
    with pytest.raises(ClientError) as e:
        apigw_client.get_tags(ResourceArn=api_arn("nosuchapi1"))
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    assert e.value.response["Error"]["Message"] == (
        "Invalid API identifier specified 123456789012:nosuchapi1"
    )
    api_id = apigw_client.create_api(Name=unique_name("tags"), ProtocolType="HTTP")["ApiId"]
    with pytest.raises(ClientError) as e:
        apigw_client.tag_resource(ResourceArn=api_arn(api_id, "nostage"), Tags={"a": "b"})
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as e:
        apigw_client.get_tags(ResourceArn="arn:aws:lambda:us-east-1:123456789012:function:f")
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    # Another region's ARN names nothing here.
    with pytest.raises(ClientError) as e:
        apigw_client.get_tags(ResourceArn=api_arn(api_id).replace("us-east-1", "eu-west-1"))
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as e:
        apigw_client.tag_resource(ResourceArn=api_arn(api_id), Tags={"aws:x": "y"})
    assert e.value.response["Error"]["Code"] == "BadRequestException"


def test_delete_cors_route_parameter_and_update_deployment(
    apigw_client: Any, lambda_client: Any, server: ShoalServer
) -> None:
    fn = create_function(lambda_client, unique_name("parts"), HELLO)
    arn = lambda_client.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    api = apigw_client.create_api(
        Name=unique_name("parts"), ProtocolType="HTTP", Target=arn,
        CorsConfiguration={"AllowOrigins": ["https://example.com"]},
    )  # fmt: skip
    api_id = api["ApiId"]
    assert api["CorsConfiguration"]["AllowOrigins"] == ["https://example.com"]
    cli = aws_v2(server, "apigatewayv2", "delete-cors-configuration", "--api-id", api_id)
    assert cli.returncode == 0, cli.stderr
    assert "CorsConfiguration" not in apigw_client.get_api(ApiId=api_id)
    # The data plane no longer answers a preflight with CORS headers.
    parts = urlsplit(api["ApiEndpoint"])
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request("OPTIONS", parts.path + "/x", headers={
            "Origin": "https://example.com", "Access-Control-Request-Method": "GET"})  # fmt: skip
        response = conn.getresponse()
        response.read()
        assert response.getheader("access-control-allow-origin") is None
    finally:
        conn.close()

    integration = apigw_client.get_integrations(ApiId=api_id)["Items"][0]["IntegrationId"]
    route = apigw_client.create_route(
        ApiId=api_id, RouteKey="GET /items", Target=f"integrations/{integration}",
        RequestParameters={"route.request.querystring.id": {"Required": True},
                           "route.request.header.x-a": {"Required": False}},
    )  # fmt: skip
    apigw_client.delete_route_request_parameter(
        ApiId=api_id, RouteId=route["RouteId"], RequestParameterKey="route.request.querystring.id"
    )
    got = apigw_client.get_route(ApiId=api_id, RouteId=route["RouteId"])
    assert got["RequestParameters"] == {"route.request.header.x-a": {"Required": False}}
    with pytest.raises(ClientError) as e:
        apigw_client.delete_route_request_parameter(
            ApiId=api_id, RouteId=route["RouteId"], RequestParameterKey="route.request.header.y"
        )
    assert e.value.response["Error"]["Code"] == "NotFoundException"

    deployment = apigw_client.create_deployment(ApiId=api_id, Description="first")
    updated = apigw_client.update_deployment(
        ApiId=api_id, DeploymentId=deployment["DeploymentId"], Description="second"
    )
    assert updated["Description"] == "second"
    got = apigw_client.get_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    assert got["Description"] == "second"
    with pytest.raises(ClientError) as e:
        apigw_client.update_deployment(ApiId=api_id, DeploymentId="nosuch", Description="x")
    assert e.value.response["Error"]["Code"] == "NotFoundException"


def test_delete_route_settings_and_access_log_settings(apigw_client: Any) -> None:
    api_id = apigw_client.create_api(Name=unique_name("stage"), ProtocolType="HTTP")["ApiId"]
    apigw_client.create_stage(
        ApiId=api_id, StageName="prod",
        RouteSettings={"GET /a": {"ThrottlingRateLimit": 5.0},
                       "GET /b": {"ThrottlingBurstLimit": 1}},
        AccessLogSettings={"DestinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:g",
                           "Format": "$context.requestId"},
    )  # fmt: skip
    apigw_client.delete_route_settings(ApiId=api_id, StageName="prod", RouteKey="GET /a")
    stage = apigw_client.get_stage(ApiId=api_id, StageName="prod")
    assert stage["RouteSettings"] == {"GET /b": {"ThrottlingBurstLimit": 1}}
    with pytest.raises(ClientError) as e:
        apigw_client.delete_route_settings(ApiId=api_id, StageName="prod", RouteKey="GET /a")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    apigw_client.delete_access_log_settings(ApiId=api_id, StageName="prod")
    assert "AccessLogSettings" not in apigw_client.get_stage(ApiId=api_id, StageName="prod")
    with pytest.raises(ClientError) as e:
        apigw_client.delete_access_log_settings(ApiId=api_id, StageName="nosuch")
    assert e.value.response["Error"]["Code"] == "NotFoundException"


def test_constraint_failures_are_bad_requests(server: ShoalServer) -> None:
    """The model's constraints refuse a request as BadRequestException: API Gateway v2 has no
    ValidationException (raw requests: boto3 and the CLI check these before sending)."""
    url = server.endpoint + "/v2/apis"
    for body in (b'{"ProtocolType": "HTTP"}', b'{"name": "x", "protocolType": "GRPC"}', b"{"):
        headers = signed_headers("POST", url, body, "apigateway",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            conn.request("POST", parts.path, body=body, headers=headers)
            response = conn.getresponse()
            doc = json.loads(response.read())
            assert response.status == 400
            assert response.getheader("x-amzn-ErrorType") == "BadRequestException"
            assert doc["message"], doc
        finally:
            conn.close()
