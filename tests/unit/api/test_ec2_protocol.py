"""The ec2 protocol's two halves against botocore's own client halves: what botocore's
EC2Serializer sends, Shoal parses back to the same input; what Shoal writes, botocore's
EC2QueryParser reads back to the same output."""

from __future__ import annotations

from typing import Any

import pytest
from botocore import parsers, serialize
from botocore.model import ServiceModel as BotoModel

from shoal.api import ec2_protocol
from shoal.api.model import load_model
from shoal.errors import AwsError

MODEL = load_model("ec2")


def _boto_model() -> BotoModel:
    import gzip
    import json
    import os

    import botocore

    path = os.path.join(os.path.dirname(botocore.__file__), "data", "ec2", "2016-11-15",
                        "service-2.json.gz")  # fmt: skip
    with gzip.open(path) as f:
        return BotoModel(json.load(f), service_name="ec2")


BOTO_MODEL = _boto_model()


def _sent(operation: str, params: dict[str, Any]) -> dict[str, str]:
    op = BOTO_MODEL.operation_model(operation)
    request = serialize.create_serializer("ec2").serialize_to_request(params, op)
    body = request["body"]  # botocore url-encodes this dict later; its values as sent
    return {k: str(v) for k, v in body.items()}


def _parse(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    form = _sent(operation, params)
    return ec2_protocol.parse_input(MODEL, MODEL.operations[operation].input, form)


def test_nested_lists_and_structures_round_trip() -> None:
    params = {
        "Filters": [{"Name": "vpc-id", "Values": ["vpc-1", "vpc-2"]},
                    {"Name": "tag:Name", "Values": ["a&b <c>"]}],
        "SubnetIds": ["subnet-1"], "DryRun": False, "MaxResults": 7,
    }  # fmt: skip
    assert _parse("DescribeSubnets", params) == params
    permission = {
        "GroupId": "sg-1",
        "IpPermissions": [{
            "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
            "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh"}],
            "UserIdGroupPairs": [{"GroupId": "sg-2"}],
        }],
    }  # fmt: skip
    assert _parse("AuthorizeSecurityGroupIngress", permission) == permission
    # queryName / locationName rules: CreateSecurityGroup's Description is GroupDescription.
    form = _sent("CreateSecurityGroup", {"GroupName": "g", "Description": "d"})
    assert form["GroupDescription"] == "d"
    assert _parse("CreateSecurityGroup", {"GroupName": "g", "Description": "d"}) == {
        "GroupName": "g", "Description": "d",
    }  # fmt: skip


def test_input_errors_are_ec2s() -> None:
    op = MODEL.operations["DeleteVpc"]
    with pytest.raises(AwsError) as e:
        ec2_protocol.parse_input(MODEL, op.input, {"Action": "DeleteVpc"})
    assert e.value.code == "MissingParameter"
    with pytest.raises(AwsError) as e:
        ec2_protocol.parse_input(MODEL, op.input, {"VpcId": "vpc-1", "Bogus.1": "x"})
    assert e.value.code == "UnknownParameter" and "Bogus" in e.value.message
    with pytest.raises(AwsError) as e:
        ec2_protocol.parse_input(MODEL, op.input, {"VpcId": "vpc-1", "DryRun": "maybe"})
    assert e.value.code == "InvalidParameterValue"


def _read(operation: str, body: bytes, status: int = 200) -> dict[str, Any]:
    op = BOTO_MODEL.operation_model(operation)
    parser = parsers.create_parser("ec2")
    response = {"status_code": status, "headers": {}, "body": body}
    return dict(parser.parse(response, op.output_shape))


def test_output_is_what_botocore_reads() -> None:
    result = {
        "Subnets": [{"SubnetId": "subnet-1", "DefaultForAz": True, "AvailableIpAddressCount": 4091,
                     "Tags": [{"Key": "Name", "Value": "</value><evil/>&"}]}],
    }  # fmt: skip
    op = MODEL.operations["DescribeSubnets"]
    response = ec2_protocol.serialize_output(MODEL, "DescribeSubnets", op.output, result, "rid")
    parsed = _read("DescribeSubnets", response.body)
    assert parsed["Subnets"] == result["Subnets"]  # the tag's markup came back as text
    assert parsed["ResponseMetadata"]["RequestId"] == "rid"
    rules = MODEL.operations["DescribeSecurityGroupRules"]
    when = {"SecurityGroupRules": [{"SecurityGroupRuleId": "sgr-1", "IsEgress": False}]}
    body = ec2_protocol.serialize_output(MODEL, "DescribeSecurityGroupRules", rules.output, when,
                                         "r").body  # fmt: skip
    assert _read("DescribeSecurityGroupRules", body)["SecurityGroupRules"] == when[
        "SecurityGroupRules"
    ]


def test_error_is_what_botocore_reads() -> None:
    error = AwsError("InvalidVpcID.NotFound", "The vpc ID 'vpc-<x>' does not exist")
    response = ec2_protocol.serialize_error(error, "rid")
    assert response.status == 400
    op = BOTO_MODEL.operation_model("DescribeVpcs")
    parsed = parsers.create_parser("ec2").parse(
        {"status_code": 400, "headers": {}, "body": response.body}, op.output_shape
    )
    assert parsed["Error"] == {"Code": "InvalidVpcID.NotFound",
                               "Message": "The vpc ID 'vpc-<x>' does not exist"}  # fmt: skip
    assert parsed["ResponseMetadata"]["RequestId"] == "rid"
