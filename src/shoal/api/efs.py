"""EFS API handlers (``/2015-02-01/…``): file systems, access points, policies, mount targets
and tags. Each translates the model's members to a call on ``shoal.filesystems`` and back;
validation of shapes is the codec's, behaviour is the service's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from shoal.api import efs_network
from shoal.api.dispatch import Call, efs_api
from shoal.filesystems.fs_settings import FileSystemSettings
from shoal.filesystems.models import (
    AccessPoint,
    CreationInfo,
    FileSystem,
    MountTarget,
    PosixUser,
)
from shoal.filesystems.rules import bad_request
from shoal.filesystems.service import FileSystemService
from shoal.vpc import zones

T = TypeVar("T")
DEFAULT_PAGE = 100


def _svc(call: Call) -> FileSystemService:
    service: FileSystemService = call.shoal.filesystems
    return service


def _tags(tags: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags]


def _tag_pairs(tags: list[dict[str, str]] | None) -> list[tuple[str, str]]:
    return [(t["Key"], t["Value"]) for t in tags or ()]


def _page(items: list[T], key: Callable[[T], str], marker: str | None, limit: int | None,
          ) -> tuple[list[T], str | None]:  # fmt: skip
    """A page of ``items`` starting at the item whose key is ``marker``; the next marker."""
    start = 0
    if marker is not None:
        keys = [key(i) for i in items]
        if marker not in keys:
            raise bad_request(f"Invalid pagination token '{marker}'")
        start = keys.index(marker)
    end = start + (limit or DEFAULT_PAGE)
    return items[start:end], key(items[end]) if end < len(items) else None


# ------------------------------------------------------------------------ file systems


def _zone_id(region: str, name: str) -> str | None:
    """AWS's zone id of a modelled zone: us-east-1b -> use1-az2 (see shoal.vpc.zones)."""
    zone = zones.zone(region, name)
    return zone.id if zone else None


async def _describe_fs(svc: FileSystemService, fs: FileSystem, state: str | None = None
                       ) -> dict[str, Any]:  # fmt: skip
    size = await svc.size(fs)
    return {
        "OwnerId": fs.owner_id,
        "CreationToken": fs.creation_token,
        "FileSystemId": fs.id,
        "FileSystemArn": fs.arn,
        "CreationTime": fs.creation_time,
        "LifeCycleState": state or fs.lifecycle_state,
        "Name": fs.name,
        "NumberOfMountTargets": len(svc.targets.for_file_system(fs.id)),
        "SizeInBytes": {
            "Value": size.bytes,
            "Timestamp": size.timestamp,
            "ValueInStandard": size.bytes,
            "ValueInIA": 0,
            "ValueInArchive": 0,
        },
        "PerformanceMode": fs.performance_mode,
        "Encrypted": fs.encrypted,
        "KmsKeyId": fs.kms_key_id,
        "ThroughputMode": fs.throughput_mode,
        "ProvisionedThroughputInMibps": fs.provisioned_throughput,
        "AvailabilityZoneName": fs.availability_zone,
        "AvailabilityZoneId": _zone_id(fs.region, fs.availability_zone)
        if fs.availability_zone
        else None,
        "Tags": _tags(fs.tags),
        "FileSystemProtection": {"ReplicationOverwriteProtection": "ENABLED"},
    }


@efs_api.handles("CreateFileSystem")
async def create_file_system(call: Call) -> dict[str, Any]:
    p = call.params
    svc = _svc(call)
    fs = svc.create_file_system(
        p["CreationToken"],
        region=call.region,
        performance_mode=p.get("PerformanceMode", "generalPurpose"),
        throughput_mode=p.get("ThroughputMode", "bursting"),
        provisioned=p.get("ProvisionedThroughputInMibps"),
        encrypted=p.get("Encrypted", False),
        kms_key_id=p.get("KmsKeyId"),
        availability_zone=p.get("AvailabilityZoneName"),
        tags=_tag_pairs(p.get("Tags")),
    )
    if "Backup" in p:  # One Zone file systems have backups by default; this says otherwise
        _settings(call).put_backup(fs, "ENABLED" if p["Backup"] else "DISABLED")
    # EFS answers "creating"; Shoal's directory is ready at once, so it is "available" next.
    return await _describe_fs(svc, fs, state="creating")


@efs_api.handles("DescribeFileSystems")
async def describe_file_systems(call: Call) -> dict[str, Any]:
    p = call.params
    svc = _svc(call)
    if "FileSystemId" in p and "CreationToken" in p:
        raise bad_request("Specify either FileSystemId or CreationToken, not both")
    if "FileSystemId" in p:
        found = [svc.get_file_system(p["FileSystemId"])]
    elif "CreationToken" in p:
        fs = svc.by_token(p["CreationToken"], call.region)
        found = [fs] if fs else []
    else:
        found = svc.file_systems(call.region)
    page, next_marker = _page(found, lambda f: f.id, p.get("Marker"), p.get("MaxItems"))
    descriptions = await asyncio.gather(*(_describe_fs(svc, fs) for fs in page))
    return {"FileSystems": list(descriptions), "Marker": p.get("Marker"), "NextMarker": next_marker}


@efs_api.handles("UpdateFileSystem")
async def update_file_system(call: Call) -> dict[str, Any]:
    p = call.params
    svc = _svc(call)
    fs = svc.update_file_system(
        p["FileSystemId"], p.get("ThroughputMode"), p.get("ProvisionedThroughputInMibps")
    )
    return await _describe_fs(svc, fs)


@efs_api.handles("DeleteFileSystem")
async def delete_file_system(call: Call) -> None:
    fs = _svc(call).get_file_system(call.params["FileSystemId"])
    _svc(call).delete_file_system(fs.id)
    _settings(call).forget(fs.id)


# ------------------------------------------------------------------------ access points


def _describe_ap(ap: AccessPoint) -> dict[str, Any]:
    root: dict[str, Any] = {"Path": ap.path}
    if ap.creation_info is not None:
        info = ap.creation_info
        root["CreationInfo"] = {
            "OwnerUid": info.owner_uid, "OwnerGid": info.owner_gid, "Permissions": info.permissions,
        }  # fmt: skip
    user = None
    if ap.posix_user is not None:
        user = {"Uid": ap.posix_user.uid, "Gid": ap.posix_user.gid}
        if ap.posix_user.secondary_gids:
            user["SecondaryGids"] = list(ap.posix_user.secondary_gids)  # type: ignore[assignment]
    return {
        "ClientToken": ap.client_token,
        "Name": ap.name,
        "Tags": _tags(ap.tags),
        "AccessPointId": ap.id,
        "AccessPointArn": ap.arn,
        "FileSystemId": ap.file_system_id,
        "PosixUser": user,
        "RootDirectory": root,
        "OwnerId": ap.owner_id,
        "LifeCycleState": ap.lifecycle_state,
    }


@efs_api.handles("CreateAccessPoint")
async def create_access_point(call: Call) -> dict[str, Any]:
    p = call.params
    user = p.get("PosixUser")
    root = p.get("RootDirectory") or {}
    info = root.get("CreationInfo")
    ap = _svc(call).create_access_point(
        p["FileSystemId"],
        p["ClientToken"],
        posix_user=PosixUser(user["Uid"], user["Gid"], tuple(user.get("SecondaryGids", ())))
        if user
        else None,
        path=root.get("Path", "/"),
        creation_info=CreationInfo(info["OwnerUid"], info["OwnerGid"], info["Permissions"])
        if info
        else None,
        tags=_tag_pairs(p.get("Tags")),
    )
    return _describe_ap(ap)


@efs_api.handles("DescribeAccessPoints")
async def describe_access_points(call: Call) -> dict[str, Any]:
    p = call.params
    svc = _svc(call)
    if "AccessPointId" in p and "FileSystemId" in p:
        raise bad_request("Specify either AccessPointId or FileSystemId, not both")
    if "AccessPointId" in p:
        found = [svc.get_access_point(p["AccessPointId"])]
    elif "FileSystemId" in p:
        found = svc.access_points(svc.get_file_system(p["FileSystemId"]).id)
    else:
        found = svc.access_points(region=call.region)
    page, token = _page(found, lambda a: a.id, p.get("NextToken"), p.get("MaxResults"))
    return {"AccessPoints": [_describe_ap(a) for a in page], "NextToken": token}


@efs_api.handles("DeleteAccessPoint")
async def delete_access_point(call: Call) -> None:
    _svc(call).delete_access_point(call.params["AccessPointId"])


# ------------------------------------------------------------------------ policies


@efs_api.handles("PutFileSystemPolicy")
async def put_file_system_policy(call: Call) -> dict[str, Any]:
    svc = _svc(call)
    fs = svc.get_file_system(call.params["FileSystemId"])
    return {"FileSystemId": fs.id, "Policy": svc.policies.put(fs.id, call.params["Policy"])}


@efs_api.handles("DescribeFileSystemPolicy")
async def describe_file_system_policy(call: Call) -> dict[str, Any]:
    svc = _svc(call)
    fs = svc.get_file_system(call.params["FileSystemId"])
    return {"FileSystemId": fs.id, "Policy": svc.policies.get(fs.id)}


@efs_api.handles("DeleteFileSystemPolicy")
async def delete_file_system_policy(call: Call) -> None:
    _svc(call).policies.delete(call.params["FileSystemId"])


# ------------------------------------------------------------------------ mount targets


def _describe_mt(call: Call, t: MountTarget) -> dict[str, Any]:
    return {
        "OwnerId": t.owner_id,
        "MountTargetId": t.id,
        "FileSystemId": t.file_system_id,
        "SubnetId": t.subnet_id,
        "LifeCycleState": t.lifecycle_state,
        "IpAddress": t.ip_address,
        "AvailabilityZoneName": t.availability_zone,
        **efs_network.describe(call, t),  # NetworkInterfaceId, AvailabilityZoneId, VpcId
    }


@efs_api.handles("CreateMountTarget")
async def create_mount_target(call: Call) -> dict[str, Any]:
    p = call.params
    svc = _svc(call)
    fs = svc.get_file_system(p["FileSystemId"])
    subnet, groups = efs_network.placement(call, fs, p)
    target = svc.targets.create(fs, p["SubnetId"], p.get("IpAddress"), zone=subnet.zone)
    efs_network.attach(call, target, subnet, groups)
    return _describe_mt(call, target)


@efs_api.handles("DescribeMountTargets")
async def describe_mount_targets(call: Call) -> dict[str, Any]:
    p = call.params
    svc = _svc(call)
    given = [k for k in ("FileSystemId", "MountTargetId", "AccessPointId") if k in p]
    if len(given) != 1:
        raise bad_request("Specify exactly one of FileSystemId, MountTargetId or AccessPointId")
    if "MountTargetId" in p:
        found = [svc.targets.get(p["MountTargetId"])]
    else:
        fs_id = (
            svc.get_file_system(p["FileSystemId"]).id
            if "FileSystemId" in p
            else svc.get_access_point(p["AccessPointId"]).file_system_id
        )
        found = svc.targets.for_file_system(fs_id)
    page, next_marker = _page(found, lambda t: t.id, p.get("Marker"), p.get("MaxItems"))
    return {
        "MountTargets": [_describe_mt(call, t) for t in page],
        "Marker": p.get("Marker"),
        "NextMarker": next_marker,
    }


@efs_api.handles("DeleteMountTarget")
async def delete_mount_target(call: Call) -> None:
    _svc(call).targets.delete(call.params["MountTargetId"])
    efs_network.detach(call, call.params["MountTargetId"])


# ------------------------------------------------------------------------ tags


@efs_api.handles("TagResource")
async def tag_resource(call: Call) -> None:
    _svc(call).tag(call.params["ResourceId"], _tag_pairs(call.params["Tags"]))


@efs_api.handles("UntagResource")
async def untag_resource(call: Call) -> None:
    _svc(call).untag(call.params["ResourceId"], call.params["TagKeys"])


@efs_api.handles("ListTagsForResource")
async def list_tags_for_resource(call: Call) -> dict[str, Any]:
    p = call.params
    tags = list(_svc(call).tags(p["ResourceId"]))
    page, token = _page(tags, lambda t: t[0], p.get("NextToken"), p.get("MaxResults"))
    return {"Tags": _tags(page), "NextToken": token}


@efs_api.handles("CreateTags")
async def create_tags(call: Call) -> None:
    _svc(call).tag(call.params["FileSystemId"], _tag_pairs(call.params["Tags"]))


@efs_api.handles("DeleteTags")
async def delete_tags(call: Call) -> None:
    _svc(call).untag(call.params["FileSystemId"], call.params["TagKeys"])


@efs_api.handles("DescribeTags")
async def describe_tags(call: Call) -> dict[str, Any]:
    p = call.params
    svc = _svc(call)
    fs = svc.get_file_system(p["FileSystemId"])
    page, next_marker = _page(list(fs.tags), lambda t: t[0], p.get("Marker"), p.get("MaxItems"))
    return {"Tags": _tags(page), "Marker": p.get("Marker"), "NextMarker": next_marker}


# ------------------------------------------------------------------------ backup, lifecycle


def _settings(call: Call) -> FileSystemSettings:
    settings: FileSystemSettings = call.shoal.fs_settings
    return settings


@efs_api.handles("DescribeBackupPolicy")
async def describe_backup_policy(call: Call) -> dict[str, Any]:
    fs = _svc(call).get_file_system(call.params["FileSystemId"])
    return {"BackupPolicy": {"Status": _settings(call).backup(fs)}}


@efs_api.handles("PutBackupPolicy")
async def put_backup_policy(call: Call) -> dict[str, Any]:
    fs = _svc(call).get_file_system(call.params["FileSystemId"])
    status = _settings(call).put_backup(fs, call.params["BackupPolicy"]["Status"])
    return {"BackupPolicy": {"Status": status}}


@efs_api.handles("DescribeLifecycleConfiguration")
async def describe_lifecycle_configuration(call: Call) -> dict[str, Any]:
    fs = _svc(call).get_file_system(call.params["FileSystemId"])
    return {"LifecyclePolicies": _settings(call).lifecycle(fs)}


@efs_api.handles("PutLifecycleConfiguration")
async def put_lifecycle_configuration(call: Call) -> dict[str, Any]:
    fs = _svc(call).get_file_system(call.params["FileSystemId"])
    policies = _settings(call).put_lifecycle(fs, call.params["LifecyclePolicies"])
    return {"LifecyclePolicies": policies}
