"""The region a request is for: the one in its SigV4 credential scope.

A signed request names its scope in the ``Authorization`` header
(``Credential=AKID/20261203/eu-west-1/lambda/aws4_request``) or, presigned, in the
``X-Amz-Credential`` query parameter. The scope is parsed, not verified (checking signatures is
the identity layer's). State and ARNs are kept per region, so the region must look like one of
AWS's: an arbitrary string must not conjure up a region. An unsigned request is for the
server's default region (``Settings.region``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
# A region as AWS spells them (us-east-1, us-gov-west-1, cn-north-1, us-isob-east-1...).
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
INVALID_REGION = "Credential should be scoped to a valid region."


@dataclass(frozen=True)
class CredentialScope:
    access_key: str
    date: str
    region: str
    service: str


def credential_scope(headers: Mapping[str, str], form: Mapping[str, str]) -> CredentialScope | None:
    """The SigV4 credential scope a request names, from its header or its presigned query."""
    auth = headers.get("authorization", "")
    m = _CREDENTIAL.search(auth)
    if m is None and "X-Amz-Credential" in form:
        m = _CREDENTIAL.search("Credential=" + form["X-Amz-Credential"])
    return CredentialScope(*m.groups()) if m else None


def is_region(region: str) -> bool:
    return _REGION.match(region) is not None


def request_region(scope: CredentialScope | None, default: str) -> str | None:
    """The region a request is for, or None when its scope names no valid region."""
    if scope is None:
        return default
    return scope.region if is_region(scope.region) else None
