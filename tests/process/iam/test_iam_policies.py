"""IAM managed policies (versions, the five-version limit, AWS's), inline policies and
attachments over the wire, with real boto3."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from iam_helpers import error_of as _error
from iam_helpers import name as _name

from conftest import ShoalServer


def _doc(action: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": "*"}]})  # fmt: skip


@pytest.fixture(scope="module")
def iam(server: ShoalServer) -> Any:
    return server.client("iam")


def test_policy_versions(iam: Any) -> None:
    name = _name("pol")
    policy = iam.create_policy(PolicyName=name, PolicyDocument=_doc("s3:GetObject"),
                               Description="first")["Policy"]  # fmt: skip
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::123456789012:policy/{name}"
    assert policy["PolicyId"].startswith("ANPA") and policy["DefaultVersionId"] == "v1"
    for i in range(2, 6):
        v = iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc(f"s3:Get{i}"),
                                      SetAsDefault=i == 3)["PolicyVersion"]  # fmt: skip
        assert v["VersionId"] == f"v{i}"
    with pytest.raises(ClientError) as e:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc("s3:Get6"))
    assert _error(e)[:2] == ("LimitExceeded", 409)
    assert "can have up to 5 versions" in _error(e)[2]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]
    assert got["Document"] == json.loads(_doc("s3:Get3")) and got["IsDefaultVersion"]
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2", "v3", "v4", "v5"]
    with pytest.raises(ClientError) as e:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert _error(e) == ("DeleteConflict", 409, "Cannot delete the default version of a policy.")
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v5")
    for v in ("v1", "v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "a", "Value": "b"}])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "a", "Value": "b"}]
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn=arn)
    assert _error(e) == ("NoSuchEntity", 404, f"Policy {arn} was not found.")


def test_malformed_policy_document(iam: Any) -> None:
    with pytest.raises(ClientError) as e:
        iam.create_policy(
            PolicyName=_name("bad"),
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get"}]}
            ),
        )
    assert _error(e) == ("MalformedPolicyDocument", 400,
                         "Policy statement must contain resources.")  # fmt: skip


@pytest.mark.parametrize(("arn", "action"), [
    ("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "logs:PutLogEvents"),
    ("arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
     "ec2:CreateNetworkInterface"),
    ("arn:aws:iam::aws:policy/service-role/AWSLambdaRole", "lambda:InvokeFunction"),
    ("arn:aws:iam::aws:policy/AWSLambda_FullAccess", "lambda:*"),
    ("arn:aws:iam::aws:policy/AmazonElasticFileSystemClientReadWriteAccess",
     "elasticfilesystem:ClientWrite"),
    ("arn:aws:iam::aws:policy/AmazonElasticFileSystemClientReadOnlyAccess",
     "elasticfilesystem:ClientMount"),
    ("arn:aws:iam::aws:policy/AmazonElasticFileSystemClientFullAccess",
     "elasticfilesystem:ClientRootAccess"),
    ("arn:aws:iam::aws:policy/AmazonElasticFileSystemFullAccess",
     "elasticfilesystem:CreateFileSystem"),
    ("arn:aws:iam::aws:policy/AdministratorAccess", "*"),
    ("arn:aws:iam::aws:policy/ReadOnlyAccess", "lambda:Get*"),
])  # fmt: skip
def test_aws_managed_policies(iam: Any, arn: str, action: str) -> None:
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    document = version["PolicyVersion"]["Document"]
    actions = [a for s in document["Statement"] for a in
               (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]  # fmt: skip
    assert action in actions


def test_list_policies_scope(iam: Any) -> None:
    aws = iam.list_policies(Scope="AWS", MaxItems=1000)["Policies"]
    assert "AdministratorAccess" in [p["PolicyName"] for p in aws]
    assert all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in aws)
    name = _name("local")
    arn = iam.create_policy(PolicyName=name, PolicyDocument=_doc("s3:Get"))["Policy"]["Arn"]
    local = [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]]
    assert name in local and "AdministratorAccess" not in local
    attached = iam.list_policies(Scope="All", OnlyAttached=True)["Policies"]
    assert name not in [p["PolicyName"] for p in attached]
    first = iam.list_policies(Scope="AWS", MaxItems=3)
    assert first["IsTruncated"] and len(first["Policies"]) == 3
    iam.delete_policy(PolicyArn=arn)


@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_inline_and_attached(iam: Any, kind: str) -> None:
    noun = kind.capitalize()
    name = _name(kind)
    key = {f"{noun}Name": name}
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    extra = {"AssumeRolePolicyDocument": trust} if kind == "role" else {}
    getattr(iam, f"create_{kind}")(**key, **extra)
    getattr(iam, f"put_{kind}_policy")(**key, PolicyName="p1", PolicyDocument=_doc("s3:Get"))
    got = getattr(iam, f"get_{kind}_policy")(**key, PolicyName="p1")
    assert got["PolicyDocument"] == json.loads(_doc("s3:Get"))
    assert getattr(iam, f"list_{kind}_policies")(**key)["PolicyNames"] == ["p1"]
    arn = iam.create_policy(PolicyName=_name("att"), PolicyDocument=_doc("s3:Put"))["Policy"]
    getattr(iam, f"attach_{kind}_policy")(**key, PolicyArn=arn["Arn"])
    attached = getattr(iam, f"list_attached_{kind}_policies")(**key)["AttachedPolicies"]
    assert attached == [{"PolicyName": arn["PolicyName"], "PolicyArn": arn["Arn"]}]
    entities = iam.list_entities_for_policy(PolicyArn=arn["Arn"])
    assert [e[f"{noun}Name"] for e in entities[f"Policy{noun}s"]] == [name]
    assert iam.get_policy(PolicyArn=arn["Arn"])["Policy"]["AttachmentCount"] == 1
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=arn["Arn"])
    assert _error(e) == ("DeleteConflict", 409, "Cannot delete a policy attached to entities.")
    with pytest.raises(ClientError) as e:
        getattr(iam, f"delete_{kind}")(**key)
    assert _error(e) == ("DeleteConflict", 409, "Cannot delete entity, must delete policies first.")
    getattr(iam, f"delete_{kind}_policy")(**key, PolicyName="p1")
    with pytest.raises(ClientError) as e:
        getattr(iam, f"get_{kind}_policy")(**key, PolicyName="p1")
    assert _error(e) == ("NoSuchEntity", 404,
                         f"The {kind} policy with name p1 cannot be found.")  # fmt: skip
    getattr(iam, f"detach_{kind}_policy")(**key, PolicyArn=arn["Arn"])
    iam.delete_policy(PolicyArn=arn["Arn"])
    getattr(iam, f"delete_{kind}")(**key)


def test_attach_unknown_policy(iam: Any) -> None:
    name = _name("u")
    iam.create_user(UserName=name)
    arn = "arn:aws:iam::123456789012:policy/nothing"
    with pytest.raises(ClientError) as e:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    assert _error(e) == ("NoSuchEntity", 404, f"Policy {arn} does not exist or is not attachable.")
    iam.delete_user(UserName=name)


def test_aws_managed_policy_versions_are_aws(iam: Any) -> None:
    arn = "arn:aws:iam::aws:policy/AmazonElasticFileSystemFullAccess"
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["DefaultVersionId"] == "v10"
    document = iam.get_policy_version(PolicyArn=arn, VersionId="v10")["PolicyVersion"]["Document"]
    assert [s["Sid"] for s in document["Statement"]] == [
        "ElasticFileSystemFullAccess",
        "CreateServiceLinkedRoleForEFS",
        "IAMPassRoleAccessForEFS",
    ]
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert _error(e)[:2] == ("InvalidInput", 400)
