"""The EC2 API through boto3 (the ``ec2`` protocol on Shoal's one port): the default VPC per
region, VPCs, subnets, security groups and rules, tags, zones, and EC2's errors."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ShoalServer, create_function, signed_headers, start_server


def ec2_in(server: ShoalServer, region: str) -> Any:
    return boto3.client(
        "ec2", endpoint_url=server.endpoint, region_name=region, aws_access_key_id="shoal",
        aws_secret_access_key="shoal", config=Config(retries={"max_attempts": 0}),
    )  # fmt: skip


def code(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_default_vpc_per_region(server: ShoalServer) -> None:
    east, west = ec2_in(server, "us-east-1"), ec2_in(server, "eu-west-1")
    (vpc,) = east.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    assert vpc["CidrBlock"] == "172.31.0.0/16" and vpc["IsDefault"] is True
    assert vpc["VpcId"].startswith("vpc-") and len(vpc["VpcId"]) == 21
    (other,) = west.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert other["VpcId"] != vpc["VpcId"]
    assert west.describe_vpcs(VpcIds=[other["VpcId"]])["Vpcs"][0]["VpcId"] == other["VpcId"]
    with pytest.raises(ClientError) as e:
        west.describe_vpcs(VpcIds=[vpc["VpcId"]])  # another region's
    assert code(e) == ("InvalidVpcID.NotFound", 400)

    zones = east.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == [f"us-east-1{c}" for c in "abcdef"]
    assert zones[0]["ZoneId"] == "use1-az1" and zones[0]["State"] == "available"
    west_zones = west.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneId"] for z in west_zones] == ["euw1-az1", "euw1-az2", "euw1-az3"]

    subnets = east.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                 {"Name": "default-for-az", "Values": ["true"]}]
    )["Subnets"]  # fmt: skip
    assert sorted(s["AvailabilityZone"] for s in subnets) == [z["ZoneName"] for z in zones]
    assert sorted(s["CidrBlock"] for s in subnets)[0] == "172.31.0.0/20"
    # A /20 less AWS's five addresses and the interfaces other tests' functions hold there.
    for s in subnets:
        held = east.describe_network_interfaces(
            Filters=[{"Name": "subnet-id", "Values": [s["SubnetId"]]}]
        )["NetworkInterfaces"]
        assert s["AvailableIpAddressCount"] == 4091 - len(held)
    (group,) = east.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["default"]},
                 {"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
    )["SecurityGroups"]  # fmt: skip
    assert group["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert group["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == group["GroupId"]
    attrs = east.describe_account_attributes(AttributeNames=["default-vpc"])
    assert attrs["AccountAttributes"][0]["AttributeValues"] == [{"AttributeValue": vpc["VpcId"]}]
    dns = east.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsSupport")
    assert dns["EnableDnsSupport"] == {"Value": True}


def test_vpc_subnet_group_lifecycle(server: ShoalServer) -> None:
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(
        CidrBlock="10.20.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "app"}]}],
    )["Vpc"]
    vpc_id = vpc["VpcId"]
    found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["app"]}])["Vpcs"]
    assert [v["VpcId"] for v in found] == [vpc_id]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24",
                               AvailabilityZone="us-east-1b")["Subnet"]  # fmt: skip
    assert subnet["AvailabilityZoneId"] == "use1-az2" and subnet["DefaultForAz"] is False
    with pytest.raises(ClientError) as e:
        ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.128/25")
    assert code(e) == ("InvalidSubnet.Conflict", 400)
    with pytest.raises(ClientError) as e:
        ec2.create_subnet(VpcId=vpc_id, CidrBlock="192.168.0.0/24")
    assert code(e) == ("InvalidSubnet.Range", 400)
    group_id = ec2.create_security_group(
        GroupName="web", Description="web servers", VpcId=vpc_id
    )["GroupId"]
    with pytest.raises(ClientError) as e:
        ec2.create_security_group(GroupName="web", Description="again", VpcId=vpc_id)
    assert code(e) == ("InvalidGroup.Duplicate", 400)
    http = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
            "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "internal"}]}  # fmt: skip
    added = ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[http])
    (rule,) = added["SecurityGroupRules"]
    assert rule["SecurityGroupRuleId"].startswith("sgr-") and rule["CidrIpv4"] == "10.0.0.0/8"
    with pytest.raises(ClientError) as e:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[http])
    assert code(e) == ("InvalidPermission.Duplicate", 400)
    (g,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert g["IpPermissions"] == [{**http, "UserIdGroupPairs": [], "Ipv6Ranges": [],
                                   "PrefixListIds": []}]  # fmt: skip
    ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[http])
    with pytest.raises(ClientError) as e:
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[http])
    assert code(e) == ("InvalidPermission.NotFound", 400)
    ec2.create_tags(Resources=[subnet["SubnetId"]], Tags=[{"Key": "tier", "Value": "db"}])
    tagged = ec2.describe_subnets(Filters=[{"Name": "tag:tier", "Values": ["db"]}])["Subnets"]
    assert [s["SubnetId"] for s in tagged] == [subnet["SubnetId"]]
    ec2.delete_tags(Resources=[subnet["SubnetId"]], Tags=[{"Key": "tier"}])
    assert ec2.describe_subnets(Filters=[{"Name": "tag:tier", "Values": ["db"]}])["Subnets"] == []

    with pytest.raises(ClientError) as e:
        ec2.delete_vpc(VpcId=vpc_id)
    assert code(e) == ("DependencyViolation", 400)
    default_group = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name",
                                                         "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]  # fmt: skip
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupId=default_group)
    assert code(e) == ("CannotDelete", 400)
    ec2.delete_security_group(GroupId=group_id)
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc_id)
    for call, kwargs, expected in (
        (ec2.describe_vpcs, {"VpcIds": [vpc_id]}, "InvalidVpcID.NotFound"),
        (ec2.describe_subnets, {"SubnetIds": [subnet["SubnetId"]]}, "InvalidSubnetID.NotFound"),
        (ec2.describe_security_groups, {"GroupIds": [group_id]}, "InvalidGroup.NotFound"),
        (ec2.describe_vpcs, {"VpcIds": ["nope"]}, "InvalidVpcID.Malformed"),
        (ec2.describe_subnets, {"Filters": [{"Name": "colour", "Values": ["x"]}]},
         "InvalidParameterValue"),
    ):  # fmt: skip
        with pytest.raises(ClientError) as e:
            call(**kwargs)
        assert code(e) == (expected, 400)


def test_egress_rules_as_terraform_changes_them(server: ShoalServer) -> None:
    """A new group may send anywhere; Terraform revokes that rule and authorizes its own."""
    ec2 = server.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.21.0.0/16")["Vpc"]["VpcId"]
    group_id = ec2.create_security_group(
        GroupName="egress", Description="egress", VpcId=vpc_id
    )["GroupId"]
    everything = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    (g,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert g["IpPermissionsEgress"] == [{**everything, "UserIdGroupPairs": [], "Ipv6Ranges": [],
                                         "PrefixListIds": []}]  # fmt: skip
    ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[everything])
    (g,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert g["IpPermissionsEgress"] == []
    with pytest.raises(ClientError) as e:
        ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[everything])
    assert code(e) == ("InvalidPermission.NotFound", 400)
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
             "IpRanges": [{"CidrIp": "10.21.0.0/16"}]}  # fmt: skip
    (rule,) = ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[https])[
        "SecurityGroupRules"
    ]
    assert rule["IsEgress"] is True and rule["FromPort"] == 443 and rule["GroupId"] == group_id
    with pytest.raises(ClientError) as e:
        ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[https])
    assert code(e) == ("InvalidPermission.Duplicate", 400)
    rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group_id]}]
    )["SecurityGroupRules"]
    assert [(r["IsEgress"], r["FromPort"]) for r in rules] == [(True, 443)]
    (g,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert g["IpPermissions"] == []  # ingress untouched
    ec2.delete_security_group(GroupId=group_id)
    ec2.delete_vpc(VpcId=vpc_id)


def _post(server: ShoalServer, body: str, service: str | None = "ec2",
          region: str = "us-east-1") -> tuple[int, str]:  # fmt: skip
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    if service:
        headers = signed_headers("POST", server.endpoint + "/", body.encode(), service, region,
                                 headers)  # fmt: skip
    request = urllib.request.Request(server.endpoint + "/", data=body.encode(), headers=headers)
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode()


def test_protocol_errors_in_ec2s_shape(server: ShoalServer) -> None:
    status, body = _post(server, "Action=RunAway&Version=2016-11-15")
    assert status == 400
    assert "<Response><Errors><Error><Code>InvalidAction</Code>" in body and "<RequestID>" in body
    status, body = _post(server, "Action=DescribeVpcs&Version=2016-11-15&Colour=blue")
    assert (status, "<Code>UnknownParameter</Code>" in body) == (400, True)
    status, body = _post(server, "Action=DeleteVpc&Version=2016-11-15")
    assert (status, "<Code>MissingParameter</Code>" in body) == (400, True)
    assert "The request must contain the parameter VpcId" in body
    status, body = _post(server, "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.1.0.0/16"
                                 "&DryRun=true")  # fmt: skip
    assert (status, "<Code>DryRunOperation</Code>" in body) == (412, True)
    assert "10.1.0.0/16" not in _post(server, "Action=DescribeVpcs&Version=2016-11-15")[1]
    status, body = _post(server, "Action=DescribeVpcs&Version=2016-11-15&MaxResults=lots")
    assert (status, "<Code>InvalidParameterValue</Code>" in body) == (400, True)
    # Signed, the answer is EC2's XML, with requestId first.
    status, body = _post(server, "Action=DescribeAvailabilityZones&Version=2016-11-15")
    assert status == 200
    assert body.split("\n", 1)[1].startswith(
        '<DescribeAvailabilityZonesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        "<requestId>"
    )
    # Unsigned, from loopback too: refused, in the shape of the service its Version names.
    status, body = _post(server, "Action=DescribeAvailabilityZones&Version=2016-11-15", None)
    assert (status, "<Code>MissingAuthenticationToken</Code>" in body) == (401, True), body
    assert "<Response><Errors><Error>" in body
    status, body = _post(server, "Action=GetCallerIdentity&Version=2011-06-15", None)
    assert (status, "<Code>MissingAuthenticationToken</Code>" in body) == (403, True), body
    assert "<ErrorResponse" in body
    # A scope with no real region makes no state for it.
    status, body = _post(
        server, "Action=DescribeVpcs&Version=2016-11-15", "ec2", region="not-a-region"
    )
    assert (status, "<Code>AuthFailure</Code>" in body) == (401, True)
    # A query-protocol service Shoal does not serve (SQS): the query XML error, not a 404.
    status, body = _post(server, "Action=ListQueues&Version=2012-11-05", "sqs")
    assert status == 400 and "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction" in body


def test_ec2_metadata_survives_restart(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        ec2 = srv.client("ec2")
        default = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        group_id = ec2.create_security_group(
            GroupName="db", Description="db", VpcId=vpc_id
        )["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group_id, IpProtocol="tcp", FromPort=5432, ToPort=5432, CidrIp="10.9.0.0/16"
        )
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
        lam = srv.client("lambda")
        name = create_function(lam, VpcConfig={"SubnetIds": [subnet],
                                               "SecurityGroupIds": [group_id]})  # fmt: skip
        enis = ec2.describe_network_interfaces()["NetworkInterfaces"]
    finally:
        srv.stop()
    srv = start_server(tmp_path / "data")
    try:
        ec2 = srv.client("ec2")
        ids = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}
        assert ids == {default, vpc_id}  # the default VPC is not made twice
        (g,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        assert g["IpPermissions"][0]["FromPort"] == 5432
        # The function's interface is the same one, and still goes with the function.
        assert ec2.describe_network_interfaces()["NetworkInterfaces"] == enis
        srv.client("lambda").delete_function(FunctionName=name)
        assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []
        ec2.delete_subnet(SubnetId=subnet)
    finally:
        srv.stop()
