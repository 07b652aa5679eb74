"""Custom domain names under IAM: a user may create a domain and map an API only where its
identity policy allows ``apigateway:POST`` on the domain's resources
(``arn:aws:apigateway:REGION::/domainnames[/NAME/apimappings]``), as API Gateway authorizes
them; refused, the call is AccessDeniedException and nothing is made."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from principals import error_of, new_user, root_client

from conftest import ShoalServer, unique_name


def certificate(server: ShoalServer, cert_id: str, name: str) -> str:
    """A self-signed certificate for ``name`` in the server's certificates; its ARN."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    directory = server.data_dir / "certificates"
    (directory / f"{cert_id}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{cert_id}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip
    return f"arn:aws:acm:us-east-1:123456789012:certificate/{cert_id}"


def test_domain_operations_need_their_permission(server: ShoalServer) -> None:
    name = f"{unique_name('iam')}.example.internal"
    arn = certificate(server, unique_name("c"), name)
    config = [{"CertificateArn": arn}]
    nobody = new_user(server).client(server, "apigatewayv2")
    code, status, _ = error_of(lambda: nobody.create_domain_name(
        DomainName=name, DomainNameConfigurations=config))  # fmt: skip
    assert (code, status) == ("AccessDeniedException", 403)
    root = root_client(server, "apigatewayv2")
    assert name not in [d["DomainName"] for d in root.get_domain_names()["Items"]]

    domains = "arn:aws:apigateway:us-east-1::/domainnames"
    maker = new_user(server, {"Effect": "Allow", "Action": "apigateway:POST",
                              "Resource": domains}).client(server, "apigatewayv2")  # fmt: skip
    assert maker.create_domain_name(DomainName=name,
                                    DomainNameConfigurations=config)["DomainName"] == name
    api = root.create_api(Name=unique_name("api"), ProtocolType="HTTP")["ApiId"]
    root.create_stage(ApiId=api, StageName="prod")
    # Creating the domain did not give the right to map APIs under it.
    code, _, _ = error_of(lambda: maker.create_api_mapping(DomainName=name, ApiId=api,
                                                           Stage="prod"))  # fmt: skip
    assert code == "AccessDeniedException"
    mapper = new_user(server, {"Effect": "Allow", "Action": "apigateway:POST",
                               "Resource": f"{domains}/{name}/apimappings"})
    made = mapper.client(server, "apigatewayv2").create_api_mapping(
        DomainName=name, ApiId=api, Stage="prod", ApiMappingKey="v1")
    assert made["ApiMappingKey"] == "v1"
    root.delete_domain_name(DomainName=name)
    root.delete_api(ApiId=api)
