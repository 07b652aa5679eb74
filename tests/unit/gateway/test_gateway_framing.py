"""The gateway owns framing: every hop-by-hop or framing header a function returns, in payload
2.0 and 1.0 (``headers`` and ``multiValueHeaders``) behind an HTTP API and behind a function
URL, is dropped or remapped, and the answer carries one Content-Length of the body sent."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from gateway_fakes import FakeShoal, Reply, asgi_request, returns

from shoal.gateway import framing
from shoal.gateway.responses import from_payload

FN = "arn:aws:lambda:us-east-1:123456789012:function:fr"

# Each reserved header, in a spelling a framework might use, with a value it might carry.
RESERVED = [
    ("Content-Length", "5"),
    ("Transfer-Encoding", "chunked"),
    ("Connection", "close"),
    ("Keep-Alive", "timeout=5, max=100"),
    ("Proxy-Connection", "keep-alive"),
    ("Upgrade", "websocket"),
    ("Trailer", "Expires"),
    ("Trailers", "Expires"),
    ("TE", "trailers"),
    ("Proxy-Authenticate", 'Basic realm="x"'),
    ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
]
BODY = "a body longer than five bytes"

# How each endpoint type and payload shape carries headers, and whether it remaps.
SHAPES = {
    "http-api 2.0": ("2.0", "headers", False),
    "http-api 1.0 headers": ("1.0", "headers", False),
    "http-api 1.0 multiValueHeaders": ("1.0", "multiValueHeaders", False),
    "function url": ("2.0", "headers", True),
}


def result(name: str, value: str, where: str, body: str = BODY, **extra: Any) -> bytes:
    given: dict[str, Any] = {name: [value] if where == "multiValueHeaders" else value}
    return json.dumps({"statusCode": 200, where: given, "body": body, **extra}).encode()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("name", "value"), RESERVED, ids=[n for n, _ in RESERVED])
def test_reserved_header_never_reaches_the_client(shape: str, name: str, value: str) -> None:
    version, where, function_url = SHAPES[shape]
    for spelling in (name, name.lower(), name.upper()):
        r = from_payload(result(spelling, value, where), version, function_url)
        assert r.status == 200 and r.body == BODY.encode()
        names = [k for k, _ in r.headers]
        assert spelling.lower().encode() not in names
        remapped = (b"x-amzn-remapped-" + spelling.lower().encode(), value.encode())
        if function_url and name != "Transfer-Encoding":
            assert remapped in r.headers
        else:
            assert remapped not in r.headers and not any(
                k.startswith(b"x-amzn-remapped-") for k in names
            )


@pytest.mark.parametrize("shape", SHAPES)
def test_headers_named_by_connection_are_hop_by_hop(shape: str) -> None:
    version, where, function_url = SHAPES[shape]
    values: dict[str, str] = {"Connection": "close, X-Hop", "X-Hop": "1", "X-Kept": "2"}
    given = {k: [v] for k, v in values.items()} if where == "multiValueHeaders" else values
    r = from_payload(
        json.dumps({"statusCode": 200, where: given, "body": "x"}).encode(), version, function_url
    )
    names = [k for k, _ in r.headers]
    assert b"x-hop" not in names and b"connection" not in names
    assert (b"x-kept", b"2") in r.headers
    assert ((b"x-amzn-remapped-x-hop", b"1") in r.headers) is function_url


def test_both_spellings_of_content_length_go() -> None:
    """Mangum emits ``content-length``; serverless-wsgi emits what Flask set
    (``Content-Length``); a handler may return both."""
    doc = {
        "statusCode": 200,
        "headers": {"content-length": "3", "Content-Length": "3", "content-type": "text/plain"},
        "multiValueHeaders": {"CONTENT-LENGTH": ["3"], "Content-Length": ["3"]},
        "body": "abcdef",
    }
    for version in ("2.0", "1.0"):
        r = from_payload(json.dumps(doc).encode(), version)
        assert [k for k, _ in r.headers] == [b"content-type"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Split": "a\r\nContent-Length: 0"},
        {"X-Split": "a\nb"},
        {"X-Nul": "a\x00b"},
        {"Bad Name": "x"},
        {"Bad:Name": "x"},
        {"": "x"},
    ],
)
def test_malformed_headers_are_a_500(headers: dict[str, str]) -> None:
    """Response splitting through a header value, or a name that is not a token: API Gateway's
    500, never bytes on the wire."""
    for version in ("2.0", "1.0"):
        r = from_payload(json.dumps({"statusCode": 200, "headers": headers}).encode(), version)
        assert r.status == 500 and json.loads(r.body) == {"message": "Internal Server Error"}


def test_cookies_are_checked_too() -> None:
    doc = {"statusCode": 200, "cookies": ["a=1\r\nX-Injected: 1"]}
    assert from_payload(json.dumps(doc).encode()).status == 500


def test_own_keeps_order_and_ordinary_headers() -> None:
    headers = [(b"a", b"1"), (b"content-length", b"9"), (b"b", b"2"), (b"set-cookie", b"c=1")]
    assert framing.own(headers, remap=False) == [
        (b"a", b"1"),
        (b"b", b"2"),
        (b"set-cookie", b"c=1"),
    ]


# ---------------------------------------------------------------- over the ASGI data plane


@pytest.fixture
def shoal(tmp_path: Path) -> FakeShoal:
    s = FakeShoal(tmp_path)
    s.functions.names.add("fr")
    asyncio.run(s.start())
    return s


def _api(shoal: FakeShoal, version: str) -> str:
    apis = shoal.gateway.apis
    api = apis.create("fr", "HTTP")
    integration = apis.create_integration(api.api_id, "AWS_PROXY", FN, version, None, {})
    apis.create_route(api.api_id, "$default", f"integrations/{integration.integration_id}", {})
    apis.create_stage(
        api.api_id, "$default", auto_deploy=True, stage_variables={}, deployment_id=None, extra={}
    )
    return api.api_id


def _call(shoal: FakeShoal, path: str) -> Reply:
    return asyncio.run(asgi_request(shoal.http, "GET", path))


@pytest.mark.parametrize("endpoint", ["http-api 2.0", "http-api 1.0", "function url"])
def test_one_content_length_of_the_decoded_body(shoal: FakeShoal, endpoint: str) -> None:
    data = bytes(range(256)) * 3
    everything = {name: value for name, value in RESERVED}
    shoal.invoker.behaviour = returns(
        {
            "statusCode": 200,
            "headers": {**everything, "content-length": "5", "Content-Type": "image/png"},
            "multiValueHeaders": {k: [v] for k, v in everything.items()},
            "body": base64.b64encode(data).decode(),
            "isBase64Encoded": True,
        }
    )
    if endpoint == "function url":
        url = shoal.gateway.urls.create("fr", FN, None, "NONE", None, None)
        path = f"/lambda-url/{url.url_id}/img"
    else:
        path = f"/execute-api/{_api(shoal, endpoint.split()[-1])}/img"
    reply = _call(shoal, path)
    assert (reply.status, reply.body) == (200, data)
    assert reply.all("content-length") == [str(len(data))]
    for name, _ in RESERVED:
        if name.lower() != "content-length":
            assert reply.all(name.lower()) == []
    assert reply.header("content-type") == "image/png"
