"""authorize(): the IAM User Guide's evaluation-logic cases, through the one engine, and each
service's denial as AWS words it (parsed by botocore's own parsers)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from shoal.api.dispatch import Call
from shoal.config import Settings
from shoal.errors import AwsError
from shoal.identity.authorize import DENIED, authorize, authorize_call, authorize_pass_role
from shoal.policy import Kind, Policy, Principal, parse

ACCOUNT = "123456789012"
DEV = Principal(arn=f"arn:aws:iam::{ACCOUNT}:user/dev", account=ACCOUNT, user_name="dev")
ROOT = Principal(arn=f"arn:aws:iam::{ACCOUNT}:root", account=ACCOUNT)
FN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"


class Malformed(Exception):
    pass


def policy(*statements: dict[str, Any], kind: Kind = Kind.IDENTITY) -> Policy:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    return parse(json.dumps(doc), kind, Malformed)


def call(op: str = "Invoke", params: dict[str, Any] | None = None, *,
         principal: Principal | None = DEV, secure: bool = True) -> Call:  # fmt: skip
    shoal: Any = SimpleNamespace(settings=Settings())
    return Call(op, params if params is not None else {"FunctionName": "f"}, shoal, {},
                "http://127.0.0.1", "req-1", "us-east-1", principal=principal, secure=secure,
                source_ip="10.0.0.7")  # fmt: skip


def allow(
    action: Any = "lambda:InvokeFunction", resource: Any = FN, **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "lambda:InvokeFunction", resource: Any = FN, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decided(identity: list[Policy], resource: list[Policy] = (), **kw: Any) -> bool:  # type: ignore[assignment]
    try:
        authorize(call(**kw), identity, resource, service="lambda")
    except AwsError as e:
        assert (e.code, e.status) == ("AccessDeniedException", 403)
        return False
    return True


ANYONE_IN_ACCOUNT = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
CASES: list[tuple[str, list[Policy], list[Policy], bool]] = [
    ("no policy: implicit deny", [], [], False),
    ("identity allow", [policy(allow())], [], True),
    (
        "identity allow by wildcard",
        [policy(allow("lambda:Invoke*", "arn:aws:lambda:*:*:function:*"))],
        [],
        True,
    ),
    ("allow of another action", [policy(allow("lambda:GetFunction"))], [], False),
    ("explicit deny wins over allow", [policy(allow("*", "*"), deny())], [], False),
    (
        "explicit deny in a resource policy wins",
        [policy(allow("*", "*"))],
        [policy(deny(Principal="*"), kind=Kind.RESOURCE)],
        False,
    ),
    (
        "resource policy naming the account delegates: no identity allow, denied",
        [],
        [policy(allow(Principal=ANYONE_IN_ACCOUNT), kind=Kind.RESOURCE)],
        False,
    ),
    (
        "resource policy naming the account, and an identity allow",
        [policy(allow())],
        [policy(allow(Principal=ANYONE_IN_ACCOUNT), kind=Kind.RESOURCE)],
        True,
    ),
    (
        "resource policy naming another principal",
        [],
        [
            policy(
                allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/other"}), kind=Kind.RESOURCE
            )
        ],
        False,
    ),
    (
        "NotAction allows the rest",
        [policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})],
        [],
        True,
    ),
    (
        "NotAction excludes",
        [policy({"Effect": "Allow", "NotAction": "lambda:*", "Resource": "*"})],
        [],
        False,
    ),
    (
        "NotResource excludes",
        [policy({"Effect": "Allow", "Action": "*", "NotResource": FN})],
        [],
        False,
    ),
    (
        "deny with NotResource of this function spares it",
        [policy(allow(), {"Effect": "Deny", "Action": "*", "NotResource": FN})],
        [],
        True,
    ),
    (
        "IfExists: absent key holds",
        [policy(allow(Condition={"StringEqualsIfExists": {"lambda:FunctionUrlAuthType": "NONE"}}))],
        [],
        True,
    ),
    (
        "Null true: key absent",
        [policy(allow(Condition={"Null": {"lambda:FunctionUrlAuthType": "true"}}))],
        [],
        True,
    ),
    (
        "Null false: key required",
        [policy(allow(Condition={"Null": {"lambda:FunctionUrlAuthType": "false"}}))],
        [],
        False,
    ),
    (
        "SourceIp in range",
        [policy(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))],
        [],
        True,
    ),
    (
        "SourceIp out of range",
        [policy(allow(Condition={"IpAddress": {"aws:SourceIp": "192.168.0.0/16"}}))],
        [],
        False,
    ),
    (
        "RequestedRegion",
        [policy(allow(Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}))],
        [],
        False,
    ),
]


@pytest.mark.parametrize(("identity", "resource", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_evaluation_logic(identity: list[Policy], resource: list[Policy], expected: bool) -> None:
    assert decided(identity, resource) is expected


def test_insecure_transport_denied_by_secure_transport_deny() -> None:
    guard = deny("*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}})
    policies = [policy(allow(), guard)]
    assert decided(policies, secure=True) is True
    assert decided(policies, secure=False) is False


def test_root_and_internal_calls_are_always_allowed() -> None:
    authorize(call(principal=ROOT), [], service="lambda")
    authorize(call(principal=None), [], service="lambda")


def test_get_caller_identity_is_never_denied() -> None:
    authorize(call("GetCallerIdentity", {}), [policy(deny("*", "*"))], service="sts")


def test_lambda_denial_wording() -> None:
    with pytest.raises(AwsError) as e:
        authorize(call("CreateFunction", {"FunctionName": "x"}), [], service="lambda")
    assert e.value.message == (
        f"User: {DEV.arn} is not authorized to perform: lambda:CreateFunction on resource: "
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:x because no identity-based policy "
        "allows the lambda:CreateFunction action"
    )


@pytest.mark.parametrize(("service", "op", "params", "code"), [
    ("efs", "DescribeFileSystems", {}, "AccessDeniedException"),
    ("apigatewayv2", "GetApis", {}, "AccessDeniedException"),
    ("ec2", "DescribeVpcs", {}, "UnauthorizedOperation"),
    ("iam", "CreateRole", {"RoleName": "r"}, "AccessDenied"),
    ("sts", "AssumeRole", {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r"}, "AccessDenied"),
])  # fmt: skip
def test_each_service_denial(service: str, op: str, params: dict[str, Any], code: str) -> None:
    with pytest.raises(AwsError) as e:
        authorize(call(op, params), [], service=service)
    assert (e.value.code, e.value.status) == (code, 403)
    assert e.value.message == WORDING[service]


WORDING = {
    "efs": f"User: {DEV.arn} is not authorized to perform: elasticfilesystem:DescribeFileSystems"
    " on the specified resource",
    "apigatewayv2": f"User: {DEV.arn} is not authorized to perform: apigateway:GET on resource:"
    " arn:aws:apigateway:us-east-1::/apis because no identity-based policy allows the"
    " apigateway:GET action",
    "ec2": f"You are not authorized to perform this operation. User: {DEV.arn} is not authorized"
    " to perform: ec2:DescribeVpcs because no identity-based policy allows the ec2:DescribeVpcs"
    " action",
    "iam": f"User: {DEV.arn} is not authorized to perform: iam:CreateRole on resource:"
    f" arn:aws:iam::{ACCOUNT}:role/r because no identity-based policy allows the iam:CreateRole"
    " action",
    "sts": f"User: {DEV.arn} is not authorized to perform: sts:AssumeRole on resource:"
    f" arn:aws:iam::{ACCOUNT}:role/r because no identity-based policy allows the sts:AssumeRole"
    " action",
}


def test_ec2_names_the_resource_of_a_resource_level_action() -> None:
    with pytest.raises(AwsError) as e:
        authorize(call("DeleteVpc", {"VpcId": "vpc-1"}), [], service="ec2")
    assert ": ec2:DeleteVpc on resource: arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1 " in (
        e.value.message
    )


def test_explicit_deny_wording() -> None:
    with pytest.raises(AwsError) as e:
        authorize(call(), [policy(deny())], service="lambda")
    assert e.value.message.endswith("with an explicit deny in an identity-based policy")


def test_pass_role() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/exec"
    ok = policy(
        allow(
            "iam:PassRole",
            role,
            Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        )
    )
    authorize_pass_role(call("CreateFunction"), role, [ok])
    with pytest.raises(AwsError) as e:
        authorize_pass_role(call("CreateFunction"), f"arn:aws:iam::{ACCOUNT}:role/admin", [ok])
    assert "iam:PassRole on resource: arn:aws:iam::123456789012:role/admin" in e.value.message


def test_authorize_call_as_dispatchers_call_it() -> None:
    """How a dispatcher calls it: after decoding, with the IAM service's lookup."""
    store = {DEV.arn: [policy(allow())]}
    looked_up: list[str] = []

    def identity_policies(principal: Principal) -> list[Policy]:
        looked_up.append(principal.arn)
        return store.get(principal.arn, [])

    authorize_call(call(), identity_policies, service="lambda")
    with pytest.raises(AwsError):
        authorize_call(call("DeleteFunction"), identity_policies, service="lambda")
    authorize_call(call(principal=ROOT), identity_policies, service="lambda")
    assert looked_up == [DEV.arn, DEV.arn]  # never for root


def test_lambda_function_policy_as_permissions_stores_it() -> None:
    """AddPermission's statement (shoal.functions.permissions), parsed once, allows Invoke."""
    from shoal.functions.permissions import statement

    st = statement(FN, {"StatementId": "s1", "Action": "lambda:InvokeFunction",
                        "Principal": f"arn:aws:iam::{ACCOUNT}:user/dev"})  # fmt: skip
    function_policy = policy(st, kind=Kind.RESOURCE)
    authorize(call(), [], [function_policy], service="lambda")
    with pytest.raises(AwsError):
        authorize(call("DeleteFunction"), [], [function_policy], service="lambda")


def test_efs_file_system_policy_through_the_same_engine() -> None:
    from shoal.filesystems import policy as fs_policy

    fs = f"arn:aws:elasticfilesystem:us-east-1:{ACCOUNT}:file-system/fs-1"
    doc = fs_policy.parse(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": DEV.arn},
         "Action": "elasticfilesystem:DescribeMountTargets", "Resource": fs}]}))  # fmt: skip
    authorize(call("DescribeMountTargets", {"FileSystemId": "fs-1"}), [], [doc], service="efs")


@pytest.mark.parametrize("service", ["lambda", "efs", "apigatewayv2", "ec2"])
def test_denial_as_botocore_parses_it(service: str) -> None:
    """The error on the wire, read by botocore's own parser for the service's protocol."""
    import botocore.parsers
    import botocore.session
    from botocore.awsrequest import HeadersDict

    from shoal.api import codec, ec2_protocol
    from shoal.api.model import load_model

    op, params = {
        "lambda": ("Invoke", {"FunctionName": "f"}),
        "efs": ("DescribeFileSystems", {}),
        "apigatewayv2": ("GetApis", {}),
        "ec2": ("DescribeVpcs", {}),
    }[service]
    with pytest.raises(AwsError) as e:
        authorize(call(op, params), [], service=service)
    if service == "ec2":
        wire = ec2_protocol.serialize_error(e.value, "req-1")
    else:
        wire = codec.serialize_error(load_model(service), e.value)
    model = botocore.session.get_session().get_service_model(service)
    parser = botocore.parsers.create_parser(model.metadata["protocol"])
    parsed = parser.parse(
        {"status_code": wire.status, "headers": HeadersDict(wire.headers), "body": wire.body},
        model.operation_model(op).output_shape,
    )
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert parsed["Error"]["Code"] == DENIED[service][0]
    assert parsed["Error"]["Message"] == e.value.message


def test_stored_function_policy_is_parsed_once_per_text() -> None:
    from shoal.identity.authorize import resource_policy

    text = json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": [
        {"Sid": "s1", "Effect": "Allow", "Principal": {"AWS": DEV.arn},
         "Action": "lambda:InvokeFunction", "Resource": FN}]})  # fmt: skip
    assert resource_policy(text) is resource_policy(text)
    authorize(call(), [], [resource_policy(text)], service="lambda")


def test_authorize_call_with_the_services_target() -> None:
    """The dispatcher's hook names the resource (an EFS mount target's file system) and its
    resource policy; neither is looked up for root."""
    from shoal.identity.authorize import Target

    fs = f"arn:aws:elasticfilesystem:us-east-1:{ACCOUNT}:file-system/fs-1"
    grant = policy({"Effect": "Allow", "Principal": {"AWS": DEV.arn},
                    "Action": "elasticfilesystem:DeleteMountTarget", "Resource": fs},
                   kind=Kind.RESOURCE)  # fmt: skip
    asked: list[str] = []

    def target_for(c: Call) -> Target:
        asked.append(c.operation)
        return Target(fs, (grant,))

    delete = call("DeleteMountTarget", {"MountTargetId": "fsmt-1"})
    authorize_call(delete, lambda p: [], service="efs", target_for=target_for)
    with pytest.raises(AwsError) as e:
        authorize_call(delete, lambda p: [], service="efs",
                       target_for=lambda c: Target(fs.replace("fs-1", "fs-2"), (grant,)))
    assert "elasticfilesystem:DeleteMountTarget" in e.value.message
    with pytest.raises(AwsError):  # without the hook: on "*", and no resource policy
        authorize_call(delete, lambda p: [], service="efs")
    root = call("DeleteMountTarget", {"MountTargetId": "fsmt-1"}, principal=ROOT)
    authorize_call(root, lambda p: [], service="efs", target_for=target_for)
    assert asked == ["DeleteMountTarget"]
