"""Terraform's AWS provider makes an HTTP API under a custom domain name with an access log
(``terraform_domains/main.tf``): apply, call the API by the domain's name (``Host``), read the
access log line back, re-plan with no changes (every read answers as the provider expects),
destroy, and find nothing left behind. Runs where test_terraform runs (Terraform and the
``hashicorp/aws`` 5.100.0 mirror at /opt/tf-plugins; nothing is downloaded)."""

from __future__ import annotations

import datetime
import http.client
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_terraform import CALLER_CREDENTIALS, MIRROR, OWN_CREDENTIALS, TERRAFORM, client

from conftest import ShoalServer, start_server, wait_for

STACK = Path(__file__).parent / "terraform_domains" / "main.tf"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
DOMAIN = "api.example.internal"
CODE = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"id": event["pathParameters"]["id"],
            "stage": event["requestContext"]["stage"], "rawPath": event["rawPath"]})}
"""

pytestmark = pytest.mark.skipif(
    TERRAFORM is None or not MIRROR.is_dir(),
    reason="runs when Terraform and the hashicorp/aws provider mirror are installed",
)


def write_certificate(directory: Path, cert_id: str, name: str) -> None:
    """A self-signed certificate for ``name`` as the file-based certificate ``cert_id``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{cert_id}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{cert_id}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip


def terraform(work: Path, srv: ShoalServer, *args: str,
              check: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
    env = {
        **{k: v for k, v in os.environ.items() if k not in CALLER_CREDENTIALS},
        "TF_CLI_CONFIG_FILE": str(work / "cli.tfrc"), "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1", "TF_LOG": "DEBUG", "TF_LOG_PATH": str(work / "terraform.log"),
    }  # fmt: skip
    argv = [str(TERRAFORM), *args, "-no-color"]
    if args[0] in ("init", "apply", "plan", "destroy"):
        argv.append("-input=false")
    if args[0] in ("apply", "plan", "destroy"):
        argv += [f"-var=endpoint={srv.endpoint}", f"-var=runtime={RUNTIME}",
                 f"-var=package={work / 'fn.zip'}",
                 f"-var=credentials={srv.data_dir / 'credentials'}"]  # fmt: skip
    proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        log = (work / "terraform.log").read_text()[-20000:]
        pytest.fail(f"terraform {args[0]} failed ({proc.returncode}):\n{proc.stdout}\n"
                    f"{proc.stderr}\n--- end of the provider's log ---\n{log}")  # fmt: skip
    return proc


def get(srv: ShoalServer, path: str) -> tuple[int, dict[str, Any]]:
    """GET ``path`` of the domain: Shoal's port, the domain's name as Host."""
    parts = urlsplit(srv.endpoint)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.request("GET", path, headers={"Host": DOMAIN})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def test_domain_mapping_and_access_log(tmp_path: Path) -> None:
    work = tmp_path / "stack"
    work.mkdir()
    (work / "main.tf").write_text(STACK.read_text())
    (work / "cli.tfrc").write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n'
    )
    with zipfile.ZipFile(work / "fn.zip", "w") as zf:
        zf.writestr("app.py", CODE)
    srv = start_server(tmp_path / "data", execution_role=False, env=OWN_CREDENTIALS)
    try:
        write_certificate(srv.data_dir / "certificates", "example-internal", DOMAIN)
        terraform(work, srv, "init")
        terraform(work, srv, "apply", "-auto-approve")
        status, body = get(srv, "/v1/items/42")
        assert status == 200, body
        assert body == {"id": "42", "stage": "prod", "rawPath": "/v1/items/42"}
        logs = client(srv, "logs")

        def lines() -> list[dict[str, Any]]:
            events = logs.filter_log_events(logGroupName="/tf/api-access")["events"]
            return [json.loads(e["message"]) for e in events]

        (line,) = wait_for(lines)
        assert (line["routeKey"], line["status"], line["domain"], line["basePath"]) == (
            "GET /items/{id}", "200", DOMAIN, "v1")
        plan = terraform(work, srv, "plan", "-detailed-exitcode", check=False)
        assert plan.returncode == 0, plan.stdout + plan.stderr
        terraform(work, srv, "destroy", "-auto-approve")
        apigw = client(srv, "apigatewayv2")
        assert apigw.get_domain_names()["Items"] == []
        assert apigw.get_apis()["Items"] == []
        assert get(srv, "/v1/items/42")[0] == 403  # the name is no longer served
    finally:
        srv.stop()
