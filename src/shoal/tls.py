"""TLS for Shoal's one port: the server's SSL context, and ``--tls auto``'s local CA.

``shoal serve --tls-cert FILE --tls-key FILE`` serves HTTPS with the operator's certificate;
``--tls auto`` makes (once) a local certificate authority and a server certificate signed by it
in ``<data dir>/tls/``, with the `cryptography` library, and uses those. The CA's certificate is
what clients trust: ``AWS_CA_BUNDLE``, ``aws --ca-bundle``, ``NODE_EXTRA_CA_CERTS``; the
environments get it too (:mod:`shoal.invocation.environ`).

Reuse. The next start reuses both. The server certificate is made anew (by the same CA, so
clients keep trusting it) when it no longer names every name the server is reached by (a new
``--host`` or ``--allowed-host``, the environments' gateway address) or expires within
:data:`RENEW_BEFORE`; the CA is made anew only when it is missing or about to expire itself.
Private keys are written 0600.

Settings: TLS 1.2 at least (1.0 and 1.1 are refused in the handshake), forward-secret AEAD
ciphers only for 1.2 (1.3's suites are all modern), no compression, no renegotiation.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# TLS 1.2's suites Mozilla's "intermediate" profile keeps: ECDHE, AES-GCM or ChaCha20-Poly1305.
CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
CA_LIFETIME = datetime.timedelta(days=3650)
CERT_LIFETIME = datetime.timedelta(days=397)  # the longest browsers accept
RENEW_BEFORE = datetime.timedelta(days=30)

# Names every server certificate of --tls auto covers: loopback, and the host names Shoal
# routes (shoal.gateway.host_routing.host_routed), region-qualified or not.
LOOPBACK = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("*.localhost", "*.execute-api.localhost", "*.lambda-url.localhost")
# Region-qualified gateway names: {id}.execute-api.{region}.localhost. A wildcard covers one
# label only, so each region is named; these are the regions AWS has (and Shoal accepts).
REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-4", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ca-central-1",
    "ca-west-1", "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-south-1", "eu-south-2", "eu-north-1", "il-central-1", "me-south-1", "me-central-1",
    "sa-east-1",
)  # fmt: skip


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # the server's certificate chain (PEM)
    key: Path  # its private key (PEM)
    ca: Path | None  # the CA clients should trust, when Shoal made it (--tls auto)


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The SSL context of the listening socket (see the module docstring for the settings)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.load_cert_chain(str(files.cert), str(files.key))
    return ctx


def server_names(host: str, allowed_hosts: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
    """Every name a ``--tls auto`` certificate must cover, in a stable order."""
    names = [*LOOPBACK, *WILDCARDS]
    for kind in ("execute-api", "lambda-url"):
        names += [f"*.{kind}.{region}.localhost" for region in REGIONS]
    for entry in [host, *allowed_hosts, *extra]:
        name = _name_of(entry)
        if name and name not in ("0.0.0.0", "::") and name not in names:
            names.append(name)
    return names


def _name_of(entry: str) -> str:
    """``name[:port]`` or ``[v6]:port`` -> the name alone, lower-cased."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        return entry[1:].partition("]")[0]
    if entry.count(":") == 1:
        return entry.partition(":")[0]
    return entry


def auto(
    directory: Path, names: list[str], now: datetime.datetime | None = None
) -> TlsFiles:
    """The local CA and a server certificate for ``names`` in ``directory``, made or reused
    (``now``: the time they are judged and made at, the clock's by default)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_path, ca_key_path = directory / "ca.pem", directory / "ca-key.pem"
    files = TlsFiles(directory / "server.pem", directory / "server-key.pem", ca_path)
    now = now or datetime.datetime.now(datetime.UTC)
    ca_cert = _load_cert(ca_path)
    if ca_cert is None or not ca_key_path.exists() or _expiring(ca_cert, now):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _make_ca(ca_key, now)
        _write_key(ca_key_path, ca_key)
        _write(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
        cert = None
    else:
        ca_key = _load_key(ca_key_path)
        cert = _load_cert(files.cert)
    if (
        cert is None
        or not files.key.exists()
        or _expiring(cert, now)
        or cert.issuer != ca_cert.subject
        or not _covers(cert, names)
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _make_server_cert(key, ca_key, ca_cert, names, now)
        _write_key(files.key, key)
        _write(files.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return files


def _make_ca(key: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Shoal local CA {os.uname()[1]}")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )


def _make_server_cert(
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    names: list[str],
    now: datetime.datetime,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CERT_LIFETIME)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _covers(cert: x509.Certificate, names: list[str]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = set(san)
    return all(_general_name(n) in have for n in names)


def _expiring(cert: x509.Certificate, now: datetime.datetime) -> bool:
    return cert.not_valid_after_utc - now < RENEW_BEFORE


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} is not an EC private key")
    return key


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(path, pem, 0o600)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``path`` whole (a new file renamed over the old), created with ``mode``."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
