"""Payload 2.0 and 1.0 events, built as API Gateway builds them."""

from __future__ import annotations

import base64

from shoal.gateway.events import (
    HttpRequest,
    Target,
    build_v1,
    build_v2,
    encode_body,
    new_request_id,
    request_time,
)

NOW = 1583348638.390  # 04/Mar/2020:19:03:58 UTC


def request(**kw: object) -> HttpRequest:
    base: dict[str, object] = {
        "method": "POST",
        "raw_path": "/default/MessageWall",
        "raw_query": "",
        "headers": [("host", "127.0.0.1:9000"), ("user-agent", "curl/7.88.1")],
        "body": b"",
        "source_ip": "127.0.0.1",
        "protocol": "HTTP/1.1",
    }
    base.update(kw)
    return HttpRequest(**base)  # type: ignore[arg-type]


def target(**kw: object) -> Target:
    base: dict[str, object] = {
        "api_id": "1a2b3c4d5e",
        "domain_name": "1a2b3c4d5e.execute-api.localhost",
        "domain_prefix": "1a2b3c4d5e",
        "stage": "default",
        "route_key": "ANY /MessageWall",
        "resource_path": "/MessageWall",
        "path_parameters": {},
        "stage_variables": {},
        "account_id": "123456789012",
        "request_id": "MIZRNhJtIAMEMDw=",
    }
    base.update(kw)
    return Target(**base)  # type: ignore[arg-type]


def test_v2_minimal_event_has_the_aws_members_and_omits_empty_ones() -> None:
    event = build_v2(request(method="GET"), target(), now=NOW)
    assert event == {
        "version": "2.0",
        "routeKey": "ANY /MessageWall",
        "rawPath": "/default/MessageWall",
        "rawQueryString": "",
        "headers": {"host": "127.0.0.1:9000", "user-agent": "curl/7.88.1"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "1a2b3c4d5e",
            "domainName": "1a2b3c4d5e.execute-api.localhost",
            "domainPrefix": "1a2b3c4d5e",
            "http": {
                "method": "GET",
                "path": "/default/MessageWall",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "curl/7.88.1",
            },
            "requestId": "MIZRNhJtIAMEMDw=",
            "routeKey": "ANY /MessageWall",
            "stage": "default",
            "time": "04/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "isBase64Encoded": False,
    }


def test_v2_text_body_is_text() -> None:
    req = request(headers=[("content-type", "text/plain")], body=b"Hello from EFS!")
    event = build_v2(req, target(), now=NOW)
    assert event["body"] == "Hello from EFS!"
    assert event["isBase64Encoded"] is False


def test_v2_binary_and_form_bodies_are_base64() -> None:
    for ctype in ("application/octet-stream", "image/png", "application/x-www-form-urlencoded"):
        req = request(headers=[("content-type", ctype)], body=b"\x00\x01a=b")
        event = build_v2(req, target(), now=NOW)
        assert event["isBase64Encoded"] is True, ctype
        assert base64.b64decode(event["body"]) == b"\x00\x01a=b"
    no_type = build_v2(request(headers=[], body=b"x"), target(), now=NOW)
    assert no_type["isBase64Encoded"] is True


def test_text_types() -> None:
    for ctype in (
        "text/html; charset=utf-8",
        "application/json",
        "application/vnd.api+json",
        "application/soap+xml",
        "application/xml",
        "application/javascript",
    ):
        assert encode_body(b"{}", ctype) == ("{}", False), ctype
    # Text content type but not UTF-8: sent as base64 rather than corrupted.
    assert encode_body(b"\xff\xfe", "text/plain") == ("//4=", True)


def test_v2_repeated_headers_and_query_parameters_are_comma_joined() -> None:
    req = request(
        headers=[("x-multi", "a"), ("x-multi", "b"), ("accept", "*/*")],
        raw_query="parameter1=value1&parameter1=value2&parameter2=value&q=a%20b+c&flag",
    )
    event = build_v2(req, target(), now=NOW)
    assert event["headers"]["x-multi"] == "a,b"
    assert event["rawQueryString"] == (
        "parameter1=value1&parameter1=value2&parameter2=value&q=a%20b+c&flag"
    )
    assert event["queryStringParameters"] == {
        "parameter1": "value1,value2",
        "parameter2": "value",
        "q": "a b c",
        "flag": "",
    }


def test_v2_cookies_move_out_of_the_headers() -> None:
    req = request(headers=[("cookie", "a=1; b=2"), ("cookie", "c=3")])
    event = build_v2(req, target(), now=NOW)
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]
    # Function URLs keep the header too.
    kept = build_v2(req, target(), now=NOW, keep_cookie=True)
    assert kept["cookies"] == ["a=1", "b=2", "c=3"]
    assert kept["headers"]["cookie"] == "a=1; b=2,c=3"


def test_v2_path_parameters_and_stage_variables() -> None:
    event = build_v2(
        request(raw_path="/files/a/b.txt"),
        target(
            route_key="POST /files/{proxy+}",
            path_parameters={"proxy": "a/b.txt"},
            stage_variables={"alias": "live"},
        ),
        now=NOW,
    )
    assert event["pathParameters"] == {"proxy": "a/b.txt"}
    assert event["stageVariables"] == {"alias": "live"}
    assert event["routeKey"] == "POST /files/{proxy+}"


def test_v1_event_shape() -> None:
    req = request(
        method="GET",
        raw_path="/default/items/7",
        headers=[("x-multi", "a"), ("x-multi", "b"), ("content-type", "application/json")],
        raw_query="k=1&k=2",
        body=b'{"a":1}',
    )
    event = build_v1(
        req,
        target(
            route_key="GET /items/{id}", resource_path="/items/{id}", path_parameters={"id": "7"}
        ),
        now=NOW,
    )
    assert event["version"] == "1.0"
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/default/items/7"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["x-multi"] == "b"
    assert event["multiValueHeaders"]["x-multi"] == ["a", "b"]
    assert event["queryStringParameters"] == {"k": "2"}
    assert event["multiValueQueryStringParameters"] == {"k": ["1", "2"]}
    assert event["pathParameters"] == {"id": "7"}
    assert event["stageVariables"] is None
    assert event["body"] == '{"a":1}'
    assert event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["httpMethod"] == "GET"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["identity"]["userAgent"] == ""
    assert ctx["requestTime"] == "04/Mar/2020:19:03:58 +0000"
    assert ctx["requestTimeEpoch"] == 1583348638390
    assert ctx["resourcePath"] == "/items/{id}"
    assert ctx["stage"] == "default"


def test_v1_empty_members_are_null() -> None:
    event = build_v1(request(method="GET"), target(), now=NOW)
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["body"] is None


def test_request_id_and_time_shapes() -> None:
    ids = {new_request_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 16 and i.endswith("=") for i in ids)
    assert request_time(0) == "01/Jan/1970:00:00:00 +0000"
    assert request_time(1584039838.9) == "12/Mar/2020:19:03:58 +0000"
