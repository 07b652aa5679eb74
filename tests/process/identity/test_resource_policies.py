"""Resource-based policies in API authorization, as a user meets them: a Lambda function's
policy (``add-permission``) lets a user without any identity policy invoke that function and no
other; a permission for the account delegates to identity policies; an EFS file-system policy's
explicit deny beats the caller's identity allow; and the mount-target operations are authorized
on their file system."""

from __future__ import annotations

import json
from typing import Any

from principals import ACCOUNT, error_of, lambda_role, new_user, root_client

from conftest import ShoalServer, create_function, default_subnet, unique_name, wait_for

HI = "def handler(e, c):\n    return 'hi'\n"


def _function(server: ShoalServer) -> tuple[str, str]:
    lam = root_client(server, "lambda")
    role = lambda_role(server, "service-role/AWSLambdaBasicExecutionRole")
    name = create_function(lam, code=HI, Role=role)
    return name, lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def test_a_function_policy_grants_a_user_without_identity_policies(server: ShoalServer) -> None:
    lam = root_client(server, "lambda")
    granted, granted_arn = _function(server)
    other, other_arn = _function(server)
    user = new_user(server)
    mine = user.client(server, "lambda")
    assert error_of(lambda: mine.invoke(FunctionName=granted))[:2] == (
        "AccessDeniedException", 403)  # fmt: skip

    lam.add_permission(FunctionName=granted, StatementId="dev-invokes",
                       Action="lambda:InvokeFunction", Principal=user.arn)  # fmt: skip
    assert json.loads(mine.invoke(FunctionName=granted)["Payload"].read()) == "hi"
    assert json.loads(mine.invoke(FunctionName=granted_arn)["Payload"].read()) == "hi"
    code, status, message = error_of(lambda: mine.invoke(FunctionName=other))
    assert (code, status) == ("AccessDeniedException", 403)
    assert message.startswith(f"User: {user.arn} is not authorized to perform: "
                              f"lambda:InvokeFunction on resource: {other_arn}")  # fmt: skip
    # The statement names one action: the user may not read the function's configuration.
    assert error_of(lambda: mine.get_function(FunctionName=granted))[0] == "AccessDeniedException"
    # A permission of the unqualified function is not one of its versions (its own Resource).
    version = lam.publish_version(FunctionName=granted)["Version"]
    assert error_of(lambda: mine.invoke(FunctionName=granted, Qualifier=version))[0] == (
        "AccessDeniedException")  # fmt: skip

    lam.remove_permission(FunctionName=granted, StatementId="dev-invokes")
    assert error_of(lambda: mine.invoke(FunctionName=granted))[0] == "AccessDeniedException"


def test_a_permission_for_the_account_delegates_to_identity_policies(server: ShoalServer) -> None:
    lam = root_client(server, "lambda")
    name, arn = _function(server)
    lam.add_permission(FunctionName=name, StatementId="account",
                       Action="lambda:InvokeFunction", Principal=ACCOUNT)  # fmt: skip
    nobody = new_user(server).client(server, "lambda")
    assert error_of(lambda: nobody.invoke(FunctionName=name))[0] == "AccessDeniedException"
    allowed = new_user(server, {"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                "Resource": arn})  # fmt: skip
    assert json.loads(allowed.client(server, "lambda").invoke(FunctionName=name)[
        "Payload"].read()) == "hi"  # fmt: skip


def _file_system(efs: Any) -> tuple[str, str]:
    fs = efs.create_file_system(CreationToken=unique_name("respol"))
    wait_for(lambda: efs.describe_file_systems(FileSystemId=fs["FileSystemId"])["FileSystems"][
        0]["LifeCycleState"] == "available")  # fmt: skip
    return fs["FileSystemId"], fs["FileSystemArn"]


def test_a_file_system_policy_deny_beats_an_identity_allow(server: ShoalServer) -> None:
    efs = root_client(server, "efs")
    fs_id, fs_arn = _file_system(efs)
    other_id, _ = _file_system(efs)
    user = new_user(server, {"Effect": "Allow", "Action": "elasticfilesystem:*",
                             "Resource": "*"})  # fmt: skip
    mine = user.client(server, "efs")
    assert mine.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["FileSystemId"] == (
        fs_id)  # fmt: skip
    efs.put_file_system_policy(FileSystemId=fs_id, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "NoDeletes", "Effect": "Deny", "Principal": {"AWS": user.arn},
                       "Action": ["elasticfilesystem:DeleteFileSystem",
                                  "elasticfilesystem:CreateAccessPoint"],
                       "Resource": fs_arn}],
    }))  # fmt: skip
    code, status, message = error_of(lambda: mine.delete_file_system(FileSystemId=fs_id))
    assert (code, status) == ("AccessDeniedException", 403)
    assert message == (f"User: {user.arn} is not authorized to perform: "
                       "elasticfilesystem:DeleteFileSystem on the specified resource")  # fmt: skip
    assert error_of(lambda: mine.create_access_point(FileSystemId=fs_id))[0] == (
        "AccessDeniedException")  # fmt: skip
    # What the deny does not name is still the identity policy's to allow; so is the other
    # file system, whose policy this is not.
    assert mine.describe_file_systems(FileSystemId=fs_id)["FileSystems"]
    mine.delete_file_system(FileSystemId=other_id)


def test_a_file_system_policy_grants_a_user_without_identity_policies(server: ShoalServer) -> None:
    efs = root_client(server, "efs")
    fs_id, fs_arn = _file_system(efs)
    user = new_user(server)
    mine = user.client(server, "efs")
    assert error_of(lambda: mine.describe_file_systems(FileSystemId=fs_id))[0] == (
        "AccessDeniedException")  # fmt: skip
    efs.put_file_system_policy(FileSystemId=fs_id, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user.arn},
                       "Action": "elasticfilesystem:DescribeFileSystems", "Resource": fs_arn}],
    }))  # fmt: skip
    assert mine.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["FileSystemId"] == (
        fs_id)  # fmt: skip
    assert error_of(lambda: mine.describe_access_points(FileSystemId=fs_id))[0] == (
        "AccessDeniedException")  # fmt: skip


def test_mount_target_operations_are_authorized_on_their_file_system(
    server: ShoalServer,
) -> None:
    efs = root_client(server, "efs")
    fs_id, fs_arn = _file_system(efs)
    other_id, other_arn = _file_system(efs)
    subnet = default_subnet(server)
    target = efs.create_mount_target(FileSystemId=fs_id, SubnetId=subnet)["MountTargetId"]
    other = efs.create_mount_target(FileSystemId=other_id, SubnetId=subnet)["MountTargetId"]
    user = new_user(server, {"Effect": "Allow", "Action": [
        "elasticfilesystem:DescribeMountTargets",
        "elasticfilesystem:DescribeMountTargetSecurityGroups"], "Resource": fs_arn})  # fmt: skip
    mine = user.client(server, "efs")
    (found,) = mine.describe_mount_targets(MountTargetId=target)["MountTargets"]
    assert found["FileSystemId"] == fs_id
    assert "SecurityGroups" in mine.describe_mount_target_security_groups(MountTargetId=target)
    code, _, message = error_of(lambda: mine.describe_mount_targets(MountTargetId=other))
    assert code == "AccessDeniedException" and "DescribeMountTargets" in message
    assert error_of(lambda: mine.describe_mount_target_security_groups(MountTargetId=other))[
        0] == "AccessDeniedException"  # fmt: skip
    assert error_of(lambda: mine.delete_mount_target(MountTargetId=target))[0] == (
        "AccessDeniedException")  # fmt: skip
    assert other_arn != fs_arn
    for mt in (target, other):
        efs.delete_mount_target(MountTargetId=mt)
