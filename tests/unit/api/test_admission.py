"""Request admission, as a table: which Host and Origin headers the control plane and the
gateway admit, and the AWS-shaped 403 for the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shoal.api.admission import (
    BAD_HOST,
    CROSS_ORIGIN,
    CROSS_SITE,
    Admission,
    name_of,
    refused,
)
from shoal.config import Settings

PORT = 9000


def admission(host: str = "127.0.0.1", allowed: tuple[str, ...] = ()) -> Admission:
    return Admission.for_settings(
        Settings(data_dir=Path("/nonexistent"), host=host, port=PORT, allowed_hosts=allowed)
    )


def headers(**given: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in given.items()]


# What boto3, the AWS CLI and curl send (no Origin), and what a browser on Shoal's own page sends.
ADMITTED = [
    headers(host=f"127.0.0.1:{PORT}", user_agent="Boto3/1.40", content_type="application/json"),
    headers(host=f"localhost:{PORT}"),
    headers(host=f"LOCALHOST:{PORT}"),
    headers(host=f"[::1]:{PORT}"),
    headers(host="127.0.0.1"),  # port 80 elided, or a port-forwarded name: the name decides
    headers(host="127.0.0.1:8080"),
    headers(user_agent="HTTP/1.0 tool"),  # no Host at all: not a browser
    headers(host=f"127.0.0.1:{PORT}", origin=f"http://127.0.0.1:{PORT}"),
    headers(host=f"localhost:{PORT}", origin=f"http://localhost:{PORT}"),
    headers(host=f"[::1]:{PORT}", origin=f"http://[::1]:{PORT}"),
    headers(host=f"127.0.0.1:{PORT}", sec_fetch_site="same-origin"),
    headers(host=f"127.0.0.1:{PORT}", sec_fetch_site="none"),  # typed in the address bar
]

REFUSED = [
    (headers(host=f"evil.example:{PORT}"), BAD_HOST),  # DNS rebinding
    (headers(host="evil.example"), BAD_HOST),
    (headers(host=f"127.0.0.1.evil.example:{PORT}"), BAD_HOST),
    (headers(host=f"localhost.:{PORT}"), BAD_HOST),
    (headers(host=f"abc.execute-api.localhost:{PORT}"), BAD_HOST),  # gateway names: gateway only
    (headers(host=f"127.0.0.1:{PORT}", origin="http://evil.example"), CROSS_ORIGIN),
    (headers(host=f"127.0.0.1:{PORT}", origin="null"), CROSS_ORIGIN),
    (headers(host=f"127.0.0.1:{PORT}", origin="http://127.0.0.1:8000"), CROSS_ORIGIN),  # other port
    (headers(host=f"127.0.0.1:{PORT}", origin=f"https://127.0.0.1:{PORT}"), CROSS_ORIGIN),
    (headers(host=f"127.0.0.1:{PORT}", origin=f"http://localhost:{PORT}.evil"), CROSS_ORIGIN),
    (headers(host=f"127.0.0.1:{PORT}", sec_fetch_site="cross-site"), CROSS_SITE),
    (headers(host=f"127.0.0.1:{PORT}", sec_fetch_site="same-site"), CROSS_SITE),
    # Two Host headers, one of them foreign: refused, whichever a parser would keep.
    (headers(host=f"127.0.0.1:{PORT}") + headers(host="evil.example"), BAD_HOST),
]


@pytest.mark.parametrize("given", ADMITTED)
def test_admitted_on_the_control_plane(given: list[tuple[bytes, bytes]]) -> None:
    assert admission().refusal(given, gateway=False) is None


@pytest.mark.parametrize(("given", "reason"), REFUSED)
def test_refused_on_the_control_plane(given: list[tuple[bytes, bytes]], reason: str) -> None:
    assert admission().refusal(given, gateway=False) == reason


@pytest.mark.parametrize(
    "given",
    [
        headers(host=f"127.0.0.1:{PORT}", origin="http://evil.example"),  # CORS is the API's
        headers(host=f"127.0.0.1:{PORT}", origin="null", sec_fetch_site="cross-site"),
        headers(host=f"k3v9x0q2ab.execute-api.localhost:{PORT}", origin="https://app.example"),
        headers(host=f"abcdef.lambda-url.localhost:{PORT}"),
    ],
)
def test_gateway_ignores_origin_and_serves_its_host_names(
    given: list[tuple[bytes, bytes]],
) -> None:
    assert admission().refusal(given, gateway=True) is None


def test_gateway_still_refuses_a_foreign_host() -> None:
    assert admission().refusal(headers(host=f"evil.example:{PORT}"), gateway=True) == BAD_HOST


def test_configured_host_and_allowed_hosts() -> None:
    a = admission(host="192.168.1.5", allowed=("shoal.internal", "api.example:8443", "[fe80::1]"))
    for host, origin in [
        (f"192.168.1.5:{PORT}", f"http://192.168.1.5:{PORT}"),
        (f"shoal.internal:{PORT}", f"http://shoal.internal:{PORT}"),
        ("shoal.internal", "https://shoal.internal"),  # behind a TLS proxy
        ("api.example:8443", "https://api.example:8443"),
        (f"[fe80::1]:{PORT}", f"http://[fe80::1]:{PORT}"),
    ]:
        assert a.refusal(headers(host=host, origin=origin), gateway=False) is None, host
    assert a.refusal(headers(host="other.internal"), gateway=False) == BAD_HOST
    assert a.refusal(headers(origin="https://api.example"), gateway=False) == CROSS_ORIGIN


def test_listening_on_every_address_serves_only_named_hosts() -> None:
    a = admission(host="0.0.0.0")
    assert a.refusal(headers(host=f"0.0.0.0:{PORT}"), gateway=False) == BAD_HOST
    assert a.refusal(headers(host=f"127.0.0.1:{PORT}"), gateway=False) is None


def test_ipv6_configured_host() -> None:
    a = admission(host="::1")
    assert a.refusal(headers(host=f"[::1]:{PORT}", origin=f"http://[::1]:{PORT}"), False) is None


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (b"127.0.0.1:9000", b"127.0.0.1"),
        (b"[::1]:9000", b"[::1]"),
        (b"Example.COM", b"example.com"),
    ],
)
def test_name_of(value: bytes, name: bytes) -> None:
    assert name_of(value) == name


@pytest.mark.parametrize(
    ("service", "body"),
    [
        ("lambda", {"Type": "User", "Message": CROSS_ORIGIN}),
        ("efs", {"ErrorCode": "AccessDeniedException", "Message": CROSS_ORIGIN}),
        ("apigatewayv2", {"message": CROSS_ORIGIN}),
        (None, {"message": CROSS_ORIGIN}),
    ],
)
def test_refusal_is_in_the_service_shape(service: str | None, body: dict[str, str]) -> None:
    response = refused(CROSS_ORIGIN, service, gateway=False)
    assert response.status == 403
    assert ("x-amzn-ErrorType", "AccessDeniedException") in response.headers
    assert json.loads(response.body) == body


def test_gateway_refusal_is_api_gateways_forbidden() -> None:
    response = refused(BAD_HOST, None, gateway=True)
    assert response.status == 403
    assert ("x-amzn-ErrorType", "ForbiddenException") in response.headers
    assert json.loads(response.body) == {"message": f"Forbidden: {BAD_HOST}"}


def test_under_tls_shoals_own_origin_is_https() -> None:
    tls = Admission.for_settings(
        Settings(data_dir=Path("/nonexistent"), port=PORT, tls_cert=Path("c"), tls_key=Path("k"))
    )
    own = headers(host=f"127.0.0.1:{PORT}", origin=f"https://127.0.0.1:{PORT}")
    assert tls.refusal(own, gateway=False) is None
    plain = headers(host=f"127.0.0.1:{PORT}", origin=f"http://127.0.0.1:{PORT}")
    assert tls.refusal(plain, gateway=False) == CROSS_ORIGIN


def test_the_environments_gateway_address_is_served_once_allowed() -> None:
    settings = Settings(data_dir=Path("/nonexistent"), port=PORT)
    gateway = headers(host=f"100.64.0.1:{PORT}")
    assert Admission.for_settings(settings).refusal(gateway, gateway=False) == BAD_HOST
    allowed = Admission.for_settings(settings, (f"100.64.0.1:{PORT}",))
    assert allowed.refusal(gateway, gateway=False) is None
