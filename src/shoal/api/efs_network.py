"""A mount target's place in the EC2 model: its subnet checked, its network interface, its
security groups (``Describe``/``ModifyMountTargetSecurityGroups``).

A mount target is served where Shoal serves NFS (``--nfs-address``); what EC2 shows is
metadata kept consistent with it: the subnet must exist (``SubnetNotFound``), One Zone file
systems take a subnet of their zone (``AvailabilityZonesMismatch``), the groups must exist in
the subnet's VPC (``SecurityGroupNotFound``, the VPC's ``default`` group when none is given),
all of a file system's targets are in one VPC (``MountTargetConflict``), and each target has one
network interface, made with it and deleted with it, which carries its groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shoal.api.dispatch import Call, efs_api
from shoal.errors import AwsError
from shoal.filesystems.models import FileSystem, MountTarget
from shoal.vpc import interfaces, zones
from shoal.vpc.models import NetworkInterface, SecurityGroup, Subnet

if TYPE_CHECKING:
    from shoal.vpc.service import VpcService

MAX_GROUPS = 5


def _vpc(call: Call) -> VpcService:
    service: VpcService = call.shoal.vpc
    return service


def _groups(vpc: VpcService, region: str, subnet: Subnet, given: list[str] | None) -> list[str]:
    if not given:
        return [vpc.default_group(region, subnet.vpc_id).id]
    if len(given) > MAX_GROUPS:
        raise AwsError(
            "SecurityGroupLimitExceeded",
            f"The number of security groups is more than the limit of {MAX_GROUPS}.",
        )
    for group_id in given:
        try:
            group = vpc.get(SecurityGroup, region, group_id)
        except AwsError:
            group = None
        if group is None or group.vpc_id != subnet.vpc_id:
            raise AwsError(
                "SecurityGroupNotFound",
                f"The security group '{group_id}' does not exist in VPC '{subnet.vpc_id}'",
            )
    return list(dict.fromkeys(given))


def placement(call: Call, fs: FileSystem, params: Mapping[str, Any]) -> tuple[Subnet, list[str]]:
    """CreateMountTarget's subnet and security groups, checked against the EC2 model."""
    vpc = _vpc(call)
    region = fs.region  # the request's too (shoal.api.efs refuses another region's)
    try:
        subnet = vpc.get(Subnet, region, params["SubnetId"])
    except AwsError:
        raise AwsError(
            "SubnetNotFound", f"The subnet ID '{params['SubnetId']}' does not exist"
        ) from None
    if fs.availability_zone and subnet.zone != fs.availability_zone:
        raise AwsError(
            "AvailabilityZonesMismatch",
            f"The subnet's Availability Zone {subnet.zone} does not match the file system's "
            f"Availability Zone {fs.availability_zone}.",
        )
    for target in call.shoal.filesystems.targets.for_file_system(fs.id):
        eni = interface(vpc, target)
        if eni is not None and eni.vpc_id != subnet.vpc_id:
            raise AwsError(
                "MountTargetConflict",
                f"File system '{fs.id}' already has mount targets in VPC '{eni.vpc_id}'.",
            )
    return subnet, _groups(vpc, region, subnet, params.get("SecurityGroups"))


def attach(call: Call, target: MountTarget, subnet: Subnet, groups: list[str]) -> None:
    interfaces.mount_target_interface(
        _vpc(call), subnet, groups, target.id, target.file_system_id, target.ip_address
    )


def detach(call: Call, target_id: str) -> None:
    vpc = _vpc(call)
    vpc.remove_interfaces(vpc.owned_by(target_id))


def interface(vpc: VpcService | None, target: MountTarget) -> NetworkInterface | None:
    if vpc is None:
        return None
    owned = vpc.owned_by(target.id)
    return owned[0] if owned else None


def describe(call: Call, target: MountTarget) -> dict[str, Any]:
    """The EC2 members of a mount target's description."""
    region = call.region  # a mount target of another region is refused before this
    eni = interface(getattr(call.shoal, "vpc", None), target)
    if eni is None:  # made before Shoal modelled EC2
        zone = zones.zone(region, target.availability_zone)
        return {
            "NetworkInterfaceId": "eni-" + target.id.removeprefix("fsmt-"),
            "AvailabilityZoneId": zone.id if zone else None,
            "VpcId": "vpc-" + target.file_system_id.removeprefix("fs-"),
        }
    return {"NetworkInterfaceId": eni.id, "AvailabilityZoneId": eni.zone_id, "VpcId": eni.vpc_id}


@efs_api.handles("DescribeMountTargetSecurityGroups")
async def describe_mount_target_security_groups(call: Call) -> dict[str, Any]:
    target = call.shoal.filesystems.targets.get(call.params["MountTargetId"])
    eni = interface(getattr(call.shoal, "vpc", None), target)
    return {"SecurityGroups": list(eni.groups) if eni else []}


@efs_api.handles("ModifyMountTargetSecurityGroups")
async def modify_mount_target_security_groups(call: Call) -> None:
    target = call.shoal.filesystems.targets.get(call.params["MountTargetId"])
    if target.lifecycle_state != "available":
        raise AwsError(
            "IncorrectMountTargetState",
            f"Mount target '{target.id}' is in state {target.lifecycle_state}, not available.",
        )
    vpc = _vpc(call)
    eni = interface(vpc, target)
    if eni is None:
        raise AwsError(
            "IncorrectMountTargetState", f"Mount target '{target.id}' has no network interface."
        )
    subnet = vpc.get(Subnet, eni.region, eni.subnet_id)
    vpc.set_groups(eni, _groups(vpc, eni.region, subnet, call.params.get("SecurityGroups")))
