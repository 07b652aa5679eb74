"""The four ways a request names a KMS key — key id, key ARN, alias name, alias ARN — and the
errors KMS answers for each (worded as recorded against AWS: LocalStack's kms snapshots).

:func:`parse` only reads the text; :class:`shoal.kms.service.KmsService` looks it up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shoal.errors import AwsError

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MRK = re.compile(r"^mrk-[0-9a-f]{32}$")
ALIAS_PREFIX = "alias/"
MANAGED_PREFIX = "alias/aws/"


@dataclass(frozen=True)
class Named:
    """What an identifier names: a key id, or an alias name (``alias/…``), in ``region``."""

    region: str
    key_id: str | None = None
    alias: str | None = None


def not_found(message: str) -> AwsError:
    return AwsError("NotFoundException", message)


def key_arn(region: str, account: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:kms:{region}:{account}:{name}"


def is_key_id(text: str) -> bool:
    return bool(_UUID.match(text) or _MRK.match(text))


def parse(ident: str, region: str, account: str) -> Named:
    """What ``ident`` names, in the request's ``region``; NotFoundException when it cannot name
    a key there (a malformed id, another region's or account's ARN)."""
    if ident.startswith("arn:"):
        parts = ident.split(":", 5)
        if len(parts) != 6 or parts[2] != "kms" or not parts[5]:
            raise AwsError("InvalidArnException", f"Invalid arn {ident}")
        if parts[3] != region or parts[4] != account:
            raise not_found(f"Invalid arn {parts[3]}")
        resource = parts[5]
        if resource.startswith(ALIAS_PREFIX):
            return Named(region, alias=resource)
        if resource.startswith("key/") and is_key_id(resource[4:]):
            return Named(region, key_id=resource[4:])
        raise not_found(f"Invalid keyId '{ident}'")
    if ident.startswith(ALIAS_PREFIX):
        return Named(region, alias=ident)
    if not is_key_id(ident):
        raise not_found(f"Invalid keyId '{ident}'")
    return Named(region, key_id=ident)
