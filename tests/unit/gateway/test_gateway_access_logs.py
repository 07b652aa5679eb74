"""Access log formats without a server: ``$context`` variables rendered from an Exchange
(``-`` for what did not happen), authorizer values, the settings API Gateway refuses."""

from __future__ import annotations

import json
import time

import pytest

from shoal.errors import AwsError
from shoal.gateway import exchange
from shoal.gateway.access_logs import Template, check
from shoal.gateway.exchange import Exchange

ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/my/group"


def sample() -> Exchange:
    x = Exchange("req-1", time.perf_counter(), 1700000000.25)
    x.api_id, x.stage, x.region, x.account_id = "abc", "prod", "us-east-1", "123456789012"
    x.method, x.path, x.protocol, x.source_ip = "GET", "/prod/items/1", "HTTP/1.1", "10.0.0.1"
    x.domain_name, x.domain_prefix = "abc.execute-api.localhost:9000", "abc"
    x.status, x.response_length, x.received = 200, 42, 8
    return x


def test_clf_line() -> None:
    fmt = ('$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod '
           '$context.routeKey $context.protocol" $context.status $context.responseLength '
           "$context.requestId")  # fmt: skip
    line = Template(fmt).render(sample())
    assert line == '10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET - HTTP/1.1" 200 42 req-1'


def test_json_csv_xml_keep_their_text() -> None:
    x = sample()
    exchange.routed(x, "GET /items/{id}", "/items/{id}", {})
    x.integration_ms, x.integration_status = 12.6, 200
    doc = json.loads(Template('{"id":"$context.requestId","route":"$context.routeKey",'
                              '"lat":$context.integrationLatency,"epoch":$context.requestTimeEpoch,'
                              '"err":"$context.integrationErrorMessage",'
                              '"data":$context.dataProcessed}').render(x))  # fmt: skip
    assert doc == {"id": "req-1", "route": "GET /items/{id}", "lat": 13,
                   "epoch": 1700000000250, "err": "-", "data": 50}  # fmt: skip
    assert Template("$context.requestId,$context.status,$context.stage\n").render(x) == (
        "req-1,200,prod")
    assert Template('<request id="$context.requestId"><s>$context.status</s></request>').render(
        x) == '<request id="req-1"><s>200</s></request>'


def test_authorizer_values_and_errors() -> None:
    x = sample()
    x.authorizer = {"jwt": {"claims": {"sub": "alice"}, "scopes": None}}
    fmt = "$context.requestId $context.authorizer.claims.sub $context.authorizer.error"
    assert Template(fmt).render(x) == "req-1 alice -"
    x.authorizer = {"lambda": {"user": "bob", "n": 1}}
    assert Template("$context.requestId $context.authorizer.user $context.authorizer.n").render(
        x) == "req-1 bob 1"
    x.authorizer, x.authorizer_error, x.status = None, "Unauthorized", 401
    assert Template("$context.requestId $context.authorizer.error $context.error.message "
                    "$context.error.messageString").render(x) == (
        'req-1 Unauthorized Unauthorized "Unauthorized"')  # fmt: skip


@pytest.mark.parametrize(("settings", "ok"), [
    (None, True), ({}, True),
    ({"DestinationArn": ARN, "Format": "$context.requestId"}, True),
    ({"DestinationArn": ARN + ":*", "Format": "$context.extendedRequestId\n"}, True),
    ({"DestinationArn": ARN, "Format": "$context.status"}, False),
    ({"DestinationArn": ARN, "Format": "$context.requestId\nx"}, False),
    ({"DestinationArn": ARN.replace("us-east-1", "eu-west-1"), "Format": "$context.requestId"},
     False),
    ({"DestinationArn": "arn:aws:s3:::bucket", "Format": "$context.requestId"}, False),
    ({"Format": "$context.requestId"}, False),
    ({"DestinationArn": ARN}, False),
])  # fmt: skip
def test_check(settings: dict[str, str] | None, ok: bool) -> None:
    if ok:
        check(settings, "us-east-1", "123456789012")
        return
    with pytest.raises(AwsError) as e:
        check(settings, "us-east-1", "123456789012")
    assert e.value.code == "BadRequestException"


def test_authorizer_error_of_a_refusal() -> None:
    from shoal.gateway.jwt_auth import challenge
    from shoal.gateway.responses import forbidden

    expired = challenge(401, "invalid_token", "the token has expired")
    assert exchange.authorizer_error(expired) == "the token has expired"
    assert exchange.authorizer_error(forbidden()) == "Forbidden"
