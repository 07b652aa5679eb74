"""What the gateway adds as a proxy: the forwarded headers, the domain fields, and the
path-style prefix put back into redirects."""

from __future__ import annotations

import pytest

from shoal.gateway.events import HttpRequest, Target, build_v1, domain_of, forwarded_headers
from shoal.gateway.locations import rebase, rebased
from shoal.gateway.responses import Headers

TRACE = "Root=1-5e6722a7-cc56a0b246db7ae02d4da47e;Parent=53995c3f42cd8ad8;Sampled=0"


def test_proxy_headers_are_added_after_the_clients_own() -> None:
    headers = [("host", "127.0.0.1:9000"), ("user-agent", "curl/8")]
    assert forwarded_headers(headers, "127.0.0.1", 9000, "http", TRACE) == [
        ("host", "127.0.0.1:9000"),
        ("user-agent", "curl/8"),
        ("x-amzn-trace-id", TRACE),
        ("x-forwarded-for", "127.0.0.1"),
        ("x-forwarded-port", "9000"),
        ("x-forwarded-proto", "http"),
    ]


def test_a_clients_forwarded_for_gets_the_peer_appended_and_the_rest_is_replaced() -> None:
    headers = [
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-for", "198.51.100.1, 10.0.0.2"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-port", "443"),
        ("x-amzn-trace-id", "Root=1-00000000-000000000000000000000000"),
    ]
    out = dict(forwarded_headers(headers, "192.0.2.9", 9000, "http", TRACE))
    assert out == {
        "x-amzn-trace-id": TRACE,
        "x-forwarded-for": "203.0.113.7, 198.51.100.1, 10.0.0.2, 192.0.2.9",
        "x-forwarded-port": "9000",
        "x-forwarded-proto": "http",
    }


def test_payload_1_0_multi_value_headers_carry_them_too() -> None:
    headers = forwarded_headers(
        [("host", "h"), ("x-forwarded-for", "203.0.113.7")], "192.0.2.9", 9000, "http", TRACE
    )
    request = HttpRequest("GET", "/x", "", headers, b"", "192.0.2.9", "HTTP/1.1")
    target = Target("abc", "h", "h", "$default", "$default", "/x", {}, {}, "1", "r")
    event = build_v1(request, target, now=0)
    assert event["headers"]["x-forwarded-for"] == "203.0.113.7, 192.0.2.9"
    assert event["multiValueHeaders"]["x-forwarded-for"] == ["203.0.113.7, 192.0.2.9"]
    assert event["multiValueHeaders"]["x-amzn-trace-id"] == [TRACE]
    assert event["multiValueHeaders"]["x-forwarded-port"] == ["9000"]
    assert event["multiValueHeaders"]["x-forwarded-proto"] == ["http"]
    assert event["requestContext"]["identity"]["sourceIp"] == "192.0.2.9"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("k3v9.execute-api.localhost:9000", ("k3v9.execute-api.localhost:9000", "k3v9")),
        ("k3v9.execute-api.localhost", ("k3v9.execute-api.localhost", "k3v9")),
        ("127.0.0.1:9000", ("127.0.0.1:9000", "127")),
        ("shoal.internal", ("shoal.internal", "shoal")),
        ("[::1]:9000", ("[::1]:9000", "[::1]")),
        (None, ("abc.execute-api.localhost", "abc")),
    ],
)  # fmt: skip
def test_domain_fields_come_from_the_host(host: str | None, expected: tuple[str, str]) -> None:
    assert domain_of(host, "abc.execute-api.localhost") == expected


P = "/execute-api/abc"
H = "127.0.0.1:9000"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/login", "/execute-api/abc/login"),
        ("/login?next=%2F", "/execute-api/abc/login?next=%2F"),
        ("/", "/execute-api/abc/"),
        ("http://127.0.0.1:9000/login", "http://127.0.0.1:9000/execute-api/abc/login"),
        ("HTTP://127.0.0.1:9000", "HTTP://127.0.0.1:9000/execute-api/abc/"),
        ("http://127.0.0.1:9000?q=1", "http://127.0.0.1:9000/execute-api/abc/?q=1"),
        # Left alone: already under the prefix, another host, scheme-relative, relative.
        ("/execute-api/abc/login", "/execute-api/abc/login"),
        ("/execute-api/abc", "/execute-api/abc"),
        ("http://127.0.0.1:9000/execute-api/abc/x", "http://127.0.0.1:9000/execute-api/abc/x"),
        ("https://example.com/login", "https://example.com/login"),
        ("http://127.0.0.1:9001/login", "http://127.0.0.1:9001/login"),
        ("//example.com/login", "//example.com/login"),
        ("login", "login"),
        ("mailto:a@example.com", "mailto:a@example.com"),
    ],
)
def test_location_rebased_onto_the_path_style_prefix(location: str, expected: str) -> None:
    assert rebased(location, P, H) == expected


def test_rebase_rewrites_location_headers_only() -> None:
    headers: Headers = [(b"content-type", b"text/html"), (b"Location", b"/next")]
    rebase(headers, P, H)
    assert headers == [(b"content-type", b"text/html"), (b"Location", b"/execute-api/abc/next")]
    assert rebased("/x", P, None) == "/execute-api/abc/x"  # no Host: only paths are rebased
    assert rebased("http://h/x", P, None) == "http://h/x"
