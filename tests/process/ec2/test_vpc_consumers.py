"""Lambda's VpcConfig and EFS's mount targets, checked against the EC2 model, and the network
interfaces they make and delete (Terraform waits for those on destroy)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ShoalServer, create_function, unique_name, wait_for


def _default(ec2: Any) -> tuple[str, list[str], str]:
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                 {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]  # fmt: skip
    zones = sorted(subnets["Subnets"], key=lambda s: s["AvailabilityZone"])
    return vpc["VpcId"], [s["SubnetId"] for s in zones], group["GroupId"]


def _enis(ec2: Any, **filters: str) -> list[dict[str, Any]]:
    wanted = [{"Name": k.replace("_", "-"), "Values": [v]} for k, v in filters.items()]
    return list(ec2.describe_network_interfaces(Filters=wanted)["NetworkInterfaces"])


def test_vpc_config_round_trip_and_interfaces(server: ShoalServer, lambda_client: Any) -> None:
    ec2 = server.client("ec2")
    vpc_id, subnets, group = _default(ec2)
    config = {"SubnetIds": subnets[:2], "SecurityGroupIds": [group]}
    name = create_function(lambda_client, VpcConfig=config)
    got = lambda_client.get_function_configuration(FunctionName=name)["VpcConfig"]
    assert got == {**config, "VpcId": vpc_id, "Ipv6AllowedForDualStack": False}
    enis = _enis(ec2, description=f"AWS Lambda VPC ENI-{name}-*")
    assert sorted(e["SubnetId"] for e in enis) == sorted(subnets[:2])
    assert all(e["InterfaceType"] == "lambda" and e["Status"] == "in-use" for e in enis)
    assert all(e["Groups"] == [{"GroupId": group, "GroupName": "default"}] for e in enis)
    with pytest.raises(ClientError) as e:
        ec2.delete_network_interface(NetworkInterfaceId=enis[0]["NetworkInterfaceId"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    # Subnets in use by an interface cannot go; a security group in use neither.
    with pytest.raises(ClientError) as e:
        ec2.delete_subnet(SubnetId=subnets[0])
    assert e.value.response["Error"]["Code"] == "DependencyViolation"

    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
    lambda_client.update_function_configuration(
        FunctionName=name, VpcConfig={"SubnetIds": [subnets[2]], "SecurityGroupIds": [group]}
    )
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
    enis = _enis(ec2, description=f"AWS Lambda VPC ENI-{name}-*")
    assert [e["SubnetId"] for e in enis] == [subnets[2]]
    lambda_client.update_function_configuration(
        FunctionName=name, VpcConfig={"SubnetIds": [], "SecurityGroupIds": []}
    )
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
    cleared = lambda_client.get_function_configuration(FunctionName=name)["VpcConfig"]
    assert cleared == {"SubnetIds": [], "SecurityGroupIds": [], "VpcId": "",
                       "Ipv6AllowedForDualStack": False}  # fmt: skip
    assert _enis(ec2, description=f"AWS Lambda VPC ENI-{name}-*") == []

    lambda_client.update_function_configuration(FunctionName=name, VpcConfig=config)
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert len(_enis(ec2, description=f"AWS Lambda VPC ENI-{name}-*")) == 2
    lambda_client.delete_function(FunctionName=name)
    assert _enis(ec2, description=f"AWS Lambda VPC ENI-{name}-*") == []


def test_vpc_config_refused_as_lambda_refuses_it(server: ShoalServer, lambda_client: Any) -> None:
    ec2 = server.client("ec2")
    _, subnets, group = _default(ec2)
    other_vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    other_group = ec2.create_security_group(
        GroupName=unique_name("g"), Description="x", VpcId=other_vpc
    )["GroupId"]
    cases = [
        ({"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": [group]},
         "Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. "
         "EC2 Error Message: The subnet ID 'subnet-0123456789abcdef0' does not exist"),
        ({"SubnetIds": [subnets[0]], "SecurityGroupIds": ["sg-0123456789abcdef0"]},
         "Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. "
         "EC2 Error Message: The security group 'sg-0123456789abcdef0' does not exist"),
        ({"SubnetIds": [subnets[0]], "SecurityGroupIds": []},
         "SubnetIds and SecurityIds must coexist or be both empty list."),
        ({"SubnetIds": [subnets[0]], "SecurityGroupIds": [other_group]},
         "Security Groups are required to be in the same VPC."),
    ]  # fmt: skip
    for config, message in cases:
        name = unique_name()
        with pytest.raises(ClientError) as e:
            create_function(lambda_client, name, VpcConfig=config)
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert e.value.response["Error"]["Message"] == message
        with pytest.raises(ClientError) as e:
            lambda_client.get_function(FunctionName=name)
        assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_mount_target_network(server: ShoalServer, efs_client: Any) -> None:
    ec2 = server.client("ec2")
    vpc_id, subnets, group = _default(ec2)
    fs_id = efs_client.create_file_system(CreationToken=unique_name("tok"))["FileSystemId"]
    with pytest.raises(ClientError) as e:
        efs_client.create_mount_target(FileSystemId=fs_id, SubnetId="subnet-0123456789abcdef0")
    assert e.value.response["Error"]["Code"] == "SubnetNotFound"
    with pytest.raises(ClientError) as e:
        efs_client.create_mount_target(
            FileSystemId=fs_id, SubnetId=subnets[1], SecurityGroups=["sg-0123456789abcdef0"]
        )
    assert e.value.response["Error"]["Code"] == "SecurityGroupNotFound"
    mt = efs_client.create_mount_target(FileSystemId=fs_id, SubnetId=subnets[1])
    assert mt["VpcId"] == vpc_id and mt["AvailabilityZoneName"] == "us-east-1b"
    assert mt["AvailabilityZoneId"] == "use1-az2"
    (eni,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[mt["NetworkInterfaceId"]])[
        "NetworkInterfaces"
    ]
    assert eni["Description"] == f"EFS mount target for {fs_id} ({mt['MountTargetId']})"
    assert eni["SubnetId"] == subnets[1] and eni["RequesterManaged"] is True
    assert efs_client.describe_mount_target_security_groups(MountTargetId=mt["MountTargetId"])[
        "SecurityGroups"
    ] == [group]
    web = ec2.create_security_group(GroupName=unique_name("nfs"), Description="nfs",
                                    VpcId=vpc_id)["GroupId"]  # fmt: skip

    def available() -> bool:
        (t,) = efs_client.describe_mount_targets(MountTargetId=mt["MountTargetId"])["MountTargets"]
        return t["LifeCycleState"] != "creating"

    wait_for(available, timeout=60)
    efs_client.modify_mount_target_security_groups(
        MountTargetId=mt["MountTargetId"], SecurityGroups=[web]
    )
    assert efs_client.describe_mount_target_security_groups(MountTargetId=mt["MountTargetId"])[
        "SecurityGroups"
    ] == [web]
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupId=web)
    assert e.value.response["Error"]["Code"] == "DependencyViolation"
    # A second target in another zone of the same VPC is fine; another VPC's subnet is not.
    other_vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    other_subnet = ec2.create_subnet(
        VpcId=other_vpc, CidrBlock="10.40.0.0/24", AvailabilityZone="us-east-1c"
    )["Subnet"]["SubnetId"]
    with pytest.raises(ClientError) as e:
        efs_client.create_mount_target(FileSystemId=fs_id, SubnetId=other_subnet)
    assert e.value.response["Error"]["Code"] == "MountTargetConflict"
    efs_client.delete_mount_target(MountTargetId=mt["MountTargetId"])
    assert ec2.describe_network_interfaces(
        Filters=[{"Name": "network-interface-id", "Values": [mt["NetworkInterfaceId"]]}]
    )["NetworkInterfaces"] == []
    ec2.delete_security_group(GroupId=web)
