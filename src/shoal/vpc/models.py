"""Immutable EC2 metadata models. Ids are EC2's: a prefix and 17 hex digits.

Every model is a frozen dataclass with its region; ``to_doc``/``from_doc`` are the store's JSON
form. Tags are ``((key, value), ...)`` in the order they were set.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, fields
from typing import Any

Tags = tuple[tuple[str, str], ...]


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


class _Doc:
    def to_doc(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Any:
        # JSON has lists where the models have tuples (of tuples, for tags and rules).
        values: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in doc:
                continue
            v = doc[f.name]
            if isinstance(v, list):
                v = tuple(tuple(x) if isinstance(x, list) else x for x in v)
            values[f.name] = v
        return cls(**values)


@dataclass(frozen=True)
class Vpc(_Doc):
    id: str
    region: str
    cidr: str
    is_default: bool = False
    tags: Tags = ()
    dhcp_options_id: str = ""
    cidr_association_id: str = ""
    main_route_table_id: str = ""
    network_acl_id: str = ""
    enable_dns_support: bool = True
    enable_dns_hostnames: bool = False
    instance_tenancy: str = "default"


@dataclass(frozen=True)
class Subnet(_Doc):
    id: str
    region: str
    vpc_id: str
    cidr: str
    zone: str  # us-east-1a
    zone_id: str  # use1-az1
    default_for_az: bool = False
    map_public_ip_on_launch: bool = False
    tags: Tags = ()


@dataclass(frozen=True)
class Rule(_Doc):
    """One security group rule: a protocol and port range from or to one peer."""

    id: str  # sgr-…
    egress: bool
    protocol: str  # "-1" (all), "tcp", "udp", "icmp" or a number
    from_port: int | None = None
    to_port: int | None = None
    cidr_ipv4: str | None = None
    cidr_ipv6: str | None = None
    group_id: str | None = None  # a referenced security group
    prefix_list_id: str | None = None
    description: str | None = None

    def peer(self) -> tuple[str | None, ...]:
        return (self.cidr_ipv4, self.cidr_ipv6, self.group_id, self.prefix_list_id)

    def same(self, other: Rule) -> bool:
        """The same rule, whatever its id and description (EC2's idea of a duplicate)."""
        return (self.egress, self.protocol, self.from_port, self.to_port, self.peer()) == (
            other.egress, other.protocol, other.from_port, other.to_port, other.peer(),
        )  # fmt: skip


@dataclass(frozen=True)
class SecurityGroup(_Doc):
    id: str
    region: str
    vpc_id: str
    name: str
    description: str
    rules: tuple[Rule, ...] = ()
    tags: Tags = ()

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["rules"] = [r.to_doc() for r in self.rules]
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> SecurityGroup:
        rules = tuple(Rule.from_doc(r) for r in doc.get("rules", ()))
        tags = tuple((k, v) for k, v in doc.get("tags", ()))
        return cls(**{**doc, "rules": rules, "tags": tags})


@dataclass(frozen=True)
class NetworkInterface(_Doc):
    """An ENI. Those Lambda and EFS make carry their ``owner`` (``function:NAME`` or a mount
    target id) and are deleted with it."""

    id: str
    region: str
    subnet_id: str
    vpc_id: str
    zone: str
    zone_id: str
    private_ip: str
    groups: tuple[str, ...] = ()
    description: str = ""
    interface_type: str = "interface"  # "lambda", "efs"...
    requester_id: str | None = None
    owner: str | None = None
    mac: str = ""
    tags: Tags = ()

    @property
    def requester_managed(self) -> bool:
        return self.owner is not None
