"""EC2 API handlers (``POST /`` with ``Action=``, the ``ec2`` protocol): VPCs, subnets,
security groups and their rules, network interfaces, zones, tags and the account's attributes.

Each handler maps the model's members to a call on ``shoal.vpc`` (:mod:`shoal.vpc.service`) in
the region of the request's credential scope, and renders the result in the model's output
shape; the wire format is :mod:`shoal.api.ec2_protocol`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoal.api.query_router import FormCall, ec2_api
from shoal.errors import AwsError
from shoal.vpc import filters, zones
from shoal.vpc.models import NetworkInterface, Subnet, Tags, Vpc
from shoal.vpc.service import VpcService


def vpc_service(call: FormCall) -> VpcService:
    service: VpcService = call.shoal.vpc
    return service


def tag_list(tags: Tags) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags]


def spec_tags(params: Mapping[str, Any], kind: str) -> Tags:
    out: list[tuple[str, str]] = []
    for spec in params.get("TagSpecifications") or ():
        if spec.get("ResourceType", kind) == kind:
            out.extend((t["Key"], t.get("Value", "")) for t in spec.get("Tags") or ())
    return tuple(out)


def account(call: FormCall) -> str:
    return str(call.shoal.settings.account_id)


# ------------------------------------------------------------------------ zones and account


@ec2_api.handles("DescribeAvailabilityZones")
async def describe_availability_zones(call: FormCall) -> dict[str, Any]:
    p = call.params
    wanted = set(p.get("ZoneNames") or ()) | set(p.get("ZoneIds") or ())
    found = [z for z in zones.zones(call.region) if not wanted or wanted & {z.name, z.id}]
    for f in p.get("Filters") or ():
        getter = {"zone-name": "name", "zone-id": "id", "region-name": "region"}.get(f["Name"])
        if f["Name"] in ("state", "opt-in-status", "zone-type"):
            continue  # every modelled zone is an available, opted-in availability zone
        if getter is None:
            raise AwsError("InvalidParameterValue", f"The filter '{f['Name']}' is invalid")
        found = [z for z in found if getattr(z, getter) in f.get("Values", ())]
    return {"AvailabilityZones": [{
        "State": "available", "OptInStatus": "opt-in-not-required", "Messages": [],
        "RegionName": z.region, "ZoneName": z.name, "ZoneId": z.id, "GroupName": z.region,
        "NetworkBorderGroup": z.region, "ZoneType": "availability-zone",
    } for z in found]}  # fmt: skip


@ec2_api.handles("DescribeAccountAttributes")
async def describe_account_attributes(call: FormCall) -> dict[str, Any]:
    default = vpc_service(call).default_vpc(call.region)
    values = {
        "supported-platforms": ["VPC"],
        "default-vpc": [default.id if default else "none"],
        "max-instances": ["20"],
        "vpc-max-security-groups-per-interface": ["5"],
        "max-elastic-ips": ["5"],
        "vpc-max-elastic-ips": ["5"],
    }
    names = call.params.get("AttributeNames") or list(values)
    return {"AccountAttributes": [
        {"AttributeName": n, "AttributeValues": [{"AttributeValue": v} for v in values[n]]}
        for n in names if n in values
    ]}  # fmt: skip


# ------------------------------------------------------------------------ VPCs


def _vpc(call: FormCall, v: Vpc) -> dict[str, Any]:
    return {
        "VpcId": v.id, "OwnerId": account(call), "State": "available", "CidrBlock": v.cidr,
        "DhcpOptionsId": v.dhcp_options_id, "InstanceTenancy": v.instance_tenancy,
        "IsDefault": v.is_default, "Tags": tag_list(v.tags),
        "CidrBlockAssociationSet": [{"AssociationId": v.cidr_association_id, "CidrBlock": v.cidr,
                                     "CidrBlockState": {"State": "associated"}}],
        "Ipv6CidrBlockAssociationSet": [],
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
    }  # fmt: skip


@ec2_api.handles("DescribeVpcs")
async def describe_vpcs(call: FormCall) -> dict[str, Any]:
    found = vpc_service(call).pick(Vpc, call.region, call.params.get("VpcIds"))
    return {"Vpcs": [_vpc(call, v) for v in filters.apply(found, call.params.get("Filters"))]}


@ec2_api.handles("CreateVpc")
async def create_vpc(call: FormCall) -> dict[str, Any]:
    if "CidrBlock" not in call.params:
        raise AwsError("MissingParameter", "The request must contain the parameter CidrBlock")
    vpc = vpc_service(call).create_vpc(
        call.region, call.params["CidrBlock"], spec_tags(call.params, "vpc")
    )
    return {"Vpc": {**_vpc(call, vpc), "State": "pending"}}


@ec2_api.handles("DeleteVpc")
async def delete_vpc(call: FormCall) -> None:
    vpc_service(call).delete_vpc(call.region, call.params["VpcId"])


_VPC_ATTRIBUTES = {
    "enableDnsSupport": ("EnableDnsSupport", "enable_dns_support"),
    "enableDnsHostnames": ("EnableDnsHostnames", "enable_dns_hostnames"),
    "enableNetworkAddressUsageMetrics": ("EnableNetworkAddressUsageMetrics", None),
}


@ec2_api.handles("DescribeVpcAttribute")
async def describe_vpc_attribute(call: FormCall) -> dict[str, Any]:
    vpc = vpc_service(call).get(Vpc, call.region, call.params["VpcId"])
    member, attr = _VPC_ATTRIBUTES[call.params["Attribute"]]
    value = bool(getattr(vpc, attr)) if attr else False
    return {"VpcId": vpc.id, member: {"Value": value}}


@ec2_api.handles("ModifyVpcAttribute")
async def modify_vpc_attribute(call: FormCall) -> None:
    changes = {
        attr: call.params[member]["Value"]
        for member, attr in _VPC_ATTRIBUTES.values()
        if attr and member in call.params
    }
    vpc_service(call).modify_vpc(call.region, call.params["VpcId"], **changes)


@ec2_api.handles("DescribeRouteTables")
async def describe_route_tables(call: FormCall) -> dict[str, Any]:
    """Each VPC's main route table, with its local route (the model has no others)."""
    tables = []
    for v in vpc_service(call).vpcs(call.region):
        table = {"RouteTableId": v.main_route_table_id, "VpcId": v.id, "OwnerId": account(call),
                 "Routes": [{"DestinationCidrBlock": v.cidr, "GatewayId": "local",
                             "Origin": "CreateRouteTable", "State": "active"}],
                 "Associations": [{"Main": True, "RouteTableId": v.main_route_table_id,
                                   "RouteTableAssociationId": "rtbassoc-" + v.id[4:],
                                   "AssociationState": {"State": "associated"}}],
                 "Tags": [], "PropagatingVgws": []}  # fmt: skip
        ids = call.params.get("RouteTableIds")
        if ids and v.main_route_table_id not in ids:
            continue
        if all(_table_matches(table, f) for f in call.params.get("Filters") or ()):
            tables.append(table)
    return {"RouteTables": tables}


def _table_matches(table: dict[str, Any], f: Mapping[str, Any]) -> bool:
    values = {
        "vpc-id": [table["VpcId"]], "route-table-id": [table["RouteTableId"]],
        "association.main": ["true"],
    }.get(f["Name"])  # fmt: skip
    if values is None:
        return False  # subnet associations and the rest: the model has none
    return bool(set(values) & set(f.get("Values") or ()))


# ------------------------------------------------------------------------ subnets


def _subnet(call: FormCall, s: Subnet) -> dict[str, Any]:
    used = sum(1 for e in vpc_service(call).interfaces(call.region) if e.subnet_id == s.id)
    size = 2 ** (32 - int(s.cidr.split("/")[1]))
    return {
        "SubnetId": s.id, "SubnetArn": f"arn:aws:ec2:{s.region}:{account(call)}:subnet/{s.id}",
        "VpcId": s.vpc_id, "CidrBlock": s.cidr, "AvailabilityZone": s.zone,
        "AvailabilityZoneId": s.zone_id, "State": "available", "OwnerId": account(call),
        "AvailableIpAddressCount": size - 5 - used, "DefaultForAz": s.default_for_az,
        "MapPublicIpOnLaunch": s.map_public_ip_on_launch, "MapCustomerOwnedIpOnLaunch": False,
        "AssignIpv6AddressOnCreation": False, "Ipv6CidrBlockAssociationSet": [],
        "Ipv6Native": False, "EnableDns64": False, "Tags": tag_list(s.tags),
        "PrivateDnsNameOptionsOnLaunch": {"HostnameType": "ip-name",
                                          "EnableResourceNameDnsARecord": False,
                                          "EnableResourceNameDnsAAAARecord": False},
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
    }  # fmt: skip


@ec2_api.handles("DescribeSubnets")
async def describe_subnets(call: FormCall) -> dict[str, Any]:
    found = vpc_service(call).pick(Subnet, call.region, call.params.get("SubnetIds"))
    found = filters.apply(found, call.params.get("Filters"))
    return {"Subnets": [_subnet(call, s) for s in found]}


@ec2_api.handles("CreateSubnet")
async def create_subnet(call: FormCall) -> dict[str, Any]:
    p = call.params
    if "CidrBlock" not in p:
        raise AwsError("MissingParameter", "The request must contain the parameter CidrBlock")
    subnet = vpc_service(call).create_subnet(
        call.region, p["VpcId"], p["CidrBlock"], p.get("AvailabilityZone") or
        p.get("AvailabilityZoneId"), spec_tags(p, "subnet"),
    )  # fmt: skip
    return {"Subnet": _subnet(call, subnet)}


@ec2_api.handles("DeleteSubnet")
async def delete_subnet(call: FormCall) -> None:
    vpc_service(call).delete_subnet(call.region, call.params["SubnetId"])


# ------------------------------------------------------------------------ interfaces and tags


def _interface(call: FormCall, e: NetworkInterface) -> dict[str, Any]:
    svc = vpc_service(call)
    names = {g.id: g.name for g in svc.groups(call.region)}
    return {
        "NetworkInterfaceId": e.id, "SubnetId": e.subnet_id, "VpcId": e.vpc_id,
        "AvailabilityZone": e.zone, "AvailabilityZoneId": e.zone_id, "Description": e.description,
        "Groups": [{"GroupId": g, "GroupName": names.get(g, "")} for g in e.groups],
        "InterfaceType": e.interface_type, "MacAddress": e.mac, "OwnerId": account(call),
        "PrivateIpAddress": e.private_ip, "RequesterId": e.requester_id,
        "RequesterManaged": e.requester_managed, "SourceDestCheck": True,
        "Status": "in-use" if e.owner else "available", "TagSet": tag_list(e.tags),
        "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": e.private_ip}],
        "Ipv6Addresses": [],
    }  # fmt: skip


@ec2_api.handles("DescribeNetworkInterfaces")
async def describe_network_interfaces(call: FormCall) -> dict[str, Any]:
    ids = call.params.get("NetworkInterfaceIds")
    found = vpc_service(call).pick(NetworkInterface, call.region, ids)
    found = filters.apply(found, call.params.get("Filters"))
    return {"NetworkInterfaces": [_interface(call, e) for e in found]}


@ec2_api.handles("DeleteNetworkInterface")
async def delete_network_interface(call: FormCall) -> None:
    svc = vpc_service(call)
    eni = svc.get(NetworkInterface, call.region, call.params["NetworkInterfaceId"])
    if eni.owner is not None:
        raise AwsError(
            "InvalidParameterValue", f"Network interface '{eni.id}' is currently in use."
        )
    svc.remove_interfaces([eni])


@ec2_api.handles("CreateTags")
async def create_tags(call: FormCall) -> None:
    new = [(t["Key"], t.get("Value", "")) for t in call.params["Tags"]]
    keys = {k for k, _ in new}
    def change(tags: Tags) -> Tags:
        return tuple(t for t in tags if t[0] not in keys) + tuple(new)

    vpc_service(call).retag(call.region, call.params["Resources"], change)


@ec2_api.handles("DeleteTags")
async def delete_tags(call: FormCall) -> None:
    gone = {t["Key"]: t.get("Value") for t in call.params.get("Tags") or ()}

    def keep(tag: tuple[str, str]) -> bool:
        if not gone:
            return False  # no Tags: every tag goes
        return tag[0] not in gone or gone[tag[0]] not in (None, tag[1])

    vpc_service(call).retag(call.region, call.params["Resources"],
                     lambda tags: tuple(t for t in tags if keep(t)))  # fmt: skip
