"""The VPC service: EC2's network objects as stored metadata, per region.

Shoal's network is what it is (a bridge and NAT per server, see ``shoal.sandbox.network``);
these objects are the model that deployment tools read and that Lambda's ``VpcConfig`` and
EFS's mount targets are checked against, so the model is consistent with itself:

- each region gets its default VPC (172.31.0.0/16, a default subnet per modelled zone, a
  ``default`` security group) on first use in that region, once: a deleted default VPC is not
  made again, as on AWS;
- a VPC function has one network interface per subnet it names, and a mount target one, made
  and deleted with them (Terraform waits for their deletion);
- a subnet, group or VPC still in use cannot be deleted (``DependencyViolation``).

State: ``_objects`` maps every id (``vpc-``, ``subnet-``, ``sg-``, ``eni-``) to its frozen
model; each change is written to the store (kinds ``ec2vpc``, ``ec2subnet``, ``ec2sg``,
``ec2eni``) before it is made in memory. Event loop only, no await inside a change.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from shoal.errors import AwsError
from shoal.vpc import zones
from shoal.vpc.models import NetworkInterface, Rule, SecurityGroup, Subnet, Tags, Vpc, new_id

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.vpc")
T = TypeVar("T")
KINDS: dict[type, str] = {
    Vpc: "ec2vpc", Subnet: "ec2subnet", SecurityGroup: "ec2sg", NetworkInterface: "ec2eni",
}  # fmt: skip
_NOT_FOUND = {
    "vpc": ("InvalidVpcID.NotFound", "The vpc ID '{}' does not exist"),
    "subnet": ("InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist"),
    "sg": ("InvalidGroup.NotFound", "The security group '{}' does not exist"),
    "eni": ("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '{}' does not exist"),
}
_MALFORMED = {
    "vpc": "InvalidVpcID.Malformed", "subnet": "InvalidSubnetID.Malformed",
    "sg": "InvalidGroupId.Malformed", "eni": "InvalidNetworkInterfaceID.Malformed",
}  # fmt: skip
REGION_KIND = "ec2region"


def not_found(prefix: str, resource_id: str) -> AwsError:
    code, message = _NOT_FOUND[prefix]
    return AwsError(code, message.format(resource_id))


def _default_rules(group_id: str) -> tuple[Rule, ...]:
    return (
        Rule(id=new_id("sgr"), egress=False, protocol="-1", group_id=group_id),
        Rule(id=new_id("sgr"), egress=True, protocol="-1", cidr_ipv4="0.0.0.0/0"),
    )


class VpcService:
    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.store = shoal.store
        self.account_id = shoal.settings.account_id
        self._objects: dict[str, Any] = {}
        for cls, kind in KINDS.items():
            loader: Any = cls
            for key, doc in self.store.load(kind).items():
                self._objects[key] = loader.from_doc(doc)
        self._regions = set(self.store.load(REGION_KIND))

    async def start(self) -> None:
        from shoal.vpc import interfaces  # the Lambda and EFS side; it needs the other services

        interfaces.reconcile(self)

    async def stop(self) -> None:
        pass

    # ------------------------------------------------------------------ reads

    def _all(self, cls: type[T], region: str) -> list[T]:
        self.ensure_region(region)
        return sorted(
            (o for o in self._objects.values() if isinstance(o, cls) and o.region == region),  # type: ignore[attr-defined]
            key=lambda o: o.id,  # type: ignore[attr-defined]
        )

    def vpcs(self, region: str) -> list[Vpc]:
        return self._all(Vpc, region)

    def subnets(self, region: str) -> list[Subnet]:
        return self._all(Subnet, region)

    def groups(self, region: str) -> list[SecurityGroup]:
        return self._all(SecurityGroup, region)

    def interfaces(self, region: str) -> list[NetworkInterface]:
        return self._all(NetworkInterface, region)

    def get(self, cls: type[T], region: str, resource_id: str) -> T:
        self.ensure_region(region)
        prefix = resource_id.split("-", 1)[0]
        expected = {Vpc: "vpc", Subnet: "subnet", SecurityGroup: "sg", NetworkInterface: "eni"}[cls]
        if prefix != expected or "-" not in resource_id:
            raise AwsError(
                _MALFORMED[expected], f'Invalid id: "{resource_id}" (expecting "{expected}-...")'
            )
        found = self._objects.get(resource_id)
        if not isinstance(found, cls) or found.region != region:  # type: ignore[attr-defined]
            raise not_found(expected, resource_id)
        return found

    def pick(self, cls: type[T], region: str, ids: Iterable[str] | None) -> list[T]:
        """The objects ``ids`` names (all of them when None), refusing an unknown id."""
        if not ids:
            return self._all(cls, region)
        return [self.get(cls, region, i) for i in ids]

    def default_vpc(self, region: str) -> Vpc | None:
        return next((v for v in self.vpcs(region) if v.is_default), None)

    def default_group(self, region: str, vpc_id: str) -> SecurityGroup:
        return next(g for g in self.groups(region) if g.vpc_id == vpc_id and g.name == "default")

    def users_of(self, resource_id: str) -> list[NetworkInterface]:
        return [
            o for o in self._objects.values() if isinstance(o, NetworkInterface)
            and (resource_id in (o.subnet_id, o.vpc_id) or resource_id in o.groups)
        ]  # fmt: skip

    # ------------------------------------------------------------------ persistence

    def _put(self, *objects: Any) -> None:
        for o in objects:
            self.store.put(KINDS[type(o)], o.id, o.to_doc())
        for o in objects:
            self._objects[o.id] = o

    def _drop(self, *objects: Any) -> None:
        for o in objects:
            self.store.delete(KINDS[type(o)], o.id)
        for o in objects:
            self._objects.pop(o.id, None)

    def ensure_region(self, region: str) -> None:
        """The region's default VPC, made once, on first use."""
        if region in self._regions:
            return
        vpc = self._new_vpc(region, zones.DEFAULT_VPC_CIDR, is_default=True, tags=())
        group = self._new_group(region, vpc.id, "default", "default VPC security group", ())
        made = zones.zones(region)
        subnets = [
            Subnet(id=new_id("subnet"), region=region, vpc_id=vpc.id, cidr=cidr, zone=z.name,
                   zone_id=z.id, default_for_az=True, map_public_ip_on_launch=True)
            for z, cidr in zip(made, zones.default_subnet_cidrs(len(made)), strict=True)
        ]  # fmt: skip
        made_objects: tuple[Any, ...] = (replace(vpc, enable_dns_hostnames=True), group, *subnets)
        # All of it on disk, the region's mark included, before any of it is visible: a failed
        # write leaves the region unmade, to be made again whole.
        for o in made_objects:
            self.store.put(KINDS[type(o)], o.id, o.to_doc())
        self.store.put(REGION_KIND, region, {"default_vpc": vpc.id})
        for o in made_objects:
            self._objects[o.id] = o
        self._regions.add(region)

    # ------------------------------------------------------------------ VPCs

    def _new_vpc(self, region: str, cidr: str, is_default: bool, tags: Tags) -> Vpc:
        return Vpc(
            id=new_id("vpc"), region=region, cidr=cidr, is_default=is_default, tags=tags,
            dhcp_options_id=new_id("dopt"), cidr_association_id=new_id("vpc-cidr-assoc"),
            main_route_table_id=new_id("rtb"), network_acl_id=new_id("acl"),
        )  # fmt: skip

    def create_vpc(self, region: str, cidr: str, tags: Tags) -> Vpc:
        self.ensure_region(region)
        network = _network(cidr, "InvalidVpc.Range")
        if not 16 <= network.prefixlen <= 28:
            raise AwsError("InvalidVpc.Range", f"The CIDR '{cidr}' is invalid.")
        vpc = self._new_vpc(region, str(network), False, tags)
        group = self._new_group(region, vpc.id, "default", "default VPC security group", ())
        self._put(vpc, group)
        return vpc

    def delete_vpc(self, region: str, vpc_id: str) -> None:
        vpc = self.get(Vpc, region, vpc_id)
        inside = [o for o in self._objects.values() if getattr(o, "vpc_id", None) == vpc.id]
        if any(not (isinstance(o, SecurityGroup) and o.name == "default") for o in inside):
            raise AwsError(
                "DependencyViolation",
                f"The vpc '{vpc.id}' has dependencies and cannot be deleted.",
            )
        self._drop(*inside, vpc)

    def modify_vpc(self, region: str, vpc_id: str, **changes: Any) -> Vpc:
        vpc = replace(self.get(Vpc, region, vpc_id), **changes)
        self._put(vpc)
        return vpc

    # ------------------------------------------------------------------ subnets

    def create_subnet(self, region: str, vpc_id: str, cidr: str, zone: str | None,
                      tags: Tags) -> Subnet:  # fmt: skip
        vpc = self.get(Vpc, region, vpc_id)
        network = _network(cidr, "InvalidSubnet.Range")
        inside = network.subnet_of(ipaddress.ip_network(vpc.cidr))  # type: ignore[arg-type]
        if not inside or not 16 <= network.prefixlen <= 28:
            raise AwsError("InvalidSubnet.Range", f"The CIDR '{cidr}' is invalid.")
        for s in self.subnets(region):
            if s.vpc_id == vpc.id and network.overlaps(ipaddress.ip_network(s.cidr)):
                raise AwsError(
                    "InvalidSubnet.Conflict", f"The CIDR '{cidr}' conflicts with another subnet"
                )
        z = zones.zone(region, zone) if zone else zones.zones(region)[0]
        if z is None:
            raise AwsError(
                "InvalidParameterValue",
                f"Value ({zone}) for parameter availabilityZone is invalid. "
                f"Subnets can currently only be created in the following availability zones: "
                + ", ".join(x.name for x in zones.zones(region)) + ".",
            )
        subnet = Subnet(id=new_id("subnet"), region=region, vpc_id=vpc.id, cidr=str(network),
                        zone=z.name, zone_id=z.id, tags=tags)  # fmt: skip
        self._put(subnet)
        return subnet

    def delete_subnet(self, region: str, subnet_id: str) -> None:
        subnet = self.get(Subnet, region, subnet_id)
        if self.users_of(subnet.id):
            raise AwsError(
                "DependencyViolation",
                f"The subnet '{subnet.id}' has dependencies and cannot be deleted.",
            )
        self._drop(subnet)

    # ------------------------------------------------------------------ security groups

    def _new_group(self, region: str, vpc_id: str, name: str, description: str,
                   tags: Tags) -> SecurityGroup:  # fmt: skip
        group_id = new_id("sg")
        rules = _default_rules(group_id) if name == "default" else (
            Rule(id=new_id("sgr"), egress=True, protocol="-1", cidr_ipv4="0.0.0.0/0"),
        )  # fmt: skip
        return SecurityGroup(id=group_id, region=region, vpc_id=vpc_id, name=name,
                             description=description, rules=rules, tags=tags)  # fmt: skip

    def create_group(self, region: str, vpc_id: str | None, name: str, description: str,
                     tags: Tags) -> SecurityGroup:  # fmt: skip
        if vpc_id is None:
            default = self.default_vpc(region)
            if default is None:
                raise AwsError("VPCIdNotSpecified", "No default VPC for this user")
            vpc_id = default.id
        vpc = self.get(Vpc, region, vpc_id)
        if name == "default" or name.startswith("sg-"):
            raise AwsError(
                "InvalidParameterValue",
                f"Invalid security group name: '{name}' is reserved or malformed.",
            )
        if any(g.vpc_id == vpc.id and g.name == name for g in self.groups(region)):
            raise AwsError(
                "InvalidGroup.Duplicate",
                f"The security group '{name}' already exists for VPC '{vpc.id}'",
            )
        group = self._new_group(region, vpc.id, name, description, tags)
        self._put(group)
        return group

    def group_by(self, region: str, group_id: str | None, name: str | None) -> SecurityGroup:
        if group_id:
            return self.get(SecurityGroup, region, group_id)
        default = self.default_vpc(region)
        for g in self.groups(region):
            if default is not None and g.vpc_id == default.id and g.name == name:
                return g
        where = f" in default VPC '{default.id}'" if default else ""
        message = f"The security group '{name}' does not exist{where}"
        raise AwsError("InvalidGroup.NotFound", message)

    def delete_group(self, region: str, group: SecurityGroup) -> None:
        if group.name == "default":
            raise AwsError(
                "CannotDelete",
                f'the specified group: "{group.id}" name: "default" cannot be deleted by a user',
            )
        referenced = any(
            r.group_id == group.id
            for g in self.groups(region) if g.id != group.id for r in g.rules
        )  # fmt: skip
        if self.users_of(group.id) or referenced:
            raise AwsError("DependencyViolation", f"resource {group.id} has a dependent object")
        self._drop(group)

    def change_rules(
        self, group: SecurityGroup, add: list[Rule], remove: list[Rule]
    ) -> SecurityGroup:
        """Authorize ``add`` (refusing duplicates) and revoke ``remove`` (refusing unknowns)."""
        rules = list(group.rules)
        for new in add:
            if any(r.same(new) for r in rules):
                from shoal.vpc.rules import describe

                raise AwsError("InvalidPermission.Duplicate", describe(new))
            if new.group_id and not isinstance(self._objects.get(new.group_id), SecurityGroup):
                raise not_found("sg", new.group_id)
            rules.append(new)
        for old in remove:
            match = next((r for r in rules if r.id == old.id or r.same(old)), None)
            if match is None:
                raise AwsError(
                    "InvalidPermission.NotFound",
                    "The specified rule does not exist in this security group.",
                )
            rules.remove(match)
        updated = replace(group, rules=tuple(rules))
        self._put(updated)
        return updated

    # ------------------------------------------------------------------ interfaces and tags

    def add_interface(self, subnet: Subnet, groups: Iterable[str], owner: str, description: str,
                      interface_type: str, requester_id: str, address: str | None = None,
                      ) -> NetworkInterface:  # fmt: skip
        eni = NetworkInterface(
            id=new_id("eni"), region=subnet.region, subnet_id=subnet.id, vpc_id=subnet.vpc_id,
            zone=subnet.zone, zone_id=subnet.zone_id,
            private_ip=address or self._free_address(subnet), groups=tuple(groups),
            description=description, interface_type=interface_type, requester_id=requester_id,
            owner=owner, mac="02:" + ":".join(new_id("x")[2:12][i:i + 2] for i in range(0, 10, 2)),
        )  # fmt: skip
        self._put(eni)
        return eni

    def owned_by(self, owner: str) -> list[NetworkInterface]:
        return sorted(
            (o for o in self._objects.values()
             if isinstance(o, NetworkInterface) and o.owner == owner),
            key=lambda o: o.id,
        )  # fmt: skip

    def remove_interfaces(self, interfaces: Iterable[NetworkInterface]) -> None:
        self._drop(*interfaces)

    def set_groups(self, eni: NetworkInterface, groups: Iterable[str]) -> NetworkInterface:
        updated = replace(eni, groups=tuple(groups))
        self._put(updated)
        return updated

    def _free_address(self, subnet: Subnet) -> str:
        used = {o.private_ip for o in self._objects.values() if isinstance(o, NetworkInterface)}
        network = ipaddress.ip_network(subnet.cidr)
        for i, host in enumerate(network.hosts()):
            if i >= 3 and str(host) not in used:  # AWS keeps the first four and the last
                return str(host)
        raise AwsError("InsufficientFreeAddressesInSubnet", f"Subnet {subnet.id} is full")

    def retag(self, region: str, resource_ids: Iterable[str],
              change: Callable[[Tags], Tags]) -> None:  # fmt: skip
        targets = []
        for resource_id in resource_ids:
            found = self._objects.get(resource_id)
            if found is None or found.region != region:
                prefix = resource_id.split("-", 1)[0]
                if prefix in _NOT_FOUND:
                    raise not_found(prefix, resource_id)
                raise AwsError("InvalidID", f'The ID \'{resource_id}\' is not valid')
            targets.append(replace(found, tags=change(found.tags)))
        self._put(*targets)


def _network(cidr: str, code: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise AwsError(code, f"The CIDR '{cidr}' is invalid.") from None
