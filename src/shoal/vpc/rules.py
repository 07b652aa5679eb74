"""Security group rules: EC2's ``IpPermissions`` to :class:`Rule` objects and back.

One ``IpPermission`` names a protocol and port range and any number of peers (IPv4 and IPv6
ranges, groups, prefix lists); Shoal keeps one :class:`Rule` per peer, as EC2's
``DescribeSecurityGroupRules`` shows them, and groups them again for ``DescribeSecurityGroups``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from shoal.errors import AwsError
from shoal.vpc.models import Rule, new_id

ALL = "-1"
_PROTOCOLS = {"all": ALL, "tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmpv6",
              "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}  # fmt: skip


def _protocol(value: Any) -> str:
    raw = str(value if value is not None else ALL).lower()
    if raw == ALL or raw in _PROTOCOLS:
        return _PROTOCOLS.get(raw, ALL)
    if raw.isdigit() and 0 <= int(raw) <= 255:
        return raw
    raise AwsError("InvalidParameterValue", f"Invalid value '{value}' for IP protocol. Unknown "
                   "protocol.")  # fmt: skip


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise AwsError(
            "InvalidParameterValue", f"CIDR block {value} is malformed"
        ) from None


def from_permissions(permissions: Iterable[Mapping[str, Any]], egress: bool) -> list[Rule]:
    rules: list[Rule] = []
    for p in permissions:
        protocol = _protocol(p.get("IpProtocol"))
        ports: dict[str, Any] = {}
        if protocol not in (ALL,) and not protocol.isdigit():
            ports = {"from_port": p.get("FromPort"), "to_port": p.get("ToPort")}
        peers: list[dict[str, Any]] = []
        peers += [{"cidr_ipv4": _cidr(r["CidrIp"]), "description": r.get("Description")}
                  for r in p.get("IpRanges") or ()]  # fmt: skip
        peers += [{"cidr_ipv6": _cidr(r["CidrIpv6"]), "description": r.get("Description")}
                  for r in p.get("Ipv6Ranges") or ()]  # fmt: skip
        peers += [{"group_id": g.get("GroupId"), "description": g.get("Description")}
                  for g in p.get("UserIdGroupPairs") or ()]  # fmt: skip
        peers += [{"prefix_list_id": x.get("PrefixListId"), "description": x.get("Description")}
                  for x in p.get("PrefixListIds") or ()]  # fmt: skip
        for peer in peers:
            rules.append(Rule(id=new_id("sgr"), egress=egress, protocol=protocol, **ports, **peer))
    return rules


def from_flat(params: Mapping[str, Any], egress: bool) -> list[Rule]:
    """The older form: ``CidrIp``, ``IpProtocol``, ``FromPort``, ``ToPort`` at the top level."""
    if "CidrIp" not in params and "SourceSecurityGroupName" not in params:
        return []
    permission: dict[str, Any] = {
        "IpProtocol": params.get("IpProtocol"),
        "FromPort": params.get("FromPort"),
        "ToPort": params.get("ToPort"),
    }
    if "CidrIp" in params:
        permission["IpRanges"] = [{"CidrIp": params["CidrIp"]}]
    return from_permissions([permission], egress)


def describe(rule: Rule) -> str:
    peer = next(p for p in rule.peer() if p)
    ports = ""
    if rule.from_port is not None:
        ports = f", from port: {rule.from_port}, to port: {rule.to_port}"
    protocol = rule.protocol.upper() if rule.protocol != ALL else "ALL"
    return f'the specified rule "peer: {peer}, {protocol}{ports}, ALLOW" already exists'


def to_permissions(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    """Rules grouped by protocol and port range, each with its peers, as EC2 lists them."""
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rules:
        key = (r.protocol, r.from_port, r.to_port)
        p = grouped.get(key)
        if p is None:
            p = grouped[key] = {"IpProtocol": r.protocol, "FromPort": r.from_port,
                                "ToPort": r.to_port, "IpRanges": [], "Ipv6Ranges": [],
                                "UserIdGroupPairs": [], "PrefixListIds": []}  # fmt: skip
        if r.cidr_ipv4:
            p["IpRanges"].append({"CidrIp": r.cidr_ipv4, "Description": r.description})
        elif r.cidr_ipv6:
            p["Ipv6Ranges"].append({"CidrIpv6": r.cidr_ipv6, "Description": r.description})
        elif r.group_id:
            p["UserIdGroupPairs"].append({"GroupId": r.group_id, "Description": r.description})
        elif r.prefix_list_id:
            p["PrefixListIds"].append(
                {"PrefixListId": r.prefix_list_id, "Description": r.description}
            )
    return list(grouped.values())
