"""What Lambda and EFS do with EC2: ``VpcConfig`` checked, and the network interfaces they make.

- :func:`lambda_vpc_config` checks a function's ``VpcConfig`` against the model, worded as
  Lambda words EC2's answer ("Error occurred while DescribeSubnets. EC2 Error Code: …"), and
  returns it with its ``VpcId``.
- A VPC function has one interface per subnet it names (across its versions), owned by
  ``function:NAME``, with Lambda's description; they follow every change of the function and
  go when it goes (:func:`function_changed`, subscribed to the function service).
- A mount target has one interface, owned by its id (:func:`mount_target_interface`).
- :func:`reconcile`, at start, drops interfaces whose owner no longer exists and makes the
  missing ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError, invalid_parameter
from shoal.vpc.models import NetworkInterface, SecurityGroup, Subnet

if TYPE_CHECKING:
    from shoal.vpc.service import VpcService

LAMBDA_PREFIX = "function:"


def _ec2_error(operation: str, error: AwsError) -> AwsError:
    return invalid_parameter(
        f"Error occurred while {operation}. EC2 Error Code: {error.code}. "
        f"EC2 Error Message: {error.message}"
    )


def lambda_vpc_config(vpc: VpcService, region: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """A function's VpcConfig as Lambda returns it (with VpcId), or the error Lambda gives."""
    subnet_ids = list(dict.fromkeys(config.get("SubnetIds") or ()))
    group_ids = list(dict.fromkeys(config.get("SecurityGroupIds") or ()))
    out: dict[str, Any] = {
        "SubnetIds": subnet_ids,
        "SecurityGroupIds": group_ids,
        "VpcId": "",
        "Ipv6AllowedForDualStack": bool(config.get("Ipv6AllowedForDualStack", False)),
    }
    if not subnet_ids and not group_ids:
        return out
    if not subnet_ids or not group_ids:
        raise invalid_parameter("SubnetIds and SecurityIds must coexist or be both empty list.")
    try:
        subnets = [vpc.get(Subnet, region, s) for s in subnet_ids]
    except AwsError as e:
        raise _ec2_error("DescribeSubnets", e) from None
    try:
        groups = [vpc.get(SecurityGroup, region, g) for g in group_ids]
    except AwsError as e:
        raise _ec2_error("DescribeSecurityGroups", e) from None
    if len({s.vpc_id for s in subnets}) > 1:
        raise invalid_parameter("Subnets are required to be in the same VPC.")
    if any(g.vpc_id != subnets[0].vpc_id for g in groups):
        raise invalid_parameter("Security Groups are required to be in the same VPC.")
    out["VpcId"] = subnets[0].vpc_id
    return out


def _wanted(functions: Any, name: str) -> dict[str, tuple[str, ...]]:
    """subnet id -> security groups, over every version of the function."""
    wanted: dict[str, tuple[str, ...]] = {}
    if functions.get(name) is None:
        return wanted
    for fv in functions.versions(name):
        config = getattr(fv, "vpc_config", None)
        if config is None:
            continue
        for subnet in config.subnet_ids:
            wanted.setdefault(subnet, tuple(config.security_group_ids))
    return wanted


def function_changed(vpc: VpcService, function_arn: str) -> None:
    """Make the interfaces of a function (its unqualified ARN: functions are per region, and
    so are the subnets it names) those its versions' VpcConfigs want."""
    functions = vpc.shoal.functions
    region, name = function_arn.split(":")[3], function_arn.rsplit(":", 1)[-1]
    owner = LAMBDA_PREFIX + function_arn
    wanted = _wanted(functions, function_arn)
    have = {eni.subnet_id: eni for eni in vpc.owned_by(owner)}
    vpc.remove_interfaces(eni for subnet, eni in have.items() if subnet not in wanted)
    for subnet_id, groups in wanted.items():
        if subnet_id in have:
            if have[subnet_id].groups != groups:
                vpc.set_groups(have[subnet_id], groups)
            continue
        try:
            subnet = vpc.get(Subnet, region, subnet_id)
        except AwsError:
            continue  # checked when configured; a restored database may lack it
        vpc.add_interface(
            subnet, groups, owner, f"AWS Lambda VPC ENI-{name}-{uuid.uuid4()}", "lambda",
            "AROAZ4LAMBDAVPCACCESS:" + name,
        )  # fmt: skip


def mount_target_interface(
    vpc: VpcService, subnet: Subnet, groups: Iterable[str], target_id: str, fs_id: str,
    address: str,
) -> NetworkInterface:  # fmt: skip
    return vpc.add_interface(
        subnet, groups, target_id, f"EFS mount target for {fs_id} ({target_id})", "efs",
        "amazon-elasticfilesystem", address,
    )  # fmt: skip


def reconcile(vpc: VpcService) -> None:
    functions = getattr(vpc.shoal, "functions", None)
    filesystems = getattr(vpc.shoal, "filesystems", None)
    if functions is not None:
        functions.subscribe(lambda arn: function_changed(vpc, arn))
        owners = {e.owner for r in list(vpc._regions) for e in vpc.interfaces(r) if e.owner}
        found = {o[len(LAMBDA_PREFIX) :] for o in owners if o.startswith(LAMBDA_PREFIX)}
        # Owned by a function's name before regions: made again below, owned by its ARN.
        for legacy in [f for f in found if not f.startswith("arn:")]:
            vpc.remove_interfaces(vpc.owned_by(LAMBDA_PREFIX + legacy))
            found.discard(legacy)
        for arn in found | set(functions.names()):
            function_changed(vpc, arn)
    if filesystems is not None:
        targets = {t.id for t in filesystems.targets.all()}
        for region in list(vpc._regions):
            vpc.remove_interfaces(
                e for e in vpc.interfaces(region)
                if e.owner and e.owner.startswith("fsmt-") and e.owner not in targets
            )  # fmt: skip
