"""IAM users, groups, roles, access keys and tags over the wire, with real boto3."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from iam_helpers import error_of as _error
from iam_helpers import name as _name

from conftest import ShoalServer

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})  # fmt: skip


@pytest.fixture(scope="module")
def iam(server: ShoalServer) -> Any:
    return server.client("iam")


def test_user_round_trip(iam: Any) -> None:
    name = _name("alice")
    user = iam.create_user(UserName=name, Path="/eng/", Tags=[{"Key": "team", "Value": "a"}])
    user = user["User"]
    assert user["Arn"] == f"arn:aws:iam::123456789012:user/eng/{name}"
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 20
    got = iam.get_user(UserName=name)["User"]
    assert got["UserId"] == user["UserId"] and got["Tags"] == [{"Key": "team", "Value": "a"}]
    assert name in [u["UserName"] for u in iam.list_users(PathPrefix="/eng/")["Users"]]
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=name)
    assert _error(e) == ("EntityAlreadyExists", 409, f"User with name {name} already exists.")
    iam.tag_user(UserName=name, Tags=[{"Key": "k", "Value": "v"}])
    iam.untag_user(UserName=name, TagKeys=["team"])
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "k", "Value": "v"}]
    iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=name)
    assert _error(e) == ("NoSuchEntity", 404, f"The user with name {name} cannot be found.")


def test_validation_error_wording(iam: Any) -> None:
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="bad name!")
    code, status, message = _error(e)
    assert (code, status) == ("ValidationError", 400)
    assert message.startswith("1 validation error detected: Value 'bad name!' at 'userName' "
                              "failed to satisfy constraint: Member must satisfy regular "
                              "expression pattern")  # fmt: skip


def test_list_users_pagination(iam: Any) -> None:
    prefix = f"/page{uuid.uuid4().hex[:6]}/"
    names = sorted(_name("p") for _ in range(5))
    for n in names:
        iam.create_user(UserName=n, Path=prefix)
    first = iam.list_users(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] and [u["UserName"] for u in first["Users"]] == names[:2]
    rest = iam.list_users(PathPrefix=prefix, Marker=first["Marker"], MaxItems=10)
    assert not rest["IsTruncated"] and [u["UserName"] for u in rest["Users"]] == names[2:]
    pages = iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={
        "PageSize": 2})  # fmt: skip
    assert [u["UserName"] for p in pages for u in p["Users"]] == names


def test_groups_and_membership(iam: Any) -> None:
    group, user = _name("g"), _name("u")
    assert iam.create_group(GroupName=group)["Group"]["GroupId"].startswith("AGPA")
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [user]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    with pytest.raises(ClientError) as e:
        iam.delete_group(GroupName=group)
    assert _error(e)[:2] == ("DeleteConflict", 409)
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=user)


def test_access_keys(iam: Any) -> None:
    user = _name("k")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"
    iam.create_access_key(UserName=user)
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName=user)
    assert _error(e) == ("LimitExceeded", 409, "Cannot exceed quota for AccessKeysPerUser: 2")
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    listed = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert {k["AccessKeyId"]: k["Status"] for k in listed}[key["AccessKeyId"]] == "Inactive"
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert used["UserName"] == user
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=user)
    assert _error(e) == ("DeleteConflict", 409,
                         "Cannot delete entity, must delete access keys first.")  # fmt: skip
    for k in listed:
        iam.delete_access_key(UserName=user, AccessKeyId=k["AccessKeyId"])
    assert iam.list_access_keys(UserName=user)["AccessKeyMetadata"] == []
    iam.delete_user(UserName=user)


def test_role_round_trip(iam: Any) -> None:
    name = _name("role")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST,
                           Description="d", MaxSessionDuration=7200)["Role"]  # fmt: skip
    assert role["Arn"] == f"arn:aws:iam::123456789012:role/{name}"
    assert role["RoleId"].startswith("AROA")
    got = iam.get_role(RoleName=name)["Role"]
    assert got["AssumeRolePolicyDocument"] == json.loads(TRUST)  # boto3 decodes it
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "d"
    new = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sts:AssumeRole"}]})  # fmt: skip
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=new)
    iam.update_role(RoleName=name, Description="e")
    got = iam.get_role(RoleName=name)["Role"]
    assert got["AssumeRolePolicyDocument"] == json.loads(new) and got["Description"] == "e"
    iam.tag_role(RoleName=name, Tags=[{"Key": "a", "Value": "b"}])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "a", "Value": "b"}]
    assert name in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"] == []
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName=name)
    assert _error(e) == ("NoSuchEntity", 404, f"The role with name {name} cannot be found.")


def test_malformed_trust_policy(iam: Any) -> None:
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=_name("bad"), AssumeRolePolicyDocument="{not json")
    assert _error(e) == ("MalformedPolicyDocument", 400, "Syntax errors in policy.")
    resource = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}
            ],
        }
    )
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=_name("bad"), AssumeRolePolicyDocument=resource)
    assert _error(e) == ("MalformedPolicyDocument", 400, "Has prohibited field Resource")


def test_rename_user_keeps_keys_and_groups(iam: Any) -> None:
    old, new, group = _name("old"), _name("new"), _name("g")
    user_id = iam.create_user(UserName=old)["User"]["UserId"]
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=old)
    key = iam.create_access_key(UserName=old)["AccessKey"]["AccessKeyId"]
    iam.update_user(UserName=old, NewUserName=new, NewPath="/moved/")
    user = iam.get_user(UserName=new)["User"]
    assert (user["UserId"], user["Path"]) == (user_id, "/moved/")
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [new]
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName=new)["AccessKeyMetadata"]] == [
        key
    ]
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=old)
    assert _error(e)[:2] == ("NoSuchEntity", 404)


def test_iam_is_global(server: ShoalServer, iam: Any) -> None:
    """Any region's endpoint sees the same users, and ARNs name no region."""
    name = _name("global")
    iam.create_user(UserName=name)
    elsewhere = server.client("iam", region="eu-west-1")
    assert (
        elsewhere.get_user(UserName=name)["User"]["Arn"] == f"arn:aws:iam::123456789012:user/{name}"
    )
