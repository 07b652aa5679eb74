"""Authorizers in OpenAPI documents (shoal.gateway.openapi_auth through openapi and
openapi_export), without a server: the developer guide's JWT, Lambda and IAM schemes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from shoal.errors import AwsError
from shoal.gateway import openapi, openapi_export
from shoal.gateway.models import Api

EXAMPLE = json.loads(
    (Path(__file__).parents[2] / "process/gateway/data/authorizers-http-api.json").read_text()
)


def imported(doc: dict[str, Any]) -> tuple[Api, dict[str, Any], list[str]]:
    definition = openapi.parse(json.dumps(doc), None)
    return openapi.build(Api("a1", "t", region="us-east-1"), definition, True)


def by_key(api: Api) -> dict[str, dict[str, Any]]:
    return {r.route_key: dict(r.extra) for r in api.routes.values()}


def test_the_guides_schemes_become_authorizers_on_their_routes() -> None:
    api, authorizers, warnings = imported(EXAMPLE)
    assert warnings == []
    named = {a.name: a for a in authorizers.values()}
    assert set(named) == {"jwt-authorizer-oauth", "lambda-authorizer"}
    jwt, fn = named["jwt-authorizer-oauth"], named["lambda-authorizer"]
    assert (jwt.authorizer_type, jwt.issuer, jwt.audience, jwt.identity_source) == (
        "JWT", "https://cognito-idp.region.amazonaws.com/userPoolId",
        ("audience1", "audience2"), ("$request.header.Authorization",),
    )  # fmt: skip
    assert (fn.authorizer_type, fn.payload_version, fn.simple_responses, fn.ttl_s) == (
        "REQUEST",
        "2.0",
        True,
        300,
    )
    assert fn.uri is not None and fn.uri.endswith("function:function-name/invocations")
    routes = by_key(api)
    assert routes["GET /open"] == {}
    assert routes["GET /me"] == {"AuthorizationType": "JWT", "AuthorizerId": jwt.authorizer_id}
    assert routes["GET /admin"] == {"AuthorizationType": "JWT", "AuthorizerId": jwt.authorizer_id,
                                    "AuthorizationScopes": ["admin"]}  # fmt: skip
    assert routes["GET /lambda"] == {"AuthorizationType": "CUSTOM",
                                     "AuthorizerId": fn.authorizer_id}  # fmt: skip
    assert routes["GET /operation1"] == {"AuthorizationType": "AWS_IAM"}


def test_export_writes_them_back_and_round_trips() -> None:
    api, authorizers, _ = imported(EXAMPLE)
    doc = openapi_export.document(api, "http://h/execute-api/a1", None, True, authorizers)
    schemes = doc["components"]["securitySchemes"]
    for name in ("jwt-authorizer-oauth", "lambda-authorizer"):
        given = EXAMPLE["components"]["securitySchemes"][name]["x-amazon-apigateway-authorizer"]
        assert schemes[name]["x-amazon-apigateway-authorizer"] == given
    assert schemes["lambda-authorizer"]["type"] == "apiKey"
    assert schemes["jwt-authorizer-oauth"]["type"] == "oauth2"
    assert schemes["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    for path, item in EXAMPLE["paths"].items():
        security = doc["paths"][path]["get"].get("security")
        given = item["get"].get("security")
        if given and "sigv4Reference" in given[0]:
            assert security == [{"sigv4": []}]
        else:
            assert security == given
    again, again_authorizers, _ = imported(doc)
    assert {k: {m: v for m, v in e.items() if m != "AuthorizerId"}
            for k, e in by_key(again).items()} == {
        k: {m: v for m, v in e.items() if m != "AuthorizerId"} for k, e in by_key(api).items()
    }  # fmt: skip
    strip = lambda a: (a.name, a.authorizer_type, a.issuer, a.audience, a.uri, a.ttl_s)  # noqa: E731
    assert sorted(map(strip, again_authorizers.values())) == sorted(
        map(strip, authorizers.values())
    )
    plain = openapi_export.document(api, "http://h", None, False, authorizers)
    assert "x-amazon-apigateway" not in json.dumps(plain)
    assert plain["paths"]["/me"]["get"]["security"] == [{"jwt-authorizer-oauth": []}]


def test_document_security_applies_to_operations_without_their_own() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["security"] = [{"lambda-authorizer": []}]
    doc["paths"]["/open"]["get"]["security"] = []
    doc["paths"]["/other"] = {"post": {}}
    doc["paths"]["/iam"] = {"get": {"x-amazon-apigateway-auth": {"type": "AWS_IAM"}}}
    api, authorizers, _ = imported(doc)
    routes = by_key(api)
    assert routes["GET /open"] == {}
    assert routes["POST /other"]["AuthorizationType"] == "CUSTOM"
    assert routes["GET /iam"] == {"AuthorizationType": "AWS_IAM"}


def test_openid_connect_url_gives_the_issuer() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["components"]["securitySchemes"]["jwt-authorizer-oauth"] = {
        "type": "openIdConnect",
        "openIdConnectUrl": "https://idp.example/pool/.well-known/openid-configuration",
        "x-amazon-apigateway-authorizer": {"type": "jwt", "jwtConfiguration": {
            "audience": ["a"]}, "identitySource": "$request.header.Authorization"}}  # fmt: skip
    _, authorizers, _ = imported(doc)
    (jwt,) = [a for a in authorizers.values() if a.authorizer_type == "JWT"]
    assert jwt.issuer == "https://idp.example/pool"


def _with(path: str, **op: Any) -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLE)
    doc["paths"][path] = {"get": op}
    return doc


@pytest.mark.parametrize(
    "doc",
    [
        _with("/x", security=[{"nope": []}]),  # undefined scheme
        _with("/x", security=[{"lambda-authorizer": []}, {"jwt-authorizer-oauth": []}]),
        _with("/x", security=[{"lambda-authorizer": ["scope"]}]),  # scopes: JWT only
        _with("/x", security=[{"sigv4Reference": ["scope"]}]),
        _with("/x", security="lambda-authorizer"),
        _with("/x", **{"x-amazon-apigateway-auth": {"type": "COGNITO"}}),
    ],
)
def test_requirements_api_gateway_refuses(doc: dict[str, Any]) -> None:
    with pytest.raises(AwsError) as e:
        imported(doc)
    assert e.value.code == "BadRequestException"


def test_a_rest_api_authorizer_is_a_warning_unused_and_refused_used() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["components"]["securitySchemes"]["token"] = {"type": "apiKey", "name": "A", "in": "header",
        "x-amazon-apigateway-authorizer": {"type": "token", "authorizerUri": "x"}}  # fmt: skip
    definition = openapi.parse(json.dumps(doc), None)
    _, _, warnings = openapi.build(Api("a1", "t"), definition, False)
    assert warnings == ["Security scheme token not imported: HTTP APIs can't run it"]
    with pytest.raises(AwsError):
        openapi.build(Api("a1", "t"), definition, True)
    doc["paths"]["/open"]["get"]["security"] = [{"token": []}]
    with pytest.raises(AwsError) as e:
        openapi.parse(json.dumps(doc), None)
    assert "can't be served open" in e.value.message


def test_an_invalid_authorizer_is_refused_with_its_name() -> None:
    doc = copy.deepcopy(EXAMPLE)
    scheme = doc["components"]["securitySchemes"]["lambda-authorizer"]
    ext = scheme["x-amazon-apigateway-authorizer"]
    ext["authorizerPayloadFormatVersion"] = "1.0"  # simple responses need 2.0
    with pytest.raises(AwsError) as e:
        imported(doc)
    assert e.value.message.startswith("Invalid authorizer lambda-authorizer: Simple responses")


def test_the_guides_x_amazon_apigateway_auth_example() -> None:
    """The "x-amazon-apigateway-auth object" page's example, its type in any case."""
    iam = {"AuthorizationType": "AWS_IAM"}
    for kind, want in (("AWS_IAM", iam), ("aws_iam", iam), ("none", {})):
        doc = {"openapi": "3.0.1", "info": {"title": "openapi3", "version": "1.0"},
               "paths": {"/protected-by-iam": {"get": {
                   "x-amazon-apigateway-auth": {"type": kind}}}}}  # fmt: skip
        api, _, _ = imported(doc)
        assert by_key(api)["GET /protected-by-iam"] == want
