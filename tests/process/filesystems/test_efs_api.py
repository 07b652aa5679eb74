"""The EFS API through boto3, as a user calls it, against a real ``shoal serve``."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ShoalServer, default_subnet, shoal_urlopen, unique_name, wait_for

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def error(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def new_fs(efs: Any, **kwargs: Any) -> dict[str, Any]:
    return efs.create_file_system(CreationToken=unique_name("tok"), **kwargs)  # type: ignore[no-any-return]


def seed_access_point(efs: Any, fs_id: str, **kwargs: Any) -> dict[str, Any]:
    return efs.create_access_point(  # type: ignore[no-any-return]
        FileSystemId=fs_id,
        PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory={
            "Path": "/message",
            "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "750"},
        },
        **kwargs,
    )


def test_create_file_system_shape_and_idempotency(efs_client: Any) -> None:
    token = unique_name("tok")
    fs = efs_client.create_file_system(
        CreationToken=token,
        PerformanceMode="generalPurpose",
        Encrypted=True,
        ThroughputMode="elastic",
        Tags=[{"Key": "Name", "Value": "MessageWall"}],
    )
    assert fs["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert fs["FileSystemId"].startswith("fs-") and len(fs["FileSystemId"]) == 20
    assert fs["FileSystemArn"] == (
        f"arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/{fs['FileSystemId']}"
    )
    assert fs["LifeCycleState"] == "creating"
    assert (fs["Name"], fs["OwnerId"], fs["NumberOfMountTargets"]) == (
        "MessageWall",
        "123456789012",
        0,
    )
    assert fs["Encrypted"] and fs["KmsKeyId"]
    assert fs["SizeInBytes"]["Value"] > 0
    with pytest.raises(ClientError) as e:
        efs_client.create_file_system(CreationToken=token)
    assert error(e) == ("FileSystemAlreadyExists", 409)
    assert e.value.response["FileSystemId"] == fs["FileSystemId"]
    wait_for(
        lambda: (
            efs_client.describe_file_systems(FileSystemId=fs["FileSystemId"])["FileSystems"][0][
                "LifeCycleState"
            ]
            == "available"
        )
    )
    by_token = efs_client.describe_file_systems(CreationToken=token)["FileSystems"]
    assert [f["FileSystemId"] for f in by_token] == [fs["FileSystemId"]]
    assert efs_client.describe_file_systems(CreationToken="no-such-token")["FileSystems"] == []


def test_throughput_modes(efs_client: Any) -> None:
    with pytest.raises(ClientError) as e:
        new_fs(efs_client, ThroughputMode="provisioned")
    assert error(e) == ("BadRequest", 400)
    with pytest.raises(ClientError) as e:
        new_fs(efs_client, ThroughputMode="bursting", ProvisionedThroughputInMibps=10.0)
    assert error(e) == ("BadRequest", 400)
    fs = new_fs(efs_client, ThroughputMode="provisioned", ProvisionedThroughputInMibps=128.0)
    assert fs["ProvisionedThroughputInMibps"] == 128.0
    updated = efs_client.update_file_system(
        FileSystemId=fs["FileSystemId"], ThroughputMode="elastic"
    )
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert updated["ThroughputMode"] == "elastic" and "ProvisionedThroughputInMibps" not in updated


def test_not_found_errors(efs_client: Any) -> None:
    missing = "fs-0123456789abcdef0"
    with pytest.raises(ClientError) as e:
        efs_client.describe_file_systems(FileSystemId=missing)
    assert error(e) == ("FileSystemNotFound", 404)
    assert e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        efs_client.delete_access_point(AccessPointId="fsap-0123456789abcdef0")
    assert error(e) == ("AccessPointNotFound", 404)
    with pytest.raises(ClientError) as e:
        efs_client.delete_mount_target(MountTargetId="fsmt-0123456789abcdef0")
    assert error(e) == ("MountTargetNotFound", 404)
    with pytest.raises(ClientError) as e:
        efs_client.describe_file_system_policy(FileSystemId=missing)
    assert error(e) == ("FileSystemNotFound", 404)


def test_pagination_of_file_systems_and_access_points(efs_client: Any) -> None:
    made = [new_fs(efs_client)["FileSystemId"] for _ in range(3)]
    seen: list[str] = []
    kwargs: dict[str, Any] = {"MaxItems": 2}
    while True:
        page = efs_client.describe_file_systems(**kwargs)
        assert len(page["FileSystems"]) <= 2
        seen += [f["FileSystemId"] for f in page["FileSystems"]]
        if "NextMarker" not in page:
            break
        kwargs["Marker"] = page["NextMarker"]
    assert set(made) <= set(seen) and len(seen) == len(set(seen))
    paginated = efs_client.get_paginator("describe_file_systems").paginate(
        PaginationConfig={"PageSize": 1}
    )
    assert set(made) <= {f["FileSystemId"] for p in paginated for f in p["FileSystems"]}
    fs_id = made[0]
    aps = [seed_access_point(efs_client, fs_id)["AccessPointId"] for _ in range(3)]
    first = efs_client.describe_access_points(FileSystemId=fs_id, MaxResults=2)
    rest = efs_client.describe_access_points(FileSystemId=fs_id, NextToken=first["NextToken"])
    assert [a["AccessPointId"] for a in first["AccessPoints"] + rest["AccessPoints"]] == sorted(
        aps, key=aps.index
    )


def test_access_point_shape_idempotency_and_validation(efs_client: Any) -> None:
    fs_id = new_fs(efs_client)["FileSystemId"]
    ap = seed_access_point(
        efs_client, fs_id, ClientToken="same", Tags=[{"Key": "Name", "Value": "msg"}]
    )
    assert ap["AccessPointId"].startswith("fsap-") and len(ap["AccessPointId"]) == 22
    assert ap["AccessPointArn"].endswith(f":access-point/{ap['AccessPointId']}")
    assert ap["PosixUser"] == {"Uid": 1001, "Gid": 1001}
    assert ap["RootDirectory"]["CreationInfo"]["Permissions"] == "750"
    assert ap["Name"] == "msg" and ap["LifeCycleState"] == "available"
    again = seed_access_point(
        efs_client, fs_id, ClientToken="same", Tags=[{"Key": "Name", "Value": "msg"}]
    )
    assert again["AccessPointId"] == ap["AccessPointId"]
    with pytest.raises(ClientError) as e:
        efs_client.create_access_point(ClientToken="same", FileSystemId=fs_id)
    assert error(e) == ("AccessPointAlreadyExists", 409)
    for path in ("/a/b/c/d/e", "/a/../b", "relative"):
        with pytest.raises(ClientError) as e:
            efs_client.create_access_point(FileSystemId=fs_id, RootDirectory={"Path": path})
        assert error(e)[1] == 400
    with pytest.raises(ClientError) as e:
        efs_client.create_access_point(FileSystemId="fs-0123456789abcdef0")
    assert error(e) == ("FileSystemNotFound", 404)
    (described,) = efs_client.describe_access_points(AccessPointId=ap["AccessPointArn"])[
        "AccessPoints"
    ]
    assert described["AccessPointId"] == ap["AccessPointId"]
    efs_client.delete_access_point(AccessPointId=ap["AccessPointId"])
    assert efs_client.describe_access_points(FileSystemId=fs_id)["AccessPoints"] == []


def test_policy_put_describe_delete(efs_client: Any) -> None:
    fs = new_fs(efs_client)
    fs_id = fs["FileSystemId"]
    with pytest.raises(ClientError) as e:
        efs_client.describe_file_system_policy(FileSystemId=fs_id)
    assert error(e) == ("PolicyNotFound", 404)
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ROLE},
                    "Action": "elasticfilesystem:ClientMount",
                    "Resource": fs["FileSystemArn"],
                }
            ],
        }
    )
    out = efs_client.put_file_system_policy(FileSystemId=fs_id, Policy=text)
    assert (out["FileSystemId"], json.loads(out["Policy"])) == (fs_id, json.loads(text))
    assert json.loads(efs_client.describe_file_system_policy(FileSystemId=fs_id)["Policy"]) == (
        json.loads(text)
    )
    for bad in ("{not json", '{"Statement": [{"Effect": "Allow"}]}', "[]"):
        with pytest.raises(ClientError) as e:
            efs_client.put_file_system_policy(FileSystemId=fs_id, Policy=bad)
        assert error(e) == ("InvalidPolicyException", 400)
    efs_client.delete_file_system_policy(FileSystemId=fs_id)
    with pytest.raises(ClientError) as e:
        efs_client.describe_file_system_policy(FileSystemId=fs_id)
    assert error(e) == ("PolicyNotFound", 404)


def test_tags_on_file_systems_and_access_points(efs_client: Any) -> None:
    fs = new_fs(efs_client, Tags=[{"Key": "Name", "Value": "one"}])
    fs_id = fs["FileSystemId"]
    efs_client.tag_resource(
        ResourceId=fs_id, Tags=[{"Key": "Name", "Value": "two"}, {"Key": "team", "Value": "ml"}]
    )
    tags = efs_client.list_tags_for_resource(ResourceId=fs_id)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"Name": "two", "team": "ml"}
    assert efs_client.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["Name"] == "two"
    efs_client.untag_resource(ResourceId=fs_id, TagKeys=["team"])
    assert efs_client.describe_tags(FileSystemId=fs_id)["Tags"] == [{"Key": "Name", "Value": "two"}]
    efs_client.create_tags(FileSystemId=fs_id, Tags=[{"Key": "old", "Value": "api"}])
    efs_client.delete_tags(FileSystemId=fs_id, TagKeys=["Name"])
    assert efs_client.describe_tags(FileSystemId=fs_id)["Tags"] == [{"Key": "old", "Value": "api"}]
    ap_id = seed_access_point(efs_client, fs_id)["AccessPointId"]
    efs_client.tag_resource(ResourceId=ap_id, Tags=[{"Key": "Name", "Value": "ap"}])
    assert efs_client.describe_access_points(AccessPointId=ap_id)["AccessPoints"][0]["Name"] == "ap"
    # An ARN works as ResourceId too: it has a "/" that travels percent-encoded in the path.
    fs_arn = efs_client.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["FileSystemArn"]
    efs_client.tag_resource(ResourceId=fs_arn, Tags=[{"Key": "by", "Value": "arn"}])
    tags = efs_client.list_tags_for_resource(ResourceId=fs_arn)["Tags"]
    assert {"Key": "by", "Value": "arn"} in tags
    efs_client.untag_resource(ResourceId=fs_arn, TagKeys=["by"])
    assert {"Key": "by", "Value": "arn"} not in efs_client.list_tags_for_resource(
        ResourceId=fs_id)["Tags"]


def test_mount_targets_lifecycle_and_delete_rules(efs_client: Any, server: ShoalServer) -> None:
    fs_id = new_fs(efs_client)["FileSystemId"]
    subnet = default_subnet(server)
    mt = efs_client.create_mount_target(FileSystemId=fs_id, SubnetId=subnet)
    assert mt["MountTargetId"].startswith("fsmt-") and len(mt["MountTargetId"]) == 22
    assert mt["LifeCycleState"] == "creating" and mt["IpAddress"] == "127.0.0.1"
    with pytest.raises(ClientError) as e:
        efs_client.create_mount_target(FileSystemId=fs_id, SubnetId=subnet)
    assert error(e) == ("MountTargetConflict", 409)

    def state() -> str:
        (t,) = efs_client.describe_mount_targets(MountTargetId=mt["MountTargetId"])["MountTargets"]
        return str(t["LifeCycleState"])

    wait_for(lambda: state() != "creating", timeout=60)
    assert state() in ("available", "error")
    fs = efs_client.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]
    assert fs["NumberOfMountTargets"] == 1
    with pytest.raises(ClientError) as e:
        efs_client.delete_file_system(FileSystemId=fs_id)
    assert error(e) == ("FileSystemInUse", 409)
    efs_client.delete_mount_target(MountTargetId=mt["MountTargetId"])
    assert efs_client.describe_mount_targets(FileSystemId=fs_id)["MountTargets"] == []
    efs_client.delete_file_system(FileSystemId=fs_id)
    with pytest.raises(ClientError) as e:
        efs_client.describe_file_systems(FileSystemId=fs_id)
    assert error(e) == ("FileSystemNotFound", 404)


def test_size_follows_the_data(efs_client: Any, server: ShoalServer) -> None:
    fs_id = new_fs(efs_client)["FileSystemId"]
    root = server.data_dir / "filesystems" / fs_id
    assert root.is_dir() and oct(root.stat().st_mode & 0o777) == "0o755"
    before = efs_client.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["SizeInBytes"]
    (root / "blob").write_bytes(os.urandom(4 << 20))

    def grown() -> bool:
        size = efs_client.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["SizeInBytes"]
        return bool(
            size["Value"] >= before["Value"] + (4 << 20)
            and size["ValueInStandard"] == size["Value"]
        )

    wait_for(grown, timeout=20)


def test_host_path_endpoint_creates_access_point_root(efs_client: Any, server: ShoalServer) -> None:
    fs_id = new_fs(efs_client)["FileSystemId"]
    ap_id = seed_access_point(efs_client, fs_id)["AccessPointId"]
    root = server.data_dir / "filesystems" / fs_id / "message"
    assert not root.exists()  # created at first mount, not at CreateAccessPoint
    with shoal_urlopen(f"{server.endpoint}/shoal/fs/access-points/{ap_id}/path", "POST") as r:
        doc = json.load(r)
    assert doc["Path"] == str(root) and (doc["Uid"], doc["Gid"], doc["ReadOnly"]) == (
        1001,
        1001,
        False,
    )
    st = root.stat()
    assert (st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)) == (1001, 1001, "0o750")
