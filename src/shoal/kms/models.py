"""A KMS key and an alias as the service keeps them: immutable; changes make new values.

A key's material is never here in the clear: ``material`` is the key's 32 AES bytes sealed by
the server master key (:mod:`shoal.kms.crypto`), bound to the key id.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

ENABLED, DISABLED, PENDING_DELETION = "Enabled", "Disabled", "PendingDeletion"
CUSTOMER, AWS = "CUSTOMER", "AWS"


@dataclass(frozen=True)
class Key:
    id: str
    region: str
    account: str
    created: float
    description: str
    state: str
    material: bytes  # sealed (crypto.MasterKey.seal), never the plain key
    material_id: str
    policy: str
    manager: str = CUSTOMER
    deletion_date: float | None = None
    pending_days: int | None = None
    tags: tuple[tuple[str, str], ...] = field(default=())

    @property
    def arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{self.account}:key/{self.id}"

    def doc(self) -> dict[str, Any]:
        return {
            "id": self.id, "region": self.region, "account": self.account,
            "created": self.created, "description": self.description, "state": self.state,
            "material": base64.b64encode(self.material).decode(), "material_id": self.material_id,
            "policy": self.policy, "manager": self.manager, "deletion_date": self.deletion_date,
            "pending_days": self.pending_days, "tags": [list(t) for t in self.tags],
        }  # fmt: skip

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> Key:
        return cls(
            d["id"], d["region"], d["account"], d["created"], d["description"], d["state"],
            base64.b64decode(d["material"]), d["material_id"], d["policy"], d["manager"],
            d.get("deletion_date"), d.get("pending_days"),
            tuple((k, v) for k, v in d.get("tags", [])),
        )  # fmt: skip

    def metadata(self) -> dict[str, Any]:
        """The ``KeyMetadata`` shape, as DescribeKey answers it."""
        out: dict[str, Any] = {
            "AWSAccountId": self.account, "KeyId": self.id, "Arn": self.arn,
            "CreationDate": self.created, "CurrentKeyMaterialId": self.material_id,
            "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "Description": self.description,
            "Enabled": self.state == ENABLED, "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "KeyManager": self.manager, "KeySpec": "SYMMETRIC_DEFAULT", "KeyState": self.state,
            "KeyUsage": "ENCRYPT_DECRYPT", "MultiRegion": False, "Origin": "AWS_KMS",
        }  # fmt: skip
        if self.deletion_date is not None:
            out["DeletionDate"] = self.deletion_date
            out["PendingDeletionWindowInDays"] = self.pending_days
        return out


@dataclass(frozen=True)
class Alias:
    name: str  # "alias/…"
    region: str
    account: str
    target: str  # the key id
    created: float
    updated: float

    @property
    def arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{self.account}:{self.name}"

    def doc(self) -> dict[str, Any]:
        return {
            "name": self.name, "region": self.region, "account": self.account,
            "target": self.target, "created": self.created, "updated": self.updated,
        }  # fmt: skip

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> Alias:
        return cls(d["name"], d["region"], d["account"], d["target"], d["created"], d["updated"])

    def entry(self) -> dict[str, Any]:
        """The ``AliasListEntry`` shape."""
        return {"AliasName": self.name, "AliasArn": self.arn, "TargetKeyId": self.target,
                "CreationDate": self.created, "LastUpdatedDate": self.updated}  # fmt: skip
