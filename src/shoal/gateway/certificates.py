"""Custom domains' certificates, as files (there is no ACM), and the SNI choice between them.

The operator puts a certificate in ``<data dir>/certificates/``: ``ID.pem`` (the chain, leaf
first) and ``ID.key`` (its unencrypted private key), ``ID`` of letters, digits, ``.``, ``_``
and ``-``. A domain's ``DomainNameConfigurations[0].CertificateArn`` names it as an ACM ARN
would, ``arn:aws:acm:REGION:ACCOUNT:certificate/ID`` (the region the domain's, the account
Shoal's), so that the AWS CLI, SDKs and Terraform pass it unchanged. CreateDomainName and
UpdateDomainName read the files then, and refuse a certificate that is missing, unreadable or
does not name the domain (a wildcard covers one label), with BadRequestException.

On Shoal's TLS listener, :meth:`Certificates.sni_callback` (``ssl.SSLContext.sni_callback``)
answers a ClientHello whose server name is a domain with that domain's certificate; any
other name gets the server's own. Contexts are built when a domain changes (off the
handshake), with :func:`shoal.tls.server_context`'s settings, and the handshake only reads
one dict. Only a domain's own name picks its certificate: a client cannot get a certificate
for a name it did not ask for, and a certificate file is used only by the domain that names
it (a file put there is the operator's choice to serve it).
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography import x509

from shoal import tls
from shoal.errors import AwsError

log = logging.getLogger("shoal.gateway")

_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_ARN = re.compile(r"^arn:aws:acm:([a-z0-9-]+):(\d{12}):certificate/(.+)$")


def _bad(message: str) -> AwsError:
    return AwsError("BadRequestException", message)


class Certificates:
    """The certificate files under ``directory``, and the SNI contexts of the domains."""

    def __init__(self, directory: Path, account_id: str) -> None:
        self.directory = directory
        self.account_id = account_id
        # domain name -> the context serving it (replaced whole by publish()).
        self._contexts: dict[str, ssl.SSLContext] = {}

    def certificate_id(self, arn: str, region: str, domain: str) -> tuple[str, dict[str, Any]]:
        """The id ``arn`` names, checked (files there, naming ``domain``), and what
        DomainNameConfiguration answers of it (CertificateName, CertificateUploadDate)."""
        m = _ARN.match(arn or "")
        if m is None:
            raise _bad(f"Invalid certificate ARN: {arn}")
        arn_region, account, cert_id = m.groups()
        if arn_region != region or account != self.account_id or not _ID.match(cert_id):
            raise _bad(f"Certificate {arn} not found")
        cert_path, key_path = self.paths(cert_id)
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key_path.stat()
        except (OSError, ValueError):
            raise _bad(f"Certificate {arn} not found") from None
        if not covers(cert, domain):
            raise _bad(f"The certificate {arn} does not cover the domain name {domain}")
        try:
            self._context(cert_id)  # the key matches and loads: refused now, not at handshake
        except (OSError, ValueError, ssl.SSLError) as e:
            raise _bad(f"Certificate {arn} can not be used: {e}") from None
        info = {
            "CertificateName": cert_id,
            # ISO 8601 text, as the store keeps it (the API layer answers it as a timestamp).
            "CertificateUploadDate": cert.not_valid_before_utc.replace(microsecond=0).isoformat(),
        }
        return cert_id, info

    def paths(self, cert_id: str) -> tuple[Path, Path]:
        return self.directory / f"{cert_id}.pem", self.directory / f"{cert_id}.key"

    def _context(self, cert_id: str) -> ssl.SSLContext:
        cert, key = self.paths(cert_id)
        return tls.server_context(tls.TlsFiles(cert, key, None))

    def publish(self, domains: Iterable[tuple[str, str]]) -> None:
        """Serve each ``(domain, certificate id)`` from now on (the only ones)."""
        contexts: dict[str, ssl.SSLContext] = {}
        for name, cert_id in domains:
            try:
                contexts[name] = self._context(cert_id)
            except (OSError, ValueError, ssl.SSLError) as e:
                log.error("domain %s: certificate %s can not be used: %s", name, cert_id, e)
        self._contexts = contexts

    def sni_callback(self, ssl_obj: ssl.SSLObject, server_name: str | None,
                     default: ssl.SSLContext) -> None:  # fmt: skip
        """For ``SSLContext.sni_callback``: a domain's name (or a name a wildcard domain
        serves) gets the domain's certificate."""
        if server_name:
            name = server_name.lower()
            context = self._contexts.get(name) or self._contexts.get("*." + name.partition(".")[2])
            if context is not None:
                ssl_obj.context = context


def covers(cert: x509.Certificate, domain: str) -> bool:
    """``cert``'s subject alternative names include ``domain`` (a ``*.`` wildcard matching
    its first label alone)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    parent = domain.partition(".")[2]
    for name in san.get_values_for_type(x509.DNSName):
        name = name.lower()
        if name == domain or (name.startswith("*.") and name[2:] == parent):
            return True
    return False
