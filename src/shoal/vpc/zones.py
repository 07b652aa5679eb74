"""Availability zones as Shoal models them: a fixed small table per region.

AWS gives each account its own zone names; the zone ids (``use1-az1``) are the same for
everyone. Shoal models the zones most accounts see in the common regions (us-east-1 has six,
us-west-1 two, us-west-2 four), and three (``a``, ``b``, ``c``) anywhere else. The default VPC
has one default subnet per zone, a /20 of 172.31.0.0/16 each, as AWS makes them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

ZONE_COUNT = {"us-east-1": 6, "us-west-1": 2, "us-west-2": 4}
DEFAULT_ZONE_COUNT = 3
DEFAULT_VPC_CIDR = "172.31.0.0/16"
_DIRECTIONS = {
    "north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
    "northeast": "ne", "southeast": "se", "northwest": "nw", "southwest": "sw",
}  # fmt: skip


@dataclass(frozen=True)
class Zone:
    name: str  # us-east-1a
    id: str  # use1-az1
    region: str


def region_code(region: str) -> str:
    """AWS's short form of a region in zone ids: us-east-1 -> use1, ap-southeast-2 -> apse2."""
    parts = region.split("-")
    if len(parts) < 3:
        return region.replace("-", "")
    middle = "".join(_DIRECTIONS.get(p, p[:1]) for p in parts[1:-1])
    return f"{parts[0]}{middle}{parts[-1]}"


def zones(region: str) -> list[Zone]:
    count = ZONE_COUNT.get(region, DEFAULT_ZONE_COUNT)
    code = region_code(region)
    return [Zone(f"{region}{chr(ord('a') + i)}", f"{code}-az{i + 1}", region) for i in range(count)]


def zone(region: str, name_or_id: str) -> Zone | None:
    for z in zones(region):
        if name_or_id in (z.name, z.id):
            return z
    return None


def default_subnet_cidrs(count: int) -> list[str]:
    network = ipaddress.ip_network(DEFAULT_VPC_CIDR)
    return [str(n) for n, _ in zip(network.subnets(new_prefix=20), range(count), strict=False)]
