"""What a function's execution environments mount: one bind mount per file-system config, and
the POSIX identity the environment runs as.

Each config names an access point; the mount is decided as Lambda's is, by IAM: the function
mounts as its execution role (a session of it named after the function), whose identity
policies and the file system's policy decide ``ClientMount``, ``ClientWrite`` (without it the
mount is read-only) and ``ClientRootAccess`` (:mod:`shoal.filesystems.policy`). A refused mount
fails the invoke with Lambda's ``EFSMountFailureException`` (403), saying which policy refused;
so do an access point that is gone, a root directory that is missing without CreationInfo, and
an identity that would be root (environments never run as root).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoal.errors import AwsError
from shoal.filesystems import policy, rootdir
from shoal.filesystems.identity import decide
from shoal.filesystems.models import AccessPoint, EnvironmentIdentity, FileSystem, Mount, PosixUser

if TYPE_CHECKING:
    from shoal.filesystems.service import FileSystemService
    from shoal.functions.models import FunctionVersion


def function_mounts(svc: FileSystemService, fn: FunctionVersion) -> EnvironmentIdentity:
    """The bind mounts and identity for ``fn``'s environments (see EnvironmentIdentity)."""
    mounts: list[Mount] = []
    user: PosixUser | None = None
    for config in fn.file_system_configs:
        ap = svc.access_point_by_arn(config.arn)
        fs = _file_system(svc, ap)
        if ap is None or fs is None or fs.lifecycle_state != "available":
            raise rootdir.mount_failure(
                f"The function couldn't mount the file system: access point {config.arn} "
                "does not exist or is not available."
            )
        svc.check_key(fs)  # an encrypted file system whose KMS key is disabled: no mount
        access = svc.policies.access(fs, ap, policy.role_session(fn.role, fn.name))
        if not access.mount:
            raise rootdir.mount_failure(
                f"The function couldn't mount the Amazon EFS file system with access point "
                f"{ap.arn}: the execution role {fn.role} is not authorized: {access.refusal}."
            )
        ident = decide(ap, access)
        try:
            source = svc.access_point_root(ap)
        except rootdir.RootDirectoryError as e:
            raise rootdir.mount_failure(f"Access point {ap.id}: {e}") from None
        mounts.append(Mount(source, config.local_mount_path, readonly=ident.read_only))
        if ident.user is not None:
            user = _function_user(ap, ident.user, user)
    if user is None:
        return EnvironmentIdentity(tuple(mounts))
    return EnvironmentIdentity(tuple(mounts), user.uid, user.gid, user.secondary_gids)


def _file_system(svc: FileSystemService, ap: AccessPoint | None) -> FileSystem | None:
    if ap is None:
        return None
    try:
        return svc.get_file_system(ap.file_system_id)
    except AwsError:
        return None


def _function_user(ap: AccessPoint, user: PosixUser, prior: PosixUser | None) -> PosixUser:
    """The environment's user from the rule's ``user`` (already root-squashed by the policy)."""
    if user.uid == 0:
        raise rootdir.mount_failure(
            f"Access point {ap.id} sets PosixUser uid 0; execution environments never run as "
            "root. Use a non-zero uid, or deny elasticfilesystem:ClientRootAccess so uid 0 "
            "is squashed to 65534."
        )
    if prior is not None and prior != user:
        raise rootdir.mount_failure(
            "The function's file system configs use access points with different POSIX users."
        )
    return user
