"""``shoal.tls.auto``: what it makes, what it keeps, and when it makes a certificate anew."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

from cryptography import x509

from shoal import tls


def san(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in ext.get_values_for_type(x509.DNSName)} | {
        str(v) for v in ext.get_values_for_type(x509.IPAddress)
    }


def contents(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_names_cover_loopback_gateway_hosts_and_the_configured_ones() -> None:
    names = tls.server_names("0.0.0.0", ("shoal.example:8443", "[fd00::1]:9000"), ["100.64.0.1"])
    for name in ("localhost", "127.0.0.1", "::1", "*.localhost", "*.execute-api.localhost",
                 "*.lambda-url.localhost", "*.execute-api.eu-west-1.localhost",
                 "*.lambda-url.us-east-1.localhost", "shoal.example", "fd00::1", "100.64.0.1"):
        assert name in names, name  # fmt: skip
    assert "0.0.0.0" not in names and len(names) == len(set(names))


def test_made_once_with_private_keys_then_reused(tmp_path: Path) -> None:
    names = tls.server_names("127.0.0.1", ())
    files = tls.auto(tmp_path, names)
    assert files.ca == tmp_path / "ca.pem"
    for key in ("ca-key.pem", "server-key.pem"):
        assert stat.S_IMODE((tmp_path / key).stat().st_mode) == 0o600
    assert {"localhost", "127.0.0.1", "::1", "*.lambda-url.localhost"} <= san(files.cert)
    first = contents(tmp_path)
    tls.auto(tmp_path, names)
    assert contents(tmp_path) == first
    ctx = tls.server_context(files)  # the pair loads, and old versions are off
    assert ctx.minimum_version.name == "TLSv1_2"


def test_a_new_name_makes_a_new_certificate_by_the_same_ca(tmp_path: Path) -> None:
    tls.auto(tmp_path, ["localhost"])
    first = contents(tmp_path)
    tls.auto(tmp_path, ["localhost", "10.1.2.3"])
    now = contents(tmp_path)
    assert now["ca.pem"] == first["ca.pem"] and now["ca-key.pem"] == first["ca-key.pem"]
    assert now["server.pem"] != first["server.pem"]
    assert str(ipaddress.ip_address("10.1.2.3")) in san(tmp_path / "server.pem")


def test_a_certificate_about_to_expire_is_renewed(tmp_path: Path) -> None:
    long_ago = datetime.datetime.now(datetime.UTC) - tls.CERT_LIFETIME + datetime.timedelta(10)
    tls.auto(tmp_path, ["localhost"], now=long_ago)  # expires in 10 days
    old = contents(tmp_path)
    tls.auto(tmp_path, ["localhost"])
    new = contents(tmp_path)
    assert new["ca.pem"] == old["ca.pem"] and new["server.pem"] != old["server.pem"]
    cert = x509.load_pem_x509_certificate(new["server.pem"])
    assert cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > tls.RENEW_BEFORE


def test_a_missing_ca_key_makes_everything_anew(tmp_path: Path) -> None:
    tls.auto(tmp_path, ["localhost"])
    old = contents(tmp_path)
    (tmp_path / "ca-key.pem").unlink()
    tls.auto(tmp_path, ["localhost"])
    new = contents(tmp_path)
    assert new["ca.pem"] != old["ca.pem"] and new["server.pem"] != old["server.pem"]
