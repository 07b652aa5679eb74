"""The OpenAPI document logic (shoal.gateway.openapi, openapi_export), without a server."""

from __future__ import annotations

import json

import pytest
import yaml

from shoal.errors import AwsError
from shoal.gateway import openapi, openapi_export
from shoal.gateway.models import Api

FN = "arn:aws:lambda:us-east-1:123456789012:function:pets"
INVOCATIONS = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN}/invocations"


def doc(**extra: object) -> dict[str, object]:
    return {
        "openapi": "3.0.1",
        "info": {"title": "t", "version": "7"},
        "paths": {
            "/$default": {"x-amazon-apigateway-any-method": {
                "x-amazon-apigateway-integration": {"type": "AWS_PROXY", "uri": FN,
                                                    "payloadFormatVersion": 1.0}}},  # fmt: skip
            "/items/{id}": {"get": {}, "parameters": [], "summary": "not an operation"},
        },
        **extra,
    }


def test_routes_integrations_and_version_as_a_number() -> None:
    definition = openapi.parse(json.dumps(doc()), None)
    assert [o.route_key for o in definition.operations] == ["$default", "GET /items/{id}"]
    api, _, warnings = openapi.build(Api("a1", "old", region="us-east-1"), definition, True)
    assert warnings == [] and api.name == "t" and api.extra["Version"] == "7"
    (integration,) = api.integrations.values()
    assert integration.payload_format_version == "1.0"
    exported = openapi_export.document(api, "http://h/execute-api/a1", None, True)
    spec = exported["paths"]["/$default"]["x-amazon-apigateway-any-method"]
    assert spec["x-amazon-apigateway-integration"]["uri"] == INVOCATIONS
    assert exported["paths"]["/items/{id}"]["parameters"][0]["name"] == "id"


@pytest.mark.parametrize(
    ("mode", "prefix"), [(None, ""), ("ignore", ""), ("prepend", "/v1/x"), ("split", "/x")]
)
def test_base_path_modes(mode: str | None, prefix: str) -> None:
    servers = [{"url": "https://h/{basePath}/x", "variables": {"basePath": {"default": "v1"}}}]
    definition = openapi.parse(json.dumps(doc(servers=servers)), mode)
    assert definition.operations[1].route_key == f"GET {prefix}/items/{{id}}"


@pytest.mark.parametrize(
    "body",
    [
        "swagger: '2.0'\ninfo: {title: t}\n",
        "openapi: 3.0.1\ninfo: {}\n",
        "openapi: 3.0.1\ninfo: {title: t}\npaths: [1]\n",
        json.dumps(doc(security=[{"jwt": []}])),  # no such scheme: never served open
    ],
)
def test_errors_are_bad_requests(body: str) -> None:
    with pytest.raises(AwsError) as e:
        openapi.parse(body, None)
    assert e.value.code == "BadRequestException"


def test_yaml_aliases_cannot_blow_up() -> None:
    """A 'billion laughs' document is refused on the types, not expanded."""
    lines = ["openapi: 3.0.1", "info: {title: t}", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    bomb = "\n".join(lines)
    for tail in ("x-amazon-apigateway-cors: {allowOrigins: *a8}",
                 "paths: {/p: {get: {x-amazon-apigateway-integration: {type: AWS_PROXY, "
                 "uri: *a8, payloadFormatVersion: '2.0'}}}}"):  # fmt: skip
        body = bomb + "\n" + tail + "\n"
        with pytest.raises(AwsError) as e:
            definition = openapi.parse(body, None)
            openapi.build(Api("a1", "t", region="us-east-1"), definition, True)
        assert e.value.code == "BadRequestException"


def test_warnings_and_fail_on_warnings() -> None:
    body = doc()
    body["paths"]["/items/{id}"]["get"] = {  # type: ignore[index]
        "x-amazon-apigateway-integration": {"type": "AWS", "uri": FN}
    }
    definition = openapi.parse(json.dumps(body), None)
    api, _, warnings = openapi.build(Api("a1", "t", region="us-east-1"), definition, False)
    assert len(warnings) == 1 and len(api.routes) == 2 and len(api.integrations) == 1
    with pytest.raises(AwsError):
        openapi.build(Api("a1", "t", region="us-east-1"), definition, True)


def test_yaml_render_and_include_extensions() -> None:
    api, _, _ = openapi.build(
        Api("a1", "t", region="us-east-1"), openapi.parse(json.dumps(doc()), None), True
    )
    plain = openapi_export.document(api, "http://h", "prod", False)
    assert "x-amazon-apigateway-importexport-version" not in plain
    assert plain["servers"][0]["variables"]["basePath"]["default"] == "prod"
    assert yaml.safe_load(openapi_export.render(plain, "YAML")) == plain


def test_http_proxy_with_parameter_mappings_round_trips() -> None:
    integration = {
        "type": "http_proxy",
        "httpMethod": "GET",
        "uri": "https://example.com/{proxy}",
        "payloadFormatVersion": "1.0",
        "connectionType": "INTERNET",
        "requestParameters": {"overwrite:header.x-user": "$context.authorizer.claims.sub"},
        "responseParameters": {"404": {"overwrite:statuscode": "200"}},
    }
    operation = {"x-amazon-apigateway-integration": integration}
    body = {"openapi": "3.0.1", "info": {"title": "p", "version": "1"},
            "paths": {"/{proxy+}": {"get": operation}}}  # fmt: skip
    api, _, warnings = openapi.build(Api("a2", "p"), openapi.parse(json.dumps(body), None), True)
    assert warnings == []
    (made,) = api.integrations.values()
    assert (made.integration_type, made.payload_format_version) == ("HTTP_PROXY", "1.0")
    assert made.extra["IntegrationMethod"] == "GET"
    exported = openapi_export.document(api, "http://h/execute-api/a2", None, True)
    assert exported["paths"]["/{proxy+}"]["get"]["x-amazon-apigateway-integration"] == integration
    bad = dict(integration, requestParameters={"overwrite:header.host": "evil"})
    operation["x-amazon-apigateway-integration"] = bad
    _, _, warnings = openapi.build(Api("a3", "p"), openapi.parse(json.dumps(body), None), False)
    assert len(warnings) == 1 and "reserved header" in warnings[0]
