"""EC2's ``Filter.N.Name``/``Filter.N.Value.M`` for the describe operations Shoal serves.

A filter matches when any of its values equals one of the resource's values for that name
(``*`` and ``?`` as wildcards, as EC2 allows); all filters must match. ``tag:KEY`` matches a tag's
value, ``tag-key`` a tag's key. An unknown filter name is refused as EC2 refuses it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from shoal.errors import AwsError
from shoal.vpc.models import NetworkInterface, SecurityGroup, Subnet, Vpc

T = TypeVar("T")
Getter = Callable[[Any], Iterable[str]]


def _b(value: bool) -> list[str]:
    return ["true" if value else "false"]


VPC: dict[str, Getter] = {
    "vpc-id": lambda v: [v.id],
    "cidr": lambda v: [v.cidr],
    "cidr-block-association.cidr-block": lambda v: [v.cidr],
    "is-default": lambda v: _b(v.is_default),
    "isDefault": lambda v: _b(v.is_default),
    "state": lambda v: ["available"],
    "dhcp-options-id": lambda v: [v.dhcp_options_id],
}
SUBNET: dict[str, Getter] = {
    "subnet-id": lambda s: [s.id],
    "vpc-id": lambda s: [s.vpc_id],
    "availability-zone": lambda s: [s.zone],
    "availabilityZone": lambda s: [s.zone],
    "availability-zone-id": lambda s: [s.zone_id],
    "availabilityZoneId": lambda s: [s.zone_id],
    "cidr-block": lambda s: [s.cidr],
    "cidr": lambda s: [s.cidr],
    "cidrBlock": lambda s: [s.cidr],
    "default-for-az": lambda s: _b(s.default_for_az),
    "defaultForAz": lambda s: _b(s.default_for_az),
    "state": lambda s: ["available"],
}
GROUP: dict[str, Getter] = {
    "group-id": lambda g: [g.id],
    "group-name": lambda g: [g.name],
    "vpc-id": lambda g: [g.vpc_id],
    "description": lambda g: [g.description],
}
INTERFACE: dict[str, Getter] = {
    "network-interface-id": lambda n: [n.id],
    "subnet-id": lambda n: [n.subnet_id],
    "vpc-id": lambda n: [n.vpc_id],
    "availability-zone": lambda n: [n.zone],
    "group-id": lambda n: list(n.groups),
    "description": lambda n: [n.description],
    "interface-type": lambda n: [n.interface_type],
    "requester-managed": lambda n: _b(n.requester_managed),
    "private-ip-address": lambda n: [n.private_ip],
    "addresses.private-ip-address": lambda n: [n.private_ip],
    "status": lambda n: ["in-use" if n.owner else "available"],
}
KINDS: dict[type, dict[str, Getter]] = {
    Vpc: VPC, Subnet: SUBNET, SecurityGroup: GROUP, NetworkInterface: INTERFACE,
}  # fmt: skip


def apply(items: Iterable[T], filters: list[Mapping[str, Any]] | None) -> list[T]:
    items = list(items)
    for f in filters or ():
        name, values = f.get("Name", ""), list(f.get("Values") or ())
        items = [i for i in items if _matches(i, name, values)]
    return items


def _matches(item: Any, name: str, wanted: list[str]) -> bool:
    if name.startswith("tag:"):
        have = [v for k, v in item.tags if k == name[4:]]
    elif name == "tag-key":
        have = [k for k, _ in item.tags]
    else:
        getter = KINDS[type(item)].get(name)
        if getter is None:
            raise AwsError("InvalidParameterValue", f"The filter '{name}' is invalid")
        have = list(getter(item))
    return any(fnmatch.fnmatchcase(h, w) for h in have for w in wanted)
