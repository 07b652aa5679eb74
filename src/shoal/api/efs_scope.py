"""EFS's resources are per region: one check, before every handler, that what a request names
is in the request's region (the EFS handlers are in :mod:`shoal.api.efs`).

Ids (``fs-…``, ``fsap-…``, ``fsmt-…``) are unique everywhere, and a resource knows its region
(a file system's ARN names it; an access point and a mount target are their file system's), so
another region's resource is answered not found, in EFS's words, as AWS answers it.

The same resolution says what a signed call is authorized on: the mount-target operations name
only the mount target, and EFS authorizes them on "the mount target's file system" (each
operation's API reference); and the file system's policy is the resource policy of every call
on that file system, its access points and its mount targets, evaluated with the caller's
identity policies (:mod:`shoal.identity.authorize`).
"""

from __future__ import annotations

from shoal.api.dispatch import Call, efs_api
from shoal.errors import AwsError
from shoal.filesystems.models import AccessPoint, FileSystem
from shoal.filesystems.service import FileSystemService
from shoal.identity.authorize import Target


@efs_api.prepares
def _in_region(call: Call) -> None:
    """Refuse a file system, access point or mount target of another region as not found."""
    svc: FileSystemService = call.shoal.filesystems
    p = call.params
    found: list[FileSystem | AccessPoint] = []
    if isinstance(p.get("FileSystemId"), str):
        found.append(svc.get_file_system(p["FileSystemId"]))
    if isinstance(p.get("AccessPointId"), str):
        found.append(svc.get_access_point(p["AccessPointId"]))
    if isinstance(p.get("ResourceId"), str):
        found.append(svc.taggable(p["ResourceId"]))
    if isinstance(p.get("MountTargetId"), str):
        target = svc.targets.get(p["MountTargetId"])
        if svc.get_file_system(target.file_system_id).region != call.region:
            raise AwsError("MountTargetNotFound", f"Mount target '{target.id}' does not exist.")
    for resource in found:
        if resource.region != call.region:
            raise _not_found(resource)


def _not_found(resource: FileSystem | AccessPoint) -> AwsError:
    if isinstance(resource, AccessPoint):
        return AwsError("AccessPointNotFound", f"Access point '{resource.id}' does not exist.")
    return AwsError("FileSystemNotFound", f"File system '{resource.id}' does not exist.")


@efs_api.authorizes_on
def _file_system(call: Call) -> Target:
    """The mount target's file system for the mount-target operations, and the policy of the
    file system the call is on (named, or an access point's or mount target's)."""
    svc: FileSystemService = call.shoal.filesystems
    p = call.params
    fs_id: str | None = None
    resource: str | None = None
    if isinstance(p.get("MountTargetId"), str) and not p.get("AccessPointId"):
        fs_id = svc.targets.get(p["MountTargetId"]).file_system_id
        if not p.get("FileSystemId"):
            resource = svc.get_file_system(fs_id).arn
    elif isinstance(p.get("FileSystemId"), str):
        fs_id = svc.get_file_system(p["FileSystemId"]).id
    elif isinstance(p.get("AccessPointId"), str):
        fs_id = svc.get_access_point(p["AccessPointId"]).file_system_id
    elif isinstance(p.get("ResourceId"), str):
        found = svc.taggable(p["ResourceId"])
        fs_id = found.file_system_id if isinstance(found, AccessPoint) else found.id
    found_policy = svc.policies.of(fs_id) if fs_id is not None else None
    return Target(resource, (found_policy,) if found_policy is not None else ())
