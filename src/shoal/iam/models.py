"""IAM's resources as immutable records, and their JSON form in the store.

An :class:`Entity` is a user, a group or a role: the three share names, paths, ids, tags,
inline policies and attached managed policies, so one record (and one set of operations in
:mod:`shoal.iam.directory`) serves all three; what only one kind has (a group's members, a
role's trust policy and session limit) are fields the others leave empty.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import asdict, dataclass
from typing import Any

USER, GROUP, ROLE = "user", "group", "role"
# Id prefixes, as AWS's: AIDA users, AGPA groups, AROA roles, ANPA policies, AKIA access keys,
# ASIA temporary access keys.
PREFIXES = {USER: "AIDA", GROUP: "AGPA", ROLE: "AROA"}


def new_id(prefix: str) -> str:
    """A 20-character id: the prefix and 16 random base32 characters, as AWS's. Base32 of 10
    random bytes is exactly 16 such characters, uniform: one ``getrandom`` per id, not one per
    character (an id is made for every environment's credentials)."""
    n = 20 - len(prefix)
    return prefix + base64.b32encode(secrets.token_bytes((n * 5 + 7) // 8)).decode()[:n]


def new_secret() -> str:
    """A 40-character secret access key."""
    return secrets.token_urlsafe(30)[:40]


def _pairs(raw: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in raw or ())


@dataclass(frozen=True)
class Entity:
    kind: str  # USER, GROUP or ROLE
    name: str
    id: str
    path: str
    created: float
    tags: tuple[tuple[str, str], ...] = ()
    inline: tuple[tuple[str, str], ...] = ()  # (policy name, document JSON), in put order
    attached: tuple[str, ...] = ()  # managed policy ARNs
    members: tuple[str, ...] = ()  # a group's user names
    trust: str = ""  # a role's trust policy (JSON)
    description: str = ""
    max_session: int = 3600  # a role's MaxSessionDuration, seconds

    def arn(self, account: str) -> str:
        return f"arn:aws:iam::{account}:{self.kind}{self.path}{self.name}"

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Entity:
        return cls(**{**doc, "tags": _pairs(doc.get("tags")), "inline": _pairs(doc.get("inline")),
                      "attached": tuple(doc.get("attached", ())),
                      "members": tuple(doc.get("members", ()))})  # fmt: skip


@dataclass(frozen=True)
class PolicyVersion:
    id: str  # "v1", "v2"…
    document: str  # JSON text, as given
    created: float


@dataclass(frozen=True)
class ManagedPolicy:
    arn: str
    name: str
    id: str
    path: str
    created: float
    updated: float
    default: str
    versions: tuple[PolicyVersion, ...]
    next_version: int
    description: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    aws: bool = False  # an AWS managed policy: read-only, not persisted

    def version(self, version_id: str) -> PolicyVersion | None:
        return next((v for v in self.versions if v.id == version_id), None)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ManagedPolicy:
        versions = tuple(PolicyVersion(**v) for v in doc["versions"])
        return cls(**{**doc, "versions": versions, "tags": _pairs(doc.get("tags"))})


@dataclass(frozen=True)
class AccessKey:
    id: str
    secret: str
    user: str
    created: float
    status: str = "Active"  # or "Inactive"

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AccessKey:
        return cls(**doc)
