"""``shoal serve --tls auto`` and ``--tls-cert/--tls-key``: HTTPS on the one port, as boto3, the
AWS CLI, the ``shoal`` CLI and Node reach it with the CA the server printed; plain HTTP and
TLS 1.0/1.1 refused; the CA and certificate kept across a restart."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from conftest import SHOAL, ShoalServer, create_function, start_server, unique_name

AWS = [str(Path(sys.executable).parent / "aws")]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
    srv = start_server(tmp_path_factory.mktemp("shoal-tls"), "--tls", "auto")
    yield srv
    srv.stop()


def ca_of(srv: ShoalServer) -> Path:
    return srv.data_dir / "tls" / "ca.pem"


def client(srv: ShoalServer, service: str, verify: str | bool) -> object:
    return boto3.client(
        service, endpoint_url=srv.endpoint, region_name="us-east-1", verify=verify,
        aws_access_key_id="shoal", aws_secret_access_key="shoal",
        config=Config(retries={"max_attempts": 0}),
    )  # fmt: skip


def test_endpoint_is_https_and_the_ca_is_printed(tls_server: ShoalServer) -> None:
    assert tls_server.endpoint.startswith("https://127.0.0.1:")
    ca = ca_of(tls_server)
    assert any(f"AWS_CA_BUNDLE={ca}" in line for line in tls_server.output)
    for key in ("ca-key.pem", "server-key.pem"):
        assert stat.S_IMODE((tls_server.data_dir / "tls" / key).stat().st_mode) == 0o600


def test_boto3_with_the_ca(tls_server: ShoalServer) -> None:
    lam = client(tls_server, "lambda", str(ca_of(tls_server)))
    name = create_function(lam, code="def handler(e, c):\n    return {'ok': e}\n")
    out = lam.invoke(FunctionName=name, Payload=b'"hi"')  # type: ignore[attr-defined]
    assert json.loads(out["Payload"].read()) == {"ok": "hi"}


def test_boto3_without_the_ca_refuses_the_certificate(tls_server: ShoalServer) -> None:
    from botocore.exceptions import SSLError

    lam = client(tls_server, "lambda", True)
    with pytest.raises(SSLError):
        lam.list_functions()  # type: ignore[attr-defined]


def test_aws_cli_with_ca_bundle(tls_server: ShoalServer) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
           "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    argv = [*AWS, "--endpoint-url", tls_server.endpoint, "--ca-bundle", str(ca_of(tls_server)),
            "--output", "json", "lambda", "list-functions"]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert "Functions" in json.loads(result.stdout)


def test_shoal_cli_with_aws_ca_bundle(tls_server: ShoalServer) -> None:
    lam = client(tls_server, "lambda", str(ca_of(tls_server)))
    name = create_function(lam, code="def handler(e, c):\n    print('logged over tls')\n")
    lam.invoke(FunctionName=name)["Payload"].read()  # type: ignore[attr-defined]
    env = {**os.environ, "SHOAL_ENDPOINT": tls_server.endpoint,
           "AWS_CA_BUNDLE": str(ca_of(tls_server))}  # fmt: skip
    for argv in (["function", "list"], ["logs", name]):  # boto3, then Shoal's own endpoint
        result = subprocess.run([*SHOAL, *argv], capture_output=True, text=True, timeout=120,
                                env=env)  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert "logged over tls" in result.stdout
    del env["AWS_CA_BUNDLE"]
    result = subprocess.run([*SHOAL, "logs", name], capture_output=True, text=True,
                            timeout=120, env=env)  # fmt: skip
    assert result.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in result.stderr


def test_node_fetch_through_the_gateway(tls_server: ShoalServer) -> None:
    lam = client(tls_server, "lambda", str(ca_of(tls_server)))
    name = create_function(
        lam, code="def handler(e, c):\n    return {'statusCode': 200, 'body': 'from tls'}\n"
    )
    url = lam.create_function_url_config(  # type: ignore[attr-defined]
        FunctionName=name, AuthType="NONE"
    )["FunctionUrl"]
    assert url.startswith("https://")
    script = "fetch(process.argv[1]).then(r => r.text()).then(t => console.log(t))"
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(ca_of(tls_server))}
    result = subprocess.run(["node", "-e", script, url], capture_output=True, text=True,
                            timeout=60, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "from tls"


def test_plain_http_to_the_tls_port_fails(tls_server: ShoalServer) -> None:
    plain = tls_server.endpoint.replace("https://", "http://") + "/shoal/health"
    with pytest.raises((ConnectionError, OSError)):
        with urllib.request.urlopen(plain, timeout=10) as response:
            response.read()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_old_tls_is_refused(tls_server: ShoalServer, version: ssl.TLSVersion) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(ca_of(tls_server)))
    ctx.set_ciphers("ALL:@SECLEVEL=0")  # the client offers 1.0/1.1 with what it can
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # what the test is about
        ctx.minimum_version = version
        ctx.maximum_version = version
    url = urlsplit(tls_server.endpoint)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        with pytest.raises(ssl.SSLError) as refused:
            with ctx.wrap_socket(sock, server_hostname="localhost"):
                pass
    # The server's refusal (its alert, or its hanging up on the hello), not the client's own
    # refusal to offer the version (NO_PROTOCOLS_AVAILABLE, before anything is sent).
    error = refused.value
    assert isinstance(error, ssl.SSLEOFError) or "ALERT_PROTOCOL_VERSION" in str(error), error


def test_tls_1_2_is_served(tls_server: ShoalServer) -> None:
    ctx = ssl.create_default_context(cafile=str(ca_of(tls_server)))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    url = urlsplit(tls_server.endpoint)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
            assert tls.version() == "TLSv1.2"


def test_certificate_reused_across_restart(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", "--tls", "auto")
    tls_dir = srv.data_dir / "tls"
    try:
        first = {p.name: p.read_bytes() for p in tls_dir.glob("*.pem")}
    finally:
        srv.stop()
    srv = start_server(tmp_path / "data", "--tls", "auto")
    try:
        again = {p.name: p.read_bytes() for p in tls_dir.glob("*.pem")}
        # The CA is kept; so is the server certificate, unless the names it must cover changed
        # (the environments' gateway address is the server's network slot, which another
        # server running at the same time may hold now): then it is made anew by the same CA.
        assert {k: again[k] for k in ("ca.pem", "ca-key.pem")} == {
            k: first[k] for k in ("ca.pem", "ca-key.pem")}  # fmt: skip
        if again["server.pem"] != first["server.pem"]:
            assert _names(first["server.pem"]) != _names(again["server.pem"])
        ctx = ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))
        with urllib.request.urlopen(srv.endpoint + "/shoal/health", context=ctx) as r:
            assert json.loads(r.read()) == {"status": "ok"}
    finally:
        srv.stop()
    # A new --allowed-host: a new server certificate, by the same CA.
    srv = start_server(tmp_path / "data", "--tls", "auto", "--allowed-host", "shoal.example")
    try:
        now = {p.name: p.read_bytes() for p in tls_dir.glob("*.pem")}
        assert now["ca.pem"] == first["ca.pem"] and now["server.pem"] != first["server.pem"]
    finally:
        srv.stop()


def test_given_certificate_key_and_ca(tmp_path: Path) -> None:
    """The operator's own certificate; with --tls-ca, functions trust its CA. The certificate
    names the first 16 slots' gateways (100.64.16k.1), one of which this server takes."""
    from shoal import tls

    gateways = [f"100.64.{16 * k}.1" for k in range(16)]
    files = tls.auto(tmp_path / "mine", tls.server_names("127.0.0.1", (), gateways))
    assert files.ca is not None
    srv = start_server(tmp_path / "data", "--tls-cert", str(files.cert),
                       "--tls-key", str(files.key), "--tls-ca", str(files.ca))  # fmt: skip
    try:
        assert srv.endpoint.startswith("https://")
        assert not (srv.data_dir / "tls").exists()  # nothing made
        lam = client(srv, "lambda", str(files.ca))
        code = (
            "import boto3, os\n"
            "def handler(e, c):\n"
            "    lam = boto3.client('lambda', aws_access_key_id='shoal',\n"
            "                       aws_secret_access_key='shoal')\n"
            "    return [os.environ['AWS_CA_BUNDLE'], len(lam.list_functions()['Functions'])]\n"
        )
        name = create_function(lam, name=unique_name(), code=code)
        out = lam.invoke(FunctionName=name)  # type: ignore[attr-defined]
        body = out["Payload"].read()
        assert "FunctionError" not in out, body
        assert json.loads(body) == ["/etc/shoal-ca.pem", 1]
    finally:
        srv.stop()


def _names(pem: bytes) -> set[str]:
    """The names a certificate covers (its subject alternative names)."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(name.value) for name in san}
