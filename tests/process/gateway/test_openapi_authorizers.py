"""Authorizers in OpenAPI import and export against a real server: the developer guide's
HTTP API security schemes (a JWT authorizer, a Lambda authorizer with simple responses, IAM
through ``awsSigv4``: data/authorizers-http-api.json) imported with AWS CLI v2 and boto3, the
imported API invoked over real HTTP to prove every authorizer is enforced, exported back and
imported again, and reimported with fewer authorizers."""

from __future__ import annotations

import copy
import http.client
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from test_authorizers_jwt import ECHO, Issuer

from conftest import ShoalServer, create_function, signed_headers, start_server, unique_name

EXAMPLE = Path(__file__).parent / "data" / "authorizers-http-api.json"
AUTHORIZER = """
def handler(event, context):
    return {"isAuthorized": event["identitySource"] == ["let-me-in"],
            "context": {"user": "alice"}}
"""
UNAUTHORIZED = (401, {"message": "Unauthorized"})
FORBIDDEN = (403, {"message": "Forbidden"})


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    found = Issuer()
    found.add_key("k1")
    yield found
    found.close()


@pytest.fixture(scope="module")
def arns(lambda_client: Any) -> tuple[str, str]:
    """(the echo function's ARN, the authorizer function's)."""
    found = []
    for prefix, code in (("oaecho", ECHO), ("oaauth", AUTHORIZER)):
        name = create_function(lambda_client, unique_name(prefix), code)
        found.append(lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
    return found[0], found[1]


def invocations(arn: str) -> str:
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"


def example(issuer: Issuer, arns: tuple[str, str]) -> dict[str, Any]:
    """The guide's schemes pointed at this test's issuer and authorizer function, each
    operation integrated with the echo function."""
    doc = json.loads(EXAMPLE.read_text())
    schemes = doc["components"]["securitySchemes"]
    jwt = schemes["jwt-authorizer-oauth"]["x-amazon-apigateway-authorizer"]
    jwt["jwtConfiguration"]["issuer"] = issuer.url
    schemes["lambda-authorizer"]["x-amazon-apigateway-authorizer"]["authorizerUri"] = invocations(
        arns[1]
    )
    for item in doc["paths"].values():
        item["get"]["x-amazon-apigateway-integration"] = {
            "type": "aws_proxy", "httpMethod": "POST", "uri": invocations(arns[0]),
            "payloadFormatVersion": "2.0", "connectionType": "INTERNET",
        }  # fmt: skip
    return doc


def aws_v2(server: ShoalServer, *argv: str) -> Any:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}  # fmt: skip
    argv = ("--endpoint-url", server.endpoint, "--output", "json", *argv)
    result = subprocess.run(["/usr/bin/aws", *argv], capture_output=True, text=True, timeout=120,
                            env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def call(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.request("GET", parts.path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body else None
    finally:
        conn.close()


def deployed(apigw: Any, api_id: str) -> str:
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    endpoint: str = apigw.get_api(ApiId=api_id)["ApiEndpoint"]
    return endpoint


def enforced(endpoint: str, issuer: Issuer) -> None:
    """Every route of the example answers as its authorizer says."""
    assert call(endpoint + "/open")[0] == 200
    assert call(endpoint + "/me") == UNAUTHORIZED
    bearer = {"Authorization": f"Bearer {issuer.token(aud='audience2')}"}
    status, event = call(endpoint + "/me", bearer)
    assert status == 200, event
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "alice"
    assert call(endpoint + "/me", {"Authorization": f"Bearer {issuer.token()}"}) == UNAUTHORIZED
    assert call(endpoint + "/admin", bearer) == FORBIDDEN  # the route's scope is admin
    admin = {"Authorization": f"Bearer {issuer.token(aud='audience1', scope='admin')}"}
    assert call(endpoint + "/admin", admin)[0] == 200
    assert call(endpoint + "/lambda") == UNAUTHORIZED  # no identity source: not even called
    assert call(endpoint + "/lambda", {"Authorization": "wrong"}) == FORBIDDEN
    status, event = call(endpoint + "/lambda", {"Authorization": "let-me-in"})
    assert status == 200, event
    assert event["requestContext"]["authorizer"]["lambda"] == {"user": "alice"}
    assert call(endpoint + "/operation1") == FORBIDDEN  # unsigned
    url = endpoint + "/operation1"
    status, event = call(url, signed_headers("GET", url, b"", "execute-api"))
    assert status == 200, event
    assert event["requestContext"]["authorizer"]["iam"]["accountId"] == "123456789012"


def exported(apigw: Any, api_id: str, **kw: Any) -> dict[str, Any]:
    body = apigw.export_api(ApiId=api_id, Specification="OAS30", OutputType="JSON", **kw)["body"]
    doc: dict[str, Any] = json.loads(body.read())
    return doc


def test_import_enforce_export_round_trip(
    apigw_client: Any, server: ShoalServer, issuer: Issuer, arns: tuple[str, str], tmp_path: Path
) -> None:
    source = example(issuer, arns)
    definition = tmp_path / "authorizers.json"
    definition.write_text(json.dumps(source, indent=2))
    api = aws_v2(server, "apigatewayv2", "import-api", "--body", f"file://{definition}")
    assert "Warnings" not in api
    api_id = api["ApiId"]
    found = {a["Name"]: a for a in apigw_client.get_authorizers(ApiId=api_id)["Items"]}
    assert set(found) == {"jwt-authorizer-oauth", "lambda-authorizer"}
    jwt, fn = found["jwt-authorizer-oauth"], found["lambda-authorizer"]
    assert jwt["AuthorizerType"] == "JWT"
    assert jwt["IdentitySource"] == ["$request.header.Authorization"]
    assert jwt["JwtConfiguration"] == {"Issuer": issuer.url, "Audience": ["audience1", "audience2"]}
    assert fn["AuthorizerType"] == "REQUEST"
    assert fn["AuthorizerUri"] == invocations(arns[1])
    assert fn["AuthorizerPayloadFormatVersion"] == "2.0"
    assert fn["AuthorizerResultTtlInSeconds"] == 300
    assert fn["EnableSimpleResponses"] is True
    routes = {r["RouteKey"]: r for r in apigw_client.get_routes(ApiId=api_id)["Items"]}
    assert routes["GET /open"]["AuthorizationType"] == "NONE"
    assert routes["GET /me"]["AuthorizerId"] == jwt["AuthorizerId"]
    assert routes["GET /admin"]["AuthorizationScopes"] == ["admin"]
    assert routes["GET /lambda"]["AuthorizationType"] == "CUSTOM"
    assert routes["GET /lambda"]["AuthorizerId"] == fn["AuthorizerId"]
    assert routes["GET /operation1"]["AuthorizationType"] == "AWS_IAM"
    enforced(deployed(apigw_client, api_id), issuer)

    doc = exported(apigw_client, api_id)
    schemes = doc["components"]["securitySchemes"]
    given = source["components"]["securitySchemes"]
    for name in ("jwt-authorizer-oauth", "lambda-authorizer"):
        ext = "x-amazon-apigateway-authorizer"
        assert schemes[name][ext] == given[name][ext], name
        assert schemes[name]["type"] == given[name]["type"]
    assert schemes["sigv4"] == given["sigv4Reference"]
    for path, item in source["paths"].items():
        want = item["get"].get("security")
        if want == [{"sigv4Reference": []}]:
            want = [{"sigv4": []}]
        assert doc["paths"][path]["get"].get("security") == want, path
    # The CLI writes the same document as YAML.
    out = tmp_path / "exported.yaml"
    aws_v2(server, "apigatewayv2", "export-api", "--api-id", api_id, "--output-type", "YAML",
           "--specification", "OAS30", str(out))  # fmt: skip
    assert yaml.safe_load(out.read_text())["components"] == doc["components"]

    # The export imports as another API, its routes as protected as the first's.
    again = apigw_client.import_api(Body=json.dumps(doc))
    assert again["ApiId"] != api_id and "Warnings" not in again
    enforced(deployed(apigw_client, again["ApiId"]), issuer)
    assert exported(apigw_client, again["ApiId"])["components"] == doc["components"]


def test_reimport_replaces_the_authorizers(
    apigw_client: Any, issuer: Issuer, arns: tuple[str, str]
) -> None:
    source = example(issuer, arns)
    api_id = apigw_client.import_api(Body=json.dumps(source))["ApiId"]
    endpoint = deployed(apigw_client, api_id)
    assert call(endpoint + "/lambda") == UNAUTHORIZED
    smaller = copy.deepcopy(source)
    del smaller["components"]["securitySchemes"]["lambda-authorizer"]
    smaller["paths"]["/lambda"]["get"]["security"] = [{"jwt-authorizer-oauth": []}]
    del smaller["paths"]["/me"]["get"]["security"]
    apigw_client.reimport_api(ApiId=api_id, Body=yaml.safe_dump(smaller))
    names = [a["Name"] for a in apigw_client.get_authorizers(ApiId=api_id)["Items"]]
    assert names == ["jwt-authorizer-oauth"]
    assert call(endpoint + "/me")[0] == 200  # no longer protected
    assert call(endpoint + "/lambda", {"Authorization": "let-me-in"}) == UNAUTHORIZED  # JWT now
    token = {"Authorization": f"Bearer {issuer.token(aud='audience1')}"}
    assert call(endpoint + "/lambda", token)[0] == 200


def test_a_route_protected_by_what_http_apis_cant_run_is_refused(
    apigw_client: Any, issuer: Issuer, arns: tuple[str, str]
) -> None:
    from botocore.exceptions import ClientError

    doc = example(issuer, arns)
    doc["components"]["securitySchemes"]["cognito"] = {
        "type": "apiKey", "name": "Authorization", "in": "header",
        "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": []},
    }  # fmt: skip
    doc["paths"]["/open"]["get"]["security"] = [{"cognito": []}]
    before = len(apigw_client.get_apis()["Items"])
    with pytest.raises(ClientError) as e:
        apigw_client.import_api(Body=json.dumps(doc))
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert "can't be served open" in e.value.response["Error"]["Message"]
    assert len(apigw_client.get_apis()["Items"]) == before


def test_imported_authorizers_persist_across_restarts(tmp_path: Path, issuer: Issuer) -> None:
    """An import's API and authorizers are saved together: both are there after a restart,
    and a reimport that drops the authorizers leaves none behind."""
    data = tmp_path / "data"
    doc = example(issuer, ("arn:aws:lambda:us-east-1:123456789012:function:a",) * 2)
    srv = start_server(data)
    try:
        apigw = srv.client("apigatewayv2")
        api_id = apigw.import_api(Body=json.dumps(doc))["ApiId"]
        dropped_id = apigw.import_api(Body=json.dumps(doc))["ApiId"]
        plain = copy.deepcopy(doc)
        del plain["components"]
        for item in plain["paths"].values():
            item["get"].pop("security", None)
        apigw.reimport_api(ApiId=dropped_id, Body=json.dumps(plain))
        before = exported(apigw, api_id)
    finally:
        srv.stop()
    srv = start_server(data)
    try:
        apigw = srv.client("apigatewayv2")
        after = exported(apigw, api_id)
        assert (after["components"], after["paths"]) == (before["components"], before["paths"])
        assert len(apigw.get_authorizers(ApiId=api_id)["Items"]) == 2
        assert apigw.get_authorizers(ApiId=dropped_id)["Items"] == []
        assert "components" not in exported(apigw, dropped_id)
    finally:
        srv.stop()
