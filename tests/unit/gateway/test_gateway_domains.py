"""Custom domains without a server: the host map's longest-match routing, the registry's
checks (names, mapping keys, conflicts, reserved names), certificates' name coverage."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shoal.errors import AwsError
from shoal.gateway.certificates import covers
from shoal.gateway.domain_routing import MAPPED, DomainRoutes
from shoal.gateway.domains import DomainRegistry
from shoal.store.sqlite import Store


def scope(host: bytes, path: str) -> dict[str, Any]:
    return {"type": "http", "path": path, "raw_path": path.encode(), "headers": [(b"host", host)]}


@pytest.fixture
def registry(tmp_path: Path) -> tuple[DomainRegistry, DomainRoutes]:
    routes = DomainRoutes()
    stages = {("api1", "$default"), ("api1", "prod"), ("api2", "prod")}

    def api_stage(api_id: str, stage: str, region: str) -> None:
        if (api_id, stage) not in stages:
            raise AwsError("NotFoundException", f"Invalid stage identifier specified {stage}")

    reg: DomainRegistry

    def changed() -> None:
        routes.publish(reg.all_domains())

    own = {"127.0.0.1", "shoal.internal", "api.corp.internal"}
    reg = DomainRegistry(Store(tmp_path / "s.db"), lambda: own, api_stage, changed)
    reg.create("API.Example.Internal", "us-east-1", "c", {}, None, None, {})
    return reg, routes


def test_longest_mapping_key_wins_by_whole_segments(registry: Any) -> None:
    reg, routes = registry
    for api, stage, key in (("api1", "$default", None), ("api1", "prod", "v1"),
                            ("api2", "prod", "/v1/orders/")):  # fmt: skip
        reg.create_mapping("api.example.internal", "us-east-1", api, stage, key)
    cases = {
        "/v1/orders/7": ("api2", "prod", "v1/orders", "/7"),
        "/v1/orders": ("api2", "prod", "v1/orders", "/"),
        "/v1/x": ("api1", "prod", "v1", "/x"),
        "/v1": ("api1", "prod", "v1", "/"),
        "/v1orders": ("api1", "$default", "", "/v1orders"),
        "/": ("api1", "$default", "", "/"),
    }
    for path, (api, stage, key, route_path) in cases.items():
        routed = routes.routed(scope(b"api.example.internal:8443", path))
        mapped = routed[MAPPED]
        assert (mapped.api_id, mapped.stage, mapped.key, mapped.route_path) == (
            api, stage, key, route_path), path
        assert mapped.raw_path == path
        assert routed["path"] == f"/execute-api/{api}{route_path}"
    assert routes.routed(scope(b"API.example.internal.:443", "/v1/x"))[MAPPED].key == "v1"
    assert routes.routed(scope(b"other.example.internal", "/")) is None
    assert routes.routed(scope(b"127.0.0.1:9000", "/")) is None


def test_no_root_mapping_is_not_found(registry: Any) -> None:
    reg, routes = registry
    reg.create_mapping("api.example.internal", "us-east-1", "api1", "prod", "v1")
    routed = routes.routed(scope(b"api.example.internal", "/v2/x"))
    assert routed[MAPPED] is None and routed["path"] == "/execute-api/"


def test_registry_checks(registry: Any) -> None:
    reg, _ = registry
    def code(fn: Any, *args: Any) -> str:
        with pytest.raises(AwsError) as e:
            fn(*args)
        return e.value.code

    assert code(reg.create, "api.example.internal", "eu-west-1", "c", {}, None, None, {}) == (
        "ConflictException")  # unique across regions: a Host names no region
    for name in ("shoal.internal", "x.localhost", "not a name", "10.0.0.1", "*.internal",
                 "*.corp.internal", "*.localhost", "a.*.example.internal"):
        assert code(reg.create, name, "us-east-1", "c", {}, None, None, {}) == (
            "BadRequestException"), name
    assert code(reg.get, "api.example.internal", "eu-west-1") == "NotFoundException"
    reg.create_mapping("api.example.internal", "us-east-1", "api1", "prod", "v1")
    assert code(reg.create_mapping, "api.example.internal", "us-east-1", "api2", "prod",
                "v1") == "ConflictException"
    assert code(reg.create_mapping, "api.example.internal", "us-east-1", "api1", "nope",
                "v2") == "NotFoundException"
    assert code(reg.create_mapping, "api.example.internal", "us-east-1", "api1", "prod",
                "a b") == "BadRequestException"
    reg.forget_api("api1")
    assert reg.get("api.example.internal", "us-east-1").mappings == {}


def test_registry_survives_a_reload(registry: Any, tmp_path: Path) -> None:
    reg, _ = registry
    reg.create_mapping("api.example.internal", "us-east-1", "api2", "prod", "v1")
    routes = DomainRoutes()
    again = DomainRegistry(Store(tmp_path / "s.db"), set, lambda *a: None,
                           lambda: routes.publish(again.all_domains()))  # fmt: skip
    again.load()
    assert routes.routed(scope(b"api.example.internal", "/v1/z"))[MAPPED].api_id == "api2"


def cert(*names: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip


def test_certificate_coverage() -> None:
    assert covers(cert("api.example.internal"), "api.example.internal")
    assert not covers(cert("api.example.internal"), "www.example.internal")
    wildcard = cert("*.example.internal")
    assert covers(wildcard, "api.example.internal")
    assert not covers(wildcard, "a.b.example.internal")  # one label only
    assert not covers(wildcard, "example.internal")


def test_wildcard_domain_serves_one_label_down(registry: Any) -> None:
    reg, routes = registry
    reg.create("*.example.internal", "us-east-1", "c", {}, None, None, {})
    reg.create_mapping("*.example.internal", "us-east-1", "api2", "prod", None)
    reg.create_mapping("api.example.internal", "us-east-1", "api1", "prod", None)
    assert routes.routed(scope(b"shop.example.internal", "/x"))[MAPPED].api_id == "api2"
    assert routes.routed(scope(b"api.example.internal", "/x"))[MAPPED].api_id == "api1"
    assert routes.routed(scope(b"a.b.example.internal", "/x")) is None  # one label only
    assert routes.routed(scope(b"example.internal", "/x")) is None


def test_a_name_shoal_serves_is_never_routed(tmp_path: Path) -> None:
    """A domain made before a restart added the name to --allowed-host stays unrouted."""
    routes = DomainRoutes()
    reg = DomainRegistry(Store(tmp_path / "s.db"), set, lambda *a: None,
                         lambda: routes.publish(reg.all_domains(), ["api.example.internal"]))
    reg.create("api.example.internal", "us-east-1", "c", {}, None, None, {})
    reg.create_mapping("api.example.internal", "us-east-1", "api1", "prod", None)
    assert routes.routed(scope(b"api.example.internal", "/")) is None
