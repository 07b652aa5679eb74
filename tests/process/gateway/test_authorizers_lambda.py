"""Lambda REQUEST authorizers against a real server: authorizer functions in real sandboxes
(payload 2.0 with simple responses, 2.0 and 1.0 with IAM policies), the API called over real
HTTP and managed with boto3; result caching keyed by the identity sources."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from conftest import create_function, start_server, unique_name

ECHO = """
import json

def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}
"""

# Allows the token "let-me-in" (header or query string); says who it saw and which call it was.
AUTHORIZER = """
import json

def handler(event, context):
    simple = event.get("version") == "2.0" and "simple" in event.get("rawPath", "")
    token = event["identitySource"]
    token = token[0] if isinstance(token, list) else token.split(",")[0]
    allowed = token == "let-me-in"
    ctx = {"user": "alice", "call": context.aws_request_id, "type": event["type"],
           "arn": event.get("routeArn") or event.get("methodArn")}
    if simple:
        return {"isAuthorized": allowed, "context": ctx}
    resource = "/".join((event.get("routeArn") or event["methodArn"]).split("/")[:2]) + "/GET/*"
    return {"principalId": "alice", "context": ctx, "policyDocument": {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow" if allowed else "Deny",
                       "Resource": resource}]}}
"""


def call(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, Any]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.request(
            method, parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {}
        )
        response = conn.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body else None
    finally:
        conn.close()


@pytest.fixture(scope="module")
def functions(lambda_client: Any) -> tuple[str, str]:
    echo = create_function(lambda_client, unique_name("authecho"), ECHO)
    auth = create_function(lambda_client, unique_name("authfn"), AUTHORIZER)
    arns = [
        lambda_client.get_function(FunctionName=n)["Configuration"]["FunctionArn"]
        for n in (echo, auth)
    ]
    return arns[0], arns[1]


def _api(apigw: Any, echo: str, version: str, **authorizer: Any) -> tuple[str, str, str]:
    api_id = apigw.create_api(Name=unique_name("lauth"), ProtocolType="HTTP")["ApiId"]
    integration = apigw.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=echo,
        PayloadFormatVersion=version,
    )["IntegrationId"]
    found = apigw.create_authorizer(ApiId=api_id, Name="fn", AuthorizerType="REQUEST", **authorizer)
    for key in ("GET /simple/{id}", "GET /policy/{id}", "POST /policy/{id}"):
        apigw.create_route(
            ApiId=api_id,
            RouteKey=key,
            Target=f"integrations/{integration}",
            AuthorizationType="CUSTOM",
            AuthorizerId=found["AuthorizerId"],
        )
    apigw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    return api_id, apigw.get_api(ApiId=api_id)["ApiEndpoint"] + "/prod", found["AuthorizerId"]


def _uri(arn: str) -> str:
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"


def test_simple_responses_payload_2_0(apigw_client: Any, functions: tuple[str, str]) -> None:
    echo, auth = functions
    api_id, endpoint, authorizer_id = _api(
        apigw_client,
        echo,
        "2.0",
        AuthorizerUri=_uri(auth),
        AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=True,
        IdentitySource=["$request.header.x-token"],
    )
    got = apigw_client.get_authorizer(ApiId=api_id, AuthorizerId=authorizer_id)
    assert got["EnableSimpleResponses"] is True
    assert got["AuthorizerPayloadFormatVersion"] == "2.0"
    status, event = call(f"{endpoint}/simple/7", headers={"x-token": "let-me-in"})
    assert status == 200, event
    lam = event["requestContext"]["authorizer"]["lambda"]
    assert lam["user"] == "alice" and lam["type"] == "REQUEST"
    assert lam["arn"] == f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/prod/GET/simple/7"
    status, body = call(f"{endpoint}/simple/7", headers={"x-token": "wrong"})
    assert (status, body) == (403, {"message": "Forbidden"})
    # No identity source: 401 without asking the function (which would say 403).
    status, body = call(f"{endpoint}/simple/7")
    assert (status, body) == (401, {"message": "Unauthorized"})


def test_iam_policy_payload_2_0_cached_by_identity(
    apigw_client: Any, functions: tuple[str, str]
) -> None:
    echo, auth = functions
    _, endpoint, _ = _api(
        apigw_client,
        echo,
        "2.0",
        AuthorizerUri=_uri(auth),
        AuthorizerPayloadFormatVersion="2.0",
        IdentitySource=["$request.querystring.token"],
        AuthorizerResultTtlInSeconds=300,
    )
    status, first = call(f"{endpoint}/policy/1?token=let-me-in")
    assert status == 200, first
    status, second = call(f"{endpoint}/policy/2?token=let-me-in")
    assert status == 200
    call_of = [e["requestContext"]["authorizer"]["lambda"]["call"] for e in (first, second)]
    assert call_of[0] == call_of[1]  # the cached answer: the function ran once
    # The cached policy is evaluated for each route: it allows GET only.
    status, body = call(f"{endpoint}/policy/1?token=let-me-in", "POST")
    assert (status, body) == (403, {"message": "Forbidden"})
    status, body = call(f"{endpoint}/policy/1?token=nope")
    assert (status, body) == (403, {"message": "Forbidden"})


def test_reset_authorizers_cache_per_stage(
    apigw_client: Any, server: Any, functions: tuple[str, str]
) -> None:
    """Answers are cached per stage; ResetAuthorizersCache (boto3, then AWS CLI v2) empties a
    stage's, so its next request calls the authorizer again."""
    echo, auth = functions
    api_id, endpoint, _ = _api(
        apigw_client,
        echo,
        "2.0",
        AuthorizerUri=_uri(auth),
        AuthorizerPayloadFormatVersion="2.0",
        IdentitySource=["$request.querystring.token"],
        AuthorizerResultTtlInSeconds=300,
    )
    apigw_client.create_stage(ApiId=api_id, StageName="beta", AutoDeploy=True)
    beta = endpoint.rsplit("/", 1)[0] + "/beta"

    def call_id(base: str) -> str:
        status, event = call(f"{base}/policy/1?token=let-me-in")
        assert status == 200, event
        found: str = event["requestContext"]["authorizer"]["lambda"]["call"]
        return found

    first = call_id(endpoint)
    assert call_id(endpoint) == first  # cached
    other = call_id(beta)
    assert other != first  # another stage: its own cache
    apigw_client.reset_authorizers_cache(ApiId=api_id, StageName="prod")
    again = call_id(endpoint)
    assert again != first
    assert call_id(beta) == other  # beta's cache is untouched
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}  # fmt: skip
    subprocess.run(["/usr/bin/aws", "--endpoint-url", server.endpoint, "apigatewayv2",
                    "reset-authorizers-cache", "--api-id", api_id, "--stage-name", "beta"],
                   check=True, capture_output=True, timeout=120, env=env)  # fmt: skip
    assert call_id(beta) != other
    assert call_id(endpoint) == again
    with pytest.raises(ClientError) as e:
        apigw_client.reset_authorizers_cache(ApiId=api_id, StageName="nope")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    assert e.value.response["Error"]["Message"] == "Invalid Stage identifier specified nope"


def test_iam_policy_payload_1_0(apigw_client: Any, functions: tuple[str, str]) -> None:
    echo, auth = functions
    _, endpoint, _ = _api(
        apigw_client,
        echo,
        "1.0",
        AuthorizerUri=_uri(auth),
        AuthorizerPayloadFormatVersion="1.0",
        IdentitySource=["$request.header.Authorization"],
    )
    status, event = call(f"{endpoint}/policy/3", headers={"Authorization": "let-me-in"})
    assert status == 200, event
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "alice"
    assert authorizer["user"] == "alice"
    status, _ = call(f"{endpoint}/policy/3", headers={"Authorization": "no"})
    assert status == 403


def test_request_authorizer_rules(apigw_client: Any, functions: tuple[str, str]) -> None:
    _, auth = functions
    api_id = apigw_client.create_api(Name=unique_name("lrules"), ProtocolType="HTTP")["ApiId"]
    for bad in (
        {"AuthorizerUri": _uri(auth)},  # no payload format version
        {
            "AuthorizerUri": _uri(auth),
            "AuthorizerPayloadFormatVersion": "1.0",
            "EnableSimpleResponses": True,
        },
        {"AuthorizerPayloadFormatVersion": "2.0"},  # no URI
    ):
        with pytest.raises(ClientError) as e:
            apigw_client.create_authorizer(
                ApiId=api_id,
                Name="x",
                AuthorizerType="REQUEST",
                IdentitySource=["$request.header.a"],
                **bad,
            )
        assert e.value.response["Error"]["Code"] == "BadRequestException"
    found = apigw_client.create_authorizer(
        ApiId=api_id,
        Name="x",
        AuthorizerType="REQUEST",
        AuthorizerUri=_uri(auth),
        AuthorizerPayloadFormatVersion="2.0",
        IdentitySource=["$request.header.a"],
    )
    updated = apigw_client.update_authorizer(
        ApiId=api_id, AuthorizerId=found["AuthorizerId"], AuthorizerResultTtlInSeconds=60
    )
    assert updated["AuthorizerResultTtlInSeconds"] == 60
    assert updated["AuthorizerUri"] == _uri(auth)
    with pytest.raises(ClientError) as e:  # a JWT route can't use a REQUEST authorizer
        apigw_client.create_route(
            ApiId=api_id,
            RouteKey="GET /x",
            AuthorizationType="JWT",
            AuthorizerId=found["AuthorizerId"],
        )
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    apigw_client.delete_authorizer(ApiId=api_id, AuthorizerId=found["AuthorizerId"])
    assert apigw_client.get_authorizers(ApiId=api_id)["Items"] == []


def test_authorizers_persist_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        apigw = srv.client("apigatewayv2")
        api_id = apigw.create_api(Name="kept", ProtocolType="HTTP")["ApiId"]
        gone_id = apigw.create_api(Name="gone", ProtocolType="HTTP")["ApiId"]
        kept = apigw.create_authorizer(
            ApiId=api_id,
            Name="jwt",
            AuthorizerType="JWT",
            IdentitySource=["$request.header.Authorization"],
            JwtConfiguration={"Issuer": "https://issuer.example", "Audience": ["a"]},
        )
        apigw.create_authorizer(
            ApiId=gone_id,
            Name="jwt",
            AuthorizerType="JWT",
            IdentitySource=["$request.header.Authorization"],
            JwtConfiguration={"Issuer": "https://issuer.example", "Audience": ["a"]},
        )
        apigw.create_route(
            ApiId=api_id,
            RouteKey="GET /x",
            AuthorizationType="JWT",
            AuthorizerId=kept["AuthorizerId"],
            AuthorizationScopes=["s"],
        )
        apigw.delete_api(ApiId=gone_id)
    finally:
        srv.stop()
    srv = start_server(data)
    try:
        apigw = srv.client("apigatewayv2")
        got = apigw.get_authorizer(ApiId=api_id, AuthorizerId=kept["AuthorizerId"])
        assert got["JwtConfiguration"] == {"Issuer": "https://issuer.example", "Audience": ["a"]}
        assert got["IdentitySource"] == ["$request.header.Authorization"]
        (route,) = apigw.get_routes(ApiId=api_id)["Items"]
        assert (route["AuthorizerId"], route["AuthorizationScopes"]) == (
            kept["AuthorizerId"],
            ["s"],
        )
        with pytest.raises(ClientError) as e:
            apigw.get_authorizers(ApiId=gone_id)
        assert e.value.response["Error"]["Code"] == "NotFoundException"
    finally:
        srv.stop()
