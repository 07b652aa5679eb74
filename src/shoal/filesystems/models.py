"""Immutable file-system models: file systems, access points, mount targets, and the identity
an execution environment gets from its file-system configs.

Every model is a frozen dataclass; the service replaces an object to change it. ``to_doc`` /
``from_doc`` are the store's JSON form. Ids are AWS-shaped: ``fs-``, ``fsap-`` and ``fsmt-``
followed by 17 hex digits.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, replace
from typing import Any

try:
    from shoal.sandbox.types import Mount
except ModuleNotFoundError:  # the sandbox package lands separately; same contract.

    @dataclass(frozen=True)
    class Mount:  # type: ignore[no-redef]
        source: str
        target: str
        readonly: bool = False


__all__ = [
    "NOBODY", "AccessPoint", "CreationInfo", "EnvironmentIdentity", "FileSystem", "Mount",
    "MountTarget", "PosixUser", "new_id",
]  # fmt: skip

# The uid/gid that ``root_squash`` maps uid 0 to, as NFS does.
NOBODY = 65534


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


@dataclass(frozen=True)
class FileSystem:
    id: str
    arn: str
    owner_id: str
    creation_token: str
    creation_time: float
    performance_mode: str = "generalPurpose"
    throughput_mode: str = "bursting"
    provisioned_throughput: float | None = None
    encrypted: bool = False
    kms_key_id: str | None = None
    availability_zone: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    lifecycle_state: str = "available"
    # When the throughput mode last changed or provisioned throughput last went up or down
    # (epoch seconds; None: never since creation): for 24 hours after, EFS refuses another
    # change of mode or a decrease (shoal.filesystems.rules.check_throughput_change).
    throughput_changed_at: float | None = None

    @property
    def name(self) -> str | None:
        return dict(self.tags).get("Name")

    def with_tags(self, tags: tuple[tuple[str, str], ...]) -> FileSystem:
        return replace(self, tags=tags)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]  # made before regions: the default's ARN, so its region

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FileSystem:
        return cls(**{**doc, "tags": tuple(tuple(t) for t in doc.get("tags", ()))})


@dataclass(frozen=True)
class PosixUser:
    uid: int
    gid: int
    secondary_gids: tuple[int, ...] = ()


@dataclass(frozen=True)
class CreationInfo:
    owner_uid: int
    owner_gid: int
    permissions: str  # octal, "750" or "0750"

    @property
    def mode(self) -> int:
        return int(self.permissions, 8)


@dataclass(frozen=True)
class AccessPoint:
    id: str
    arn: str
    file_system_id: str
    owner_id: str
    client_token: str
    path: str = "/"
    posix_user: PosixUser | None = None
    creation_info: CreationInfo | None = None
    tags: tuple[tuple[str, str], ...] = ()
    # The NFS export id this access point gets on a mount target; unique within its file system.
    export_id: int = 0
    lifecycle_state: str = "available"

    @property
    def name(self) -> str | None:
        return dict(self.tags).get("Name")

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(p for p in self.path.split("/") if p)

    def with_tags(self, tags: tuple[tuple[str, str], ...]) -> AccessPoint:
        return replace(self, tags=tags)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AccessPoint:
        doc = dict(doc)
        user = doc.get("posix_user")
        if user is not None:
            doc["posix_user"] = PosixUser(
                user["uid"], user["gid"], tuple(user.get("secondary_gids", ()))
            )
        info = doc.get("creation_info")
        if info is not None:
            doc["creation_info"] = CreationInfo(**info)
        doc["tags"] = tuple(tuple(t) for t in doc.get("tags", ()))
        return cls(**doc)


@dataclass(frozen=True)
class MountTarget:
    id: str
    file_system_id: str
    owner_id: str
    subnet_id: str
    ip_address: str
    port: int
    availability_zone: str
    lifecycle_state: str = "creating"  # creating | available | deleting | error
    tls_port: int = 0  # NFS over TLS (shoal.filesystems.tls_terminator); 0: none allocated

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> MountTarget:
        return cls(**doc)


@dataclass(frozen=True)
class EnvironmentIdentity:
    """What an execution environment gets from its function's file-system configs.

    ``mounts`` are bind mounts of access-point roots at their LocalMountPath; ``uid``/``gid``/
    ``groups`` are the identity the environment process runs as (the access point's PosixUser),
    so every file operation is the kernel's, checked against that identity. ``uid is None``
    means "the default sandbox user" (no file system, or an access point without PosixUser).
    """

    mounts: tuple[Mount, ...] = ()
    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] = field(default=())
