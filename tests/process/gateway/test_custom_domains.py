"""Custom domain names against a real ``shoal serve --tls auto``: ``api.example.internal``'s
certificate, signed by a CA made here with `cryptography`, is put in ``<data>/certificates/``;
boto3 and the AWS CLI v2 manage the domain and its API mappings; curl (``--resolve``),
httpx (SNI ``server_hostname``) and Node's ``fetch`` reach the mapped APIs by the domain's
name, verifying its certificate against that CA."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import ROOT, ROOT_KEYS, SHOAL, ShoalServer, create_function, start_server, unique_name

DOMAIN = "api.example.internal"
CERT_ID = "example-internal"
ECHO = """
import json

def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"fn": context.function_name, "rawPath": event["rawPath"],
                                "routeKey": event["routeKey"],
                                "stage": event["requestContext"]["stage"],
                                "domainName": event["requestContext"]["domainName"],
                                "domainPrefix": event["requestContext"]["domainPrefix"]})}
"""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca_and_cert(directory: Path, names: list[str], cert_id: str) -> Path:
    """A CA (``directory/ca.pem``) and a certificate for ``names`` it signed, written as the
    certificate ``cert_id`` of ``directory/certificates``; the CA's path."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("Test CA")).issuer_name(_name("Test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    certs = directory / "certificates"
    certs.mkdir(parents=True, exist_ok=True)
    (certs / f"{cert_id}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (certs / f"{cert_id}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return ca_path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("shoal-domains")
    ca = make_ca_and_cert(tmp_path_factory.mktemp("domain-ca"), [DOMAIN], CERT_ID)
    srv = start_server(data, "--tls", "auto")
    try:
        shutil.copytree(ca.parent / "certificates", data / "certificates", dirs_exist_ok=True)
        verify = str(data / "tls" / "ca.pem")
        yield {"server": srv, "ca": ca, "apigw": client(srv, "apigatewayv2", verify),
               "lambda": client(srv, "lambda", verify), "verify": verify}  # fmt: skip
    finally:
        srv.stop()


def client(srv: ShoalServer, service: str, verify: str) -> Any:
    return boto3.client(
        service, endpoint_url=srv.endpoint, region_name="us-east-1", verify=verify,
        aws_access_key_id="shoal", aws_secret_access_key="shoal",
        config=Config(retries={"max_attempts": 0}, read_timeout=120),
    )  # fmt: skip


def env_keys() -> dict[str, str]:
    return {**os.environ, **ROOT_KEYS}


def cert_arn(cert_id: str = CERT_ID) -> str:
    return f"arn:aws:acm:us-east-1:123456789012:certificate/{cert_id}"


def make_api(setup: dict[str, Any], function_prefix: str) -> tuple[str, str]:
    """An HTTP API with ``GET /items/{id}`` and ``$default`` to a new echo function, and the
    stages ``$default`` and ``prod``; (api id, function name)."""
    apigw, lam = setup["apigw"], setup["lambda"]
    name = create_function(lam, unique_name(function_prefix), ECHO)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api = apigw.create_api(Name=unique_name("api"), ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                     PayloadFormatVersion="2.0")["IntegrationId"]  # fmt: skip
    for key in ("GET /items/{id}", "$default"):
        apigw.create_route(ApiId=api, RouteKey=key, Target=f"integrations/{integ}")
    apigw.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    apigw.create_stage(ApiId=api, StageName="prod", AutoDeploy=True)
    return api, name


@pytest.fixture(scope="module")
def domain(setup: dict[str, Any]) -> dict[str, Any]:
    """api.example.internal: its root -> API A $default, v1 -> API A prod,
    v1/orders -> API B prod (A's execute-api endpoint disabled: the domain still serves it)."""
    apigw = setup["apigw"]
    api_a, fn_a = make_api(setup, "dom-a")
    api_b, fn_b = make_api(setup, "dom-b")
    apigw.update_api(ApiId=api_a, DisableExecuteApiEndpoint=True)
    created = apigw.create_domain_name(
        DomainName=DOMAIN,
        DomainNameConfigurations=[{"CertificateArn": cert_arn(), "EndpointType": "REGIONAL"}],
        Tags={"team": "web"},
    )
    root = apigw.create_api_mapping(DomainName=DOMAIN, ApiId=api_a, Stage="$default")
    v1 = apigw.create_api_mapping(DomainName=DOMAIN, ApiId=api_a, Stage="prod",
                                  ApiMappingKey="v1")  # fmt: skip
    orders = apigw.create_api_mapping(DomainName=DOMAIN, ApiId=api_b, Stage="prod",
                                      ApiMappingKey="v1/orders")  # fmt: skip
    return {"created": created, "a": api_a, "b": api_b, "fn_a": fn_a, "fn_b": fn_b,
            "mappings": [root, v1, orders]}  # fmt: skip


def port_of(srv: ShoalServer) -> int:
    port = urlsplit(srv.endpoint).port
    assert port is not None
    return port


def test_create_and_get_domain_name_shapes(setup: dict[str, Any], domain: dict[str, Any]) -> None:
    created = domain["created"]
    assert created["DomainName"] == DOMAIN
    assert created["DomainNameArn"] == f"arn:aws:apigateway:us-east-1::/domainnames/{DOMAIN}"
    assert created["ApiMappingSelectionExpression"] == "$request.basepath"
    config = created["DomainNameConfigurations"][0]
    assert config["CertificateArn"] == cert_arn()
    assert config["DomainNameStatus"] == "AVAILABLE"
    assert config["EndpointType"] == "REGIONAL" and config["SecurityPolicy"] == "TLS_1_2"
    assert config["CertificateName"] == CERT_ID
    apigw = setup["apigw"]
    got = apigw.get_domain_name(DomainName=DOMAIN)
    assert got["Tags"] == {"team": "web"}
    assert got["DomainNameConfigurations"][0]["CertificateArn"] == cert_arn()
    assert DOMAIN in [d["DomainName"] for d in apigw.get_domain_names()["Items"]]
    mappings = apigw.get_api_mappings(DomainName=DOMAIN)["Items"]
    assert sorted(m.get("ApiMappingKey", "") for m in mappings) == ["", "v1", "v1/orders"]
    v1 = domain["mappings"][1]
    one = apigw.get_api_mapping(DomainName=DOMAIN, ApiMappingId=v1["ApiMappingId"])
    assert (one["ApiId"], one["Stage"], one["ApiMappingKey"]) == (domain["a"], "prod", "v1")


def test_errors_are_api_gateways(setup: dict[str, Any], domain: dict[str, Any]) -> None:
    apigw = setup["apigw"]
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("create_domain_name", {"DomainName": DOMAIN, "DomainNameConfigurations": [
            {"CertificateArn": cert_arn()}]}, "ConflictException"),
        ("create_domain_name", {"DomainName": "other.example.internal",
                                "DomainNameConfigurations": [{"CertificateArn": cert_arn()}]},
         "BadRequestException"),  # the certificate does not name it
        ("create_domain_name", {"DomainName": "x.example.internal", "DomainNameConfigurations": [
            {"CertificateArn": cert_arn("missing")}]}, "BadRequestException"),
        ("create_domain_name", {"DomainName": "localhost", "DomainNameConfigurations": [
            {"CertificateArn": cert_arn()}]}, "BadRequestException"),
        ("get_domain_name", {"DomainName": "nope.example.internal"}, "NotFoundException"),
        ("create_api_mapping", {"DomainName": DOMAIN, "ApiId": domain["a"], "Stage": "prod",
                                "ApiMappingKey": "v1"}, "ConflictException"),
        ("create_api_mapping", {"DomainName": DOMAIN, "ApiId": domain["a"], "Stage": "nostage",
                                "ApiMappingKey": "v2"}, "NotFoundException"),
        ("create_api_mapping", {"DomainName": DOMAIN, "ApiId": "nosuchapi1", "Stage": "prod",
                                "ApiMappingKey": "v3"}, "NotFoundException"),
        ("create_api_mapping", {"DomainName": DOMAIN, "ApiId": domain["a"], "Stage": "prod",
                                "ApiMappingKey": "bad key!"}, "BadRequestException"),
        ("get_api_mapping", {"DomainName": DOMAIN, "ApiMappingId": "zzzzzz"},
         "NotFoundException"),
    ]
    ws = apigw.create_api(Name=unique_name("ws"), ProtocolType="WEBSOCKET",
                          RouteSelectionExpression="$request.body.action")["ApiId"]
    apigw.create_stage(ApiId=ws, StageName="prod")
    cases.append(("create_api_mapping", {"DomainName": DOMAIN, "ApiId": ws, "Stage": "prod",
                                         "ApiMappingKey": "ws"}, "BadRequestException"))
    for op, params, code in cases:
        with pytest.raises(ClientError) as e:
            getattr(apigw, op)(**params)
        assert e.value.response["Error"]["Code"] == code, (op, params)
    # Another region does not see the domain.
    other = boto3.client(
        "apigatewayv2", endpoint_url=setup["server"].endpoint, region_name="eu-west-1",
        verify=setup["verify"], aws_access_key_id="shoal", aws_secret_access_key="shoal",
    )  # fmt: skip
    with pytest.raises(ClientError) as e:
        other.get_domain_name(DomainName=DOMAIN)
    assert e.value.response["Error"]["Code"] == "NotFoundException"


def fetch(setup: dict[str, Any], path: str) -> httpx.Response:
    """GET ``https://api.example.internal:PORT{path}``, connected to 127.0.0.1 with SNI and
    the certificate checked against the domain's CA."""
    port = port_of(setup["server"])
    context = ssl.create_default_context(cafile=str(setup["ca"]))
    with httpx.Client(verify=context, timeout=60) as c:
        return c.get(f"https://127.0.0.1:{port}{path}",
                     headers={"host": f"{DOMAIN}:{port}"},
                     extensions={"sni_hostname": DOMAIN})  # fmt: skip


def test_longest_mapping_wins_and_its_key_is_stripped(setup: dict[str, Any],
                                                      domain: dict[str, Any]) -> None:  # fmt: skip
    port = port_of(setup["server"])
    r = fetch(setup, "/v1/orders/items/7")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fn"] == domain["fn_b"] and body["routeKey"] == "GET /items/{id}"
    assert body["stage"] == "prod" and body["rawPath"] == "/v1/orders/items/7"
    assert body["domainName"] == f"{DOMAIN}:{port}" and body["domainPrefix"] == "api"
    r = fetch(setup, "/v1/items/8")
    assert r.status_code == 200
    assert (r.json()["fn"], r.json()["stage"], r.json()["routeKey"]) == (
        domain["fn_a"], "prod", "GET /items/{id}")
    r = fetch(setup, "/items/9")  # the root mapping: API A's $default stage
    assert (r.json()["fn"], r.json()["stage"], r.json()["routeKey"]) == (
        domain["fn_a"], "$default", "GET /items/{id}")
    r = fetch(setup, "/v1orders/items/9")  # not the v1 mapping: a key matches whole segments
    assert r.json()["stage"] == "$default" and r.json()["routeKey"] == "$default"
    # API A's own endpoint is disabled; the domain still serves it.
    endpoint = setup["apigw"].get_api(ApiId=domain["a"])["ApiEndpoint"]
    with httpx.Client(verify=ssl.create_default_context(cafile=setup["verify"]), timeout=60) as c:
        assert c.get(endpoint + "/items/1").status_code == 404


def test_sni_picks_the_domains_certificate(setup: dict[str, Any], domain: dict[str, Any]) -> None:
    port = port_of(setup["server"])
    context = ssl.create_default_context(cafile=str(setup["ca"]))
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with context.wrap_socket(raw, server_hostname=DOMAIN) as tls_sock:
            cert = tls_sock.getpeercert()
    assert ("DNS", DOMAIN) in cert["subjectAltName"]
    # Any other name gets the server's own certificate, which the domain's CA did not sign.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname="localhost").close()


def test_curl_with_resolve(setup: dict[str, Any], domain: dict[str, Any]) -> None:
    port = port_of(setup["server"])
    out = subprocess.run(
        ["curl", "-sS", "--fail", "--resolve", f"{DOMAIN}:{port}:127.0.0.1", "--cacert",
         str(setup["ca"]), f"https://{DOMAIN}:{port}/v1/orders/items/42"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["fn"] == domain["fn_b"]
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--resolve",
         f"{DOMAIN}:{port}:127.0.0.1", "--cacert", str(setup["ca"]),
         f"https://{DOMAIN}:{port}/v1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.stdout == "200"  # /v1 alone: API A prod's $default route at "/"


NODE_FETCH = """
const dns = require("dns");
const [domain, port] = [process.argv[2], process.argv[3]];
const lookup = dns.lookup;
dns.lookup = (host, opts, cb) => host === domain
  ? (typeof opts === "function" ? opts : cb)(null, opts && opts.all
      ? [{address: "127.0.0.1", family: 4}] : "127.0.0.1", 4)
  : lookup(host, opts, cb);
fetch(`https://${domain}:${port}/v1/orders/items/5`).then(async r => {
  console.log(JSON.stringify({status: r.status, body: await r.json()}));
}).catch(e => { console.error(e, e.cause); process.exit(1); });
"""


def test_node_fetch(setup: dict[str, Any], domain: dict[str, Any], tmp_path: Path) -> None:
    script = tmp_path / "fetch.js"
    script.write_text(NODE_FETCH)
    port = port_of(setup["server"])
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(setup["ca"])}
    out = subprocess.run(["node", str(script), DOMAIN, str(port)], capture_output=True,
                         text=True, timeout=120, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["status"] == 200 and answer["body"]["fn"] == domain["fn_b"]


def test_cli_v2_manages_mappings(setup: dict[str, Any], domain: dict[str, Any]) -> None:
    srv = setup["server"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CA_BUNDLE": setup["verify"]}  # fmt: skip
    base = ["/usr/bin/aws", "--endpoint-url", srv.endpoint, "--output", "json", "apigatewayv2"]

    def aws(*args: str) -> Any:
        out = subprocess.run([*base, *args], capture_output=True, text=True, timeout=120,
                             env=env)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else None

    made = aws("create-api-mapping", "--domain-name", DOMAIN, "--api-id", domain["b"],
               "--stage", "$default", "--api-mapping-key", "beta")  # fmt: skip
    assert made["ApiMappingKey"] == "beta" and made["Stage"] == "$default"
    assert fetch(setup, "/beta/items/3").json()["fn"] == domain["fn_b"]
    moved = aws("update-api-mapping", "--domain-name", DOMAIN, "--api-mapping-id",
                made["ApiMappingId"], "--api-id", domain["a"], "--api-mapping-key", "gamma")
    assert moved["ApiMappingKey"] == "gamma" and moved["ApiId"] == domain["a"]
    assert fetch(setup, "/gamma/items/3").json()["fn"] == domain["fn_a"]
    assert fetch(setup, "/beta/items/3").json()["routeKey"] == "$default"  # the root's now
    listed = aws("get-domain-names")["Items"]
    assert DOMAIN in [d["DomainName"] for d in listed]
    aws("delete-api-mapping", "--domain-name", DOMAIN, "--api-mapping-id", made["ApiMappingId"])
    keys = [m.get("ApiMappingKey", "") for m in aws("get-api-mappings", "--domain-name",
                                                     DOMAIN)["Items"]]  # fmt: skip
    assert "gamma" not in keys


def test_delete_domain_stops_serving(setup: dict[str, Any], tmp_path: Path) -> None:
    apigw = setup["apigw"]
    name = "tmp.example.internal"
    ca = make_ca_and_cert(tmp_path, [name], "tmp-cert")
    shutil.copy(tmp_path / "certificates" / "tmp-cert.pem",
                setup["server"].data_dir / "certificates")
    shutil.copy(tmp_path / "certificates" / "tmp-cert.key",
                setup["server"].data_dir / "certificates")
    api, _ = make_api(setup, "dom-t")
    # As the README shows it: the AWS CLI v2's shorthand for the configuration.
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CA_BUNDLE": setup["verify"]}  # fmt: skip
    for args in (["create-domain-name", "--domain-name", name, "--domain-name-configurations",
                  f"CertificateArn={cert_arn('tmp-cert')}"],
                 ["create-api-mapping", "--domain-name", name, "--api-id", api, "--stage",
                  "prod", "--api-mapping-key", "only"]):  # fmt: skip
        out = subprocess.run(["/usr/bin/aws", "--endpoint-url", setup["server"].endpoint,
                              "apigatewayv2", *args], capture_output=True, text=True,
                             timeout=120, env=env)  # fmt: skip
        assert out.returncode == 0, out.stderr
    port = port_of(setup["server"])
    context = ssl.create_default_context(cafile=str(ca))

    def get(path: str = "/only/items/1") -> httpx.Response:
        with httpx.Client(verify=context, timeout=60) as c:
            return c.get(f"https://127.0.0.1:{port}{path}", headers={"host": name},
                         extensions={"sni_hostname": name})  # fmt: skip

    assert get().json()["stage"] == "prod"
    missed = get("/items/1")  # no mapping takes it (no root mapping): API Gateway's 404
    assert (missed.status_code, missed.json()) == (404, {"message": "Not Found"})
    apigw.delete_api(ApiId=api)  # its mappings go with it
    assert apigw.get_api_mappings(DomainName=name)["Items"] == []
    apigw.delete_domain_name(DomainName=name)
    with pytest.raises(httpx.ConnectError):  # the name's certificate is no longer served
        get()


def test_domain_tags(setup: dict[str, Any], domain: dict[str, Any]) -> None:
    apigw = setup["apigw"]
    arn = domain["created"]["DomainNameArn"]
    apigw.tag_resource(ResourceArn=arn, Tags={"env": "dev"})
    assert apigw.get_tags(ResourceArn=arn)["Tags"] == {"team": "web", "env": "dev"}
    apigw.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert apigw.get_domain_name(DomainName=DOMAIN)["Tags"] == {"env": "dev"}
    with pytest.raises(ClientError) as e:
        apigw.get_tags(ResourceArn="arn:aws:apigateway:us-east-1::/domainnames/no.example.internal")
    assert e.value.response["Error"]["Code"] == "NotFoundException"


def handshake_ca(setup: dict[str, Any], ca: Path) -> None:
    """A TLS handshake naming the domain, verified against ``ca`` (raises if it fails)."""
    import socket

    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port_of(setup["server"])), timeout=30) as raw:
        context.wrap_socket(raw, server_hostname=DOMAIN).close()


def test_update_domain_name_changes_the_certificate(setup: dict[str, Any],
                                                    domain: dict[str, Any],
                                                    tmp_path: Path) -> None:  # fmt: skip
    apigw, data = setup["apigw"], setup["server"].data_dir
    ca2 = make_ca_and_cert(tmp_path, [DOMAIN, "*.example.internal"], "second")
    for suffix in (".pem", ".key"):
        shutil.copy(tmp_path / "certificates" / f"second{suffix}", data / "certificates")
    try:
        updated = apigw.update_domain_name(DomainName=DOMAIN, DomainNameConfigurations=[
            {"CertificateArn": cert_arn("second")}])  # fmt: skip
        assert updated["DomainNameConfigurations"][0]["CertificateName"] == "second"
        handshake_ca(setup, ca2)
        with pytest.raises(ssl.SSLCertVerificationError):
            handshake_ca(setup, setup["ca"])
        assert len(apigw.get_api_mappings(DomainName=DOMAIN)["Items"]) >= 3  # kept
    finally:
        apigw.update_domain_name(DomainName=DOMAIN, DomainNameConfigurations=[
            {"CertificateArn": cert_arn()}])  # fmt: skip
    handshake_ca(setup, setup["ca"])


def test_domains_survive_a_backup_and_restore(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Domains and mappings are in the metadata, their certificates in <data>/certificates:
    ``shoal backup``, a wiped data directory, ``shoal restore``, and the domain serves again
    with its certificate."""
    data = tmp_path_factory.mktemp("shoal-domains-restart")
    ca = make_ca_and_cert(data.parent / f"{data.name}-ca", [DOMAIN], CERT_ID)
    srv = start_server(data, "--tls", "auto")
    try:
        shutil.copytree(ca.parent / "certificates", data / "certificates", dirs_exist_ok=True)
        verify = str(data / "tls" / "ca.pem")
        setup = {"server": srv, "ca": ca, "apigw": client(srv, "apigatewayv2", verify),
                 "lambda": client(srv, "lambda", verify), "verify": verify}  # fmt: skip
        api, fn = make_api(setup, "dom-r")
        setup["apigw"].create_domain_name(DomainName=DOMAIN, DomainNameConfigurations=[
            {"CertificateArn": cert_arn()}])  # fmt: skip
        setup["apigw"].create_api_mapping(DomainName=DOMAIN, ApiId=api, Stage="prod",
                                          ApiMappingKey="r")  # fmt: skip
    finally:
        srv.stop()
    backup = data.parent / f"{data.name}.tar"
    made = subprocess.run([*SHOAL, "backup", str(backup), "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=300, env=env_keys(), cwd=ROOT)
    assert made.returncode == 0, made.stderr
    shutil.rmtree(data)
    done = subprocess.run([*SHOAL, "restore", str(backup), "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=300, env=env_keys(), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert (data / "certificates" / f"{CERT_ID}.key").exists()
    srv = start_server(data, "--tls", "auto")
    try:
        setup["server"] = srv
        r = fetch(setup, "/r/items/1")
        assert r.status_code == 200 and r.json()["fn"] == fn and r.json()["stage"] == "prod"
    finally:
        srv.stop()


def test_wildcard_domain(setup: dict[str, Any], domain: dict[str, Any], tmp_path: Path) -> None:
    """``*.apps.example.internal`` serves each name one label under it, with its wildcard
    certificate picked by SNI for that name."""
    apigw, data = setup["apigw"], setup["server"].data_dir
    wildcard = "*.apps.example.internal"
    ca = make_ca_and_cert(tmp_path, [wildcard], "apps")
    for suffix in (".pem", ".key"):
        shutil.copy(tmp_path / "certificates" / f"apps{suffix}", data / "certificates")
    apigw.create_domain_name(DomainName=wildcard, DomainNameConfigurations=[
        {"CertificateArn": cert_arn("apps")}])  # fmt: skip
    try:
        apigw.create_api_mapping(DomainName=wildcard, ApiId=domain["b"], Stage="prod")
        port = port_of(setup["server"])
        with httpx.Client(verify=ssl.create_default_context(cafile=str(ca)), timeout=60) as c:
            r = c.get(f"https://127.0.0.1:{port}/items/3",
                      headers={"host": f"shop.apps.example.internal:{port}"},
                      extensions={"sni_hostname": "shop.apps.example.internal"})  # fmt: skip
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["fn"] == domain["fn_b"] and body["domainPrefix"] == "shop"
        assert body["domainName"] == f"shop.apps.example.internal:{port}"
    finally:
        apigw.delete_domain_name(DomainName=wildcard)
