"""EFS's resources are per region: one check, before every handler, that what a request names
is in the request's region (the EFS handlers are in :mod:`shoal.api.efs`).

Ids (``fs-…``, ``fsap-…``, ``fsmt-…``) are unique everywhere, and a resource knows its region
(a file system's ARN names it; an access point and a mount target are their file system's), so
another region's resource is answered not found, in EFS's words, as AWS answers it.
"""

from __future__ import annotations

from shoal.api.dispatch import Call, efs_api
from shoal.errors import AwsError
from shoal.filesystems.models import AccessPoint, FileSystem
from shoal.filesystems.service import FileSystemService


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
