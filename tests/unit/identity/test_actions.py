"""The action table: every operation with a registered handler is authorized as something, and
the Service Authorization Reference's actions and resources for the examples it names."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from shoal.api import rpc_router
from shoal.api.dispatch import apigatewayv2_api, efs_api, lambda_api
from shoal.api.query_router import ec2_api
from shoal.core import API_MODULES
from shoal.identity.actions import PREFIX, action_for

R, A = "us-east-1", "123456789012"


def registered() -> list[tuple[str, str]]:
    for module in API_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            pass
    apis: dict[str, Any] = {"lambda": lambda_api, "efs": efs_api,
                            "apigatewayv2": apigatewayv2_api, "ec2": ec2_api}  # fmt: skip
    apis.update(rpc_router._REGISTRY)  # the json / cbor services, by their model's name
    return [(name, op) for name, api in apis.items() for op in sorted(api.handlers)]


def test_every_registered_operation_is_authorized_as_an_action() -> None:
    ops = registered()
    assert len(ops) > 100
    for service, op in ops:
        action = action_for(service, op, {}, R, A)
        assert action.action is not None and action.action.startswith(PREFIX[service] + ":"), op
        assert action.resource == "*" or action.resource.startswith("arn:aws:"), (op, action)


FN = f"arn:aws:lambda:{R}:{A}:function:"
ROWS: list[tuple[str, str, dict[str, Any], str, str]] = [
    (
        "lambda",
        "Invoke",
        {"FunctionName": "f", "Qualifier": "live"},
        "lambda:InvokeFunction",
        FN + "f:live",
    ),
    ("lambda", "Invoke", {"FunctionName": "f:3"}, "lambda:InvokeFunction", FN + "f:3"),
    ("lambda", "Invoke", {"FunctionName": FN + "f"}, "lambda:InvokeFunction", FN + "f"),
    ("lambda", "Invoke", {"FunctionName": f"{A}:function:f"}, "lambda:InvokeFunction", FN + "f"),
    ("lambda", "InvokeAsync", {"FunctionName": "f"}, "lambda:InvokeAsync", FN + "f"),
    (
        "lambda",
        "GetFunctionConfiguration",
        {"FunctionName": "f"},
        "lambda:GetFunctionConfiguration",
        FN + "f",
    ),
    ("lambda", "ListFunctions", {}, "lambda:ListFunctions", "*"),
    (
        "lambda",
        "GetLayerVersionByArn",
        {"Arn": f"arn:aws:lambda:{R}:{A}:layer:l:2"},
        "lambda:GetLayerVersion",
        f"arn:aws:lambda:{R}:{A}:layer:l:2",
    ),
    (
        "lambda",
        "GetEventSourceMapping",
        {"UUID": "u1"},
        "lambda:GetEventSourceMapping",
        f"arn:aws:lambda:{R}:{A}:event-source-mapping:u1",
    ),
    (
        "efs",
        "CreateAccessPoint",
        {"FileSystemId": "fs-1"},
        "elasticfilesystem:CreateAccessPoint",
        f"arn:aws:elasticfilesystem:{R}:{A}:file-system/fs-1",
    ),
    ("efs", "DescribeFileSystems", {}, "elasticfilesystem:DescribeFileSystems", "*"),
    (
        "efs",
        "DeleteAccessPoint",
        {"AccessPointId": "fsap-1"},
        "elasticfilesystem:DeleteAccessPoint",
        f"arn:aws:elasticfilesystem:{R}:{A}:access-point/fsap-1",
    ),
    (
        "efs",
        "TagResource",
        {"ResourceId": "fsap-1"},
        "elasticfilesystem:TagResource",
        f"arn:aws:elasticfilesystem:{R}:{A}:access-point/fsap-1",
    ),
    (
        "apigatewayv2",
        "GetRoute",
        {"ApiId": "a1", "RouteId": "r1"},
        "apigateway:GET",
        f"arn:aws:apigateway:{R}::/apis/a1/routes/r1",
    ),
    (
        "apigatewayv2",
        "TagResource",
        {"ResourceArn": f"arn:aws:apigateway:{R}::/apis/a1"},
        "apigateway:POST",
        f"arn:aws:apigateway:{R}::/tags/arn%3Aaws%3Aapigateway%3A{R}%3A%3A%2Fapis%2Fa1",
    ),
    (
        "apigatewayv2",
        "CreateApi",
        {"Name": "x"},
        "apigateway:POST",
        f"arn:aws:apigateway:{R}::/apis",
    ),
    (
        "apigatewayv2",
        "UpdateStage",
        {"ApiId": "a1", "StageName": "s"},
        "apigateway:PATCH",
        f"arn:aws:apigateway:{R}::/apis/a1/stages/s",
    ),
    ("ec2", "DescribeVpcs", {}, "ec2:DescribeVpcs", "*"),
    ("ec2", "DeleteVpc", {"VpcId": "vpc-1"}, "ec2:DeleteVpc", f"arn:aws:ec2:{R}:{A}:vpc/vpc-1"),
    (
        "ec2",
        "CreateTags",
        {"Resources": ["sg-1"]},
        "ec2:CreateTags",
        f"arn:aws:ec2:{R}:{A}:security-group/sg-1",
    ),
    (
        "iam",
        "CreateRole",
        {"RoleName": "r", "Path": "/svc/"},
        "iam:CreateRole",
        f"arn:aws:iam::{A}:role/svc/r",
    ),
    (
        "sts",
        "AssumeRole",
        {"RoleArn": f"arn:aws:iam::{A}:role/r"},
        "sts:AssumeRole",
        f"arn:aws:iam::{A}:role/r",
    ),
]


@pytest.mark.parametrize(("service", "op", "params", "action", "resource"), ROWS)
def test_action_and_resource(service: str, op: str, params: dict[str, Any], action: str,
                             resource: str) -> None:  # fmt: skip
    got = action_for(service, op, params, R, A)
    assert (got.action, got.resource) == (action, resource)


def test_get_caller_identity_needs_no_permission() -> None:
    assert action_for("sts", "GetCallerIdentity", {}, R, A).action is None


def test_service_condition_keys() -> None:
    url = action_for(
        "lambda", "CreateFunctionUrlConfig", {"FunctionName": "f", "AuthType": "NONE"}, R, A
    )
    assert url.keys == {"lambda:functionurlauthtype": "NONE"}
    create = action_for("lambda", "CreateFunction", {
        "FunctionName": "f", "Layers": ["arn:l:1"],
        "VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}}, R, A)  # fmt: skip
    assert create.keys == {"lambda:layer": ["arn:l:1"], "lambda:subnetids": ["subnet-1"],
                           "lambda:securitygroupids": ["sg-1"]}  # fmt: skip
    perm = action_for(
        "lambda", "AddPermission", {"FunctionName": "f", "Principal": "s3.amazonaws.com"}, R, A
    )
    assert perm.keys == {"lambda:principal": "s3.amazonaws.com"}
    fs = action_for("efs", "CreateFileSystem", {"Encrypted": True}, R, A)
    assert fs.keys == {"elasticfilesystem:encrypted": "true"}


# The member each service's default resource is computed from: an operation whose input has
# none of them must have its own row in the table (or be a Describe/List on "*", for EC2).
DEFAULT_MEMBERS = {"lambda": {"FunctionName"}, "efs": {"FileSystemId"},
                   "ec2": {"VpcId", "SubnetId", "GroupId", "NetworkInterfaceId"}}  # fmt: skip


def test_an_operation_the_default_cannot_place_has_its_own_row() -> None:
    from shoal.api.model import load_model
    from shoal.identity.actions import TABLES

    for service, op in registered():
        if service not in DEFAULT_MEMBERS or op in TABLES.get(service, {}):
            continue
        if service == "ec2" and op.startswith(("Describe", "List")):
            continue
        model = load_model(service)
        shape = model.operations[op].input
        members = set(model.shape(shape).get("members", {})) if shape else set()
        assert members & DEFAULT_MEMBERS[service], f"{service} {op} needs a row in its table"
