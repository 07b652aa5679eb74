"""WebSocket APIs' pure parts: route selection, the events, what a function's answer means,
and API Gateway's rules for the API's parts."""

from __future__ import annotations

import json

import pytest

from shoal.errors import AwsError
from shoal.gateway import rules, websocket_events, websocket_rules
from shoal.gateway.models import Api, Integration, Route
from shoal.gateway.websocket_events import Upgrade
from shoal.gateway.websocket_live import compile_websocket

FN = "arn:aws:lambda:us-east-1:123456789012:function:chat"


def _api(expression: str, *keys: str) -> Api:
    integration = Integration("i1", "AWS_PROXY", FN, "1.0", 29000)
    routes = {
        f"r{n}": Route(f"r{n}", key, "integrations/i1") for n, key in enumerate(keys)
    }
    return Api("a1", "chat", "WEBSOCKET", extra={"RouteSelectionExpression": expression},
               routes=routes, integrations={"i1": integration}, region="us-east-1")  # fmt: skip


@pytest.mark.parametrize(
    ("message", "route"),
    [
        ('{"action": "send"}', "send"),
        ('{"action": "other"}', "$default"),
        ('{"no": "action"}', "$default"),
        ("not json", "$default"),
        (b"\x00binary", "$default"),
        ('{"action": "$connect"}', "$default"),  # a special route is never a message's
        ('{"action": {"nested": 1}}', "$default"),
    ],
)
def test_route_selection_by_body(message: str | bytes, route: str) -> None:
    live = compile_websocket(_api("$request.body.action", "$connect", "send", "$default"), "1")
    selected = live.select(message)
    assert selected is not None and selected.route_key == route


def test_nested_path_braces_and_no_default() -> None:
    live = compile_websocket(_api("${request.body.msg.kind}", "chat"), "123456789012")
    found = live.select(json.dumps({"msg": {"kind": "chat"}}))
    assert found is not None and found.route_key == "chat"
    assert found.target is not None and found.target.function_name == FN
    assert live.select('{"msg": {"kind": "x"}}') is None  # no $default: no route


def test_route_responses_and_connect_refusals() -> None:
    assert websocket_events.route_response(b'{"statusCode": 200, "body": "hi"}') == b"hi"
    assert websocket_events.route_response(b'{"statusCode": 200}') is None
    assert websocket_events.route_response(b'"text"') == b"text"
    assert websocket_events.route_response(b"null") is None
    assert websocket_events.route_response(b'{"a": 1}') == b'{"a": 1}'
    assert websocket_events.connect_refusal(b'{"statusCode": 200}') is None
    assert websocket_events.connect_refusal(b"null") is None
    refused = websocket_events.connect_refusal(b'{"statusCode": 401, "body": "who?"}')
    assert refused is not None and (refused.status, refused.body) == (401, b"who?")


def test_events() -> None:
    up = Upgrade("a1", "prod", "a1.execute-api.localhost:9000", "cid=", 1000, "10.0.0.1",
                 "ua/1", (("Host", "h"), ("X-Multi", "1"), ("X-Multi", "2")), "a=1&a=2&b=3",
                 {})  # fmt: skip
    event = websocket_events.connect_event(up, now_s=2.5)
    ctx = event["requestContext"]
    assert (ctx["eventType"], ctx["routeKey"], ctx["connectedAt"]) == ("CONNECT", "$connect", 1000)
    assert ctx["requestTimeEpoch"] == 2500
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert event["headers"]["X-Multi"] == "1,2"
    assert event["queryStringParameters"] == {"a": "2", "b": "3"}
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "2"]
    message = websocket_events.message_event(up, "send", b"\x01", {"principalId": "p"})
    assert message["isBase64Encoded"] is True and message["body"] == "AQ=="
    assert message["requestContext"]["authorizer"] == {"principalId": "p"}
    assert "queryStringParameters" not in message
    gone = websocket_events.disconnect_event(up, 1005, "r", None)
    assert gone["requestContext"]["disconnectStatusCode"] == 1005
    assert gone["requestContext"]["eventType"] == "DISCONNECT"


@pytest.mark.parametrize("expression", ["", "$request.header.x", "$request.body."])
def test_bad_selection_expressions(expression: str) -> None:
    with pytest.raises(AwsError) as e:
        websocket_rules.check_selection_expression(expression)
    assert e.value.code == "BadRequestException"


def _ws_integration(kind: str, uri: str, timeout_ms: int | None) -> Integration:
    """A WebSocket API's integration, made as CreateIntegration makes it."""
    return rules.integration(
        "i", kind, uri, None, timeout_ms, managed=False, extra={}, protocol=websocket_rules.PROTOCOL
    )


def test_rules() -> None:
    websocket_rules.check_selection_expression("\\$default")
    for key in ("$connect", "$disconnect", "$default", "sendmessage"):
        websocket_rules.check_route_key(key)
    with pytest.raises(AwsError):
        websocket_rules.check_route_key("$other")
    with pytest.raises(AwsError):
        _ws_integration("HTTP_PROXY", "http://x", None)
    with pytest.raises(AwsError):
        _ws_integration("AWS_PROXY", FN, 29001)
    made = _ws_integration("AWS_PROXY", FN, None)
    assert (made.payload_format_version, made.timeout_ms) == ("1.0", 29000)
    assert websocket_rules.authorizer_members({"AuthorizerType": "REQUEST"}, creating=True)[
        "AuthorizerPayloadFormatVersion"] == "1.0"  # fmt: skip
    with pytest.raises(AwsError):
        websocket_rules.authorizer_members({"EnableSimpleResponses": True}, creating=False)
