"""Stage variables in a Lambda integration's URI: one integration
(``...:function:NAME:${stageVariables.alias}``) serves each stage from the alias that stage
names, and the event carries that stage's variables, as on API Gateway."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from conftest import create_function, unique_name

CODE = """
import json, os

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({
        "version": context.function_version, "arn": context.invoked_function_arn,
        "stageVariables": event.get("stageVariables")})}
"""


def get(url: str) -> tuple[int, dict[str, Any]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.request("GET", parts.path)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def test_each_stage_invokes_the_alias_its_variables_name(lambda_client: Any,
                                                         apigw_client: Any) -> None:  # fmt: skip
    name = create_function(lambda_client, unique_name("staged"), CODE)
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    v1 = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.create_alias(FunctionName=name, Name="blue", FunctionVersion=v1)
    lambda_client.create_alias(FunctionName=name, Name="green", FunctionVersion="$LATEST")
    api_id = apigw_client.create_api(Name=unique_name("staged"), ProtocolType="HTTP")["ApiId"]
    integ = apigw_client.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
        IntegrationUri=arn + ":${stageVariables.alias}",
    )["IntegrationId"]  # fmt: skip
    apigw_client.create_route(ApiId=api_id, RouteKey="GET /who", Target=f"integrations/{integ}")
    for stage, alias in (("blue", "blue"), ("green", "green"), ("none", "")):
        variables = {"alias": alias, "color": stage} if alias else {"color": stage}
        apigw_client.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True,
                                  StageVariables=variables)  # fmt: skip
    endpoint = apigw_client.get_api(ApiId=api_id)["ApiEndpoint"]
    status, blue = get(f"{endpoint}/blue/who")
    assert status == 200, blue
    assert blue["version"] == v1  # (its invoked ARN names the version: the invoker's, not ours)
    assert blue["stageVariables"] == {"alias": "blue", "color": "blue"}
    status, green = get(f"{endpoint}/green/who")
    assert status == 200 and green["version"] == "$LATEST"
    assert green["stageVariables"] == {"alias": "green", "color": "green"}
    # A stage without the variable names no alias: the URI's "...:NAME:" is the function.
    status, plain = get(f"{endpoint}/none/who")
    assert status == 200 and plain["stageVariables"] == {"color": "none"}
