"""Function results -> HTTP responses, as API Gateway reads them."""

from __future__ import annotations

import base64
import json

import pytest

from shoal.gateway.responses import from_payload


def test_string_result_is_sent_as_text() -> None:
    r = from_payload(json.dumps("Hello from EFS!\nHello again :)\n").encode())
    assert r.status == 200
    assert r.body == b"Hello from EFS!\nHello again :)\n"
    assert (b"content-type", b"application/json") in r.headers


@pytest.mark.parametrize("value", [42, 1.5, True, [1, "a"], {"bird_class": "x"}, None])
def test_other_values_are_their_json_text(value: object) -> None:
    payload = json.dumps(value).encode()
    r = from_payload(payload)
    assert r.status == 200
    assert r.body == payload
    assert (b"content-type", b"application/json") in r.headers


def test_structured_response_is_applied() -> None:
    r = from_payload(
        json.dumps(
            {
                "statusCode": 201,
                "headers": {"Content-Type": "text/plain", "X-Thing": 5},
                "cookies": ["a=1; Path=/", "b=2"],
                "body": "created",
            }
        ).encode()
    )
    assert r.status == 201
    assert r.body == b"created"
    assert (b"content-type", b"text/plain") in r.headers
    assert (b"x-thing", b"5") in r.headers
    assert [v for k, v in r.headers if k == b"set-cookie"] == [b"a=1; Path=/", b"b=2"]


def test_base64_body_is_decoded() -> None:
    data = bytes(range(256))
    r = from_payload(
        json.dumps(
            {"statusCode": 200, "body": base64.b64encode(data).decode(), "isBase64Encoded": True}
        ).encode()
    )
    assert r.body == data


def test_status_only_has_empty_body() -> None:
    r = from_payload(b'{"statusCode": 204}')
    assert (r.status, r.body) == (204, b"")


@pytest.mark.parametrize(
    "doc",
    [
        {"statusCode": "abc"},
        {"statusCode": 99},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
        {"statusCode": 200, "headers": ["x"]},
    ],
)
def test_malformed_structured_response_is_500(doc: object) -> None:
    r = from_payload(json.dumps(doc).encode())
    assert r.status == 500
    assert json.loads(r.body) == {"message": "Internal Server Error"}


def test_v1_needs_a_status_code() -> None:
    assert from_payload(b'"text"', "1.0").status == 500
    assert from_payload(b'{"body": "x"}', "1.0").status == 500


def test_v1_multi_value_headers() -> None:
    r = from_payload(
        json.dumps(
            {
                "statusCode": 200,
                "headers": {"x-one": "1"},
                "multiValueHeaders": {"x-many": ["a", "b"], "x-one": ["ignored"]},
                "body": "ok",
            }
        ).encode(),
        "1.0",
    )
    assert [v for k, v in r.headers if k == b"x-many"] == [b"a", b"b"]
    assert [v for k, v in r.headers if k == b"x-one"] == [b"1"]
    assert r.body == b"ok"


def test_dict_without_status_code_is_json_in_2_0() -> None:
    payload = b'{"body": "x", "headers": {}}'
    r = from_payload(payload)
    assert (r.status, r.body) == (200, payload)
