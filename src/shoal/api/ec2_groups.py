"""EC2's security group operations: groups, their ingress and egress rules
(Authorize/Revoke), and DescribeSecurityGroupRules. The rules' form is
:mod:`shoal.vpc.rules`'s; the state is ``shoal.vpc``'s (see :mod:`shoal.api.ec2`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoal.api.ec2 import account, spec_tags, tag_list, vpc_service
from shoal.api.query_router import FormCall, ec2_api
from shoal.errors import AwsError
from shoal.vpc import filters, rules
from shoal.vpc.models import Rule, SecurityGroup

# ------------------------------------------------------------------------ security groups


def _permissions(call: FormCall, group: SecurityGroup, egress: bool) -> list[dict[str, Any]]:
    out = rules.to_permissions(r for r in group.rules if r.egress == egress)
    for p in out:
        for pair in p["UserIdGroupPairs"]:
            pair["UserId"] = account(call)
    return out


def _group(call: FormCall, g: SecurityGroup) -> dict[str, Any]:
    return {
        "GroupId": g.id, "GroupName": g.name, "Description": g.description, "VpcId": g.vpc_id,
        "OwnerId": account(call), "Tags": tag_list(g.tags),
        "SecurityGroupArn": f"arn:aws:ec2:{g.region}:{account(call)}:security-group/{g.id}",
        "IpPermissions": _permissions(call, g, False),
        "IpPermissionsEgress": _permissions(call, g, True),
    }  # fmt: skip


@ec2_api.handles("DescribeSecurityGroups")
async def describe_security_groups(call: FormCall) -> dict[str, Any]:
    svc = vpc_service(call)
    found = svc.pick(SecurityGroup, call.region, call.params.get("GroupIds"))
    for name in call.params.get("GroupNames") or ():
        svc.group_by(call.region, None, name)  # refuses a name the default VPC lacks
    if call.params.get("GroupNames"):
        default = svc.default_vpc(call.region)
        found = [g for g in found if g.name in call.params["GroupNames"]
                 and default is not None and g.vpc_id == default.id]  # fmt: skip
    found = filters.apply(found, call.params.get("Filters"))
    return {"SecurityGroups": [_group(call, g) for g in found]}


@ec2_api.handles("CreateSecurityGroup")
async def create_security_group(call: FormCall) -> dict[str, Any]:
    p = call.params
    group = vpc_service(call).create_group(
        call.region, p.get("VpcId"), p["GroupName"], p["Description"],
        spec_tags(p, "security-group"),
    )  # fmt: skip
    return {"GroupId": group.id, "Tags": tag_list(group.tags),
            "SecurityGroupArn": _group(call, group)["SecurityGroupArn"]}  # fmt: skip


@ec2_api.handles("DeleteSecurityGroup")
async def delete_security_group(call: FormCall) -> dict[str, Any]:
    svc = vpc_service(call)
    group = svc.group_by(call.region, call.params.get("GroupId"), call.params.get("GroupName"))
    svc.delete_group(call.region, group)
    return {"Return": True, "GroupId": group.id}


def _change(call: FormCall, egress: bool, authorize: bool) -> dict[str, Any]:
    p = call.params
    svc = vpc_service(call)
    group = svc.group_by(call.region, p.get("GroupId"), p.get("GroupName"))
    wanted = rules.from_permissions(p.get("IpPermissions") or (), egress)
    wanted += rules.from_flat(p, egress)
    if not authorize:
        by_id = {r.id: r for r in group.rules}
        for rule_id in p.get("SecurityGroupRuleIds") or ():
            if rule_id not in by_id:
                message = f"The security group rule ID '{rule_id}' does not exist"
                raise AwsError("InvalidSecurityGroupRuleId.NotFound", message)
            wanted.append(by_id[rule_id])
    svc.change_rules(group, wanted if authorize else [], [] if authorize else wanted)
    if not authorize:
        return {"Return": True}
    return {"Return": True, "SecurityGroupRules": [_rule(call, group, r) for r in wanted]}


def _rule(call: FormCall, group: SecurityGroup, r: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "SecurityGroupRuleId": r.id, "GroupId": group.id, "GroupOwnerId": account(call),
        "IsEgress": r.egress, "IpProtocol": r.protocol, "FromPort": r.from_port,
        "ToPort": r.to_port, "CidrIpv4": r.cidr_ipv4, "CidrIpv6": r.cidr_ipv6,
        "PrefixListId": r.prefix_list_id, "Description": r.description, "Tags": [],
        "SecurityGroupRuleArn": f"arn:aws:ec2:{group.region}:{account(call)}:"
                                f"security-group-rule/{r.id}",
    }  # fmt: skip
    if r.from_port is None:
        out["FromPort"] = out["ToPort"] = -1
    if r.group_id:
        out["ReferencedGroupInfo"] = {"GroupId": r.group_id, "UserId": account(call)}
    return out


@ec2_api.handles("AuthorizeSecurityGroupIngress")
async def authorize_ingress(call: FormCall) -> dict[str, Any]:
    return _change(call, egress=False, authorize=True)


@ec2_api.handles("AuthorizeSecurityGroupEgress")
async def authorize_egress(call: FormCall) -> dict[str, Any]:
    return _change(call, egress=True, authorize=True)


@ec2_api.handles("RevokeSecurityGroupIngress")
async def revoke_ingress(call: FormCall) -> dict[str, Any]:
    return _change(call, egress=False, authorize=False)


@ec2_api.handles("RevokeSecurityGroupEgress")
async def revoke_egress(call: FormCall) -> dict[str, Any]:
    return _change(call, egress=True, authorize=False)


@ec2_api.handles("DescribeSecurityGroupRules")
async def describe_security_group_rules(call: FormCall) -> dict[str, Any]:
    wanted_ids = set(call.params.get("SecurityGroupRuleIds") or ())
    out = []
    for group in vpc_service(call).groups(call.region):
        for r in group.rules:
            rendered = _rule(call, group, r)
            if wanted_ids and r.id not in wanted_ids:
                continue
            if all(_rule_matches(rendered, f) for f in call.params.get("Filters") or ()):
                out.append(rendered)
    return {"SecurityGroupRules": out}


def _rule_matches(rule: dict[str, Any], f: Mapping[str, Any]) -> bool:
    key = {"group-id": "GroupId", "security-group-rule-id": "SecurityGroupRuleId"}.get(f["Name"])
    if key is None:
        raise AwsError("InvalidParameterValue", f"The filter '{f['Name']}' is invalid")
    return rule[key] in (f.get("Values") or ())
