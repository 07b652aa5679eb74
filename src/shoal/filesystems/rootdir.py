"""Access-point root directories: found, and created at first mount, without following links.

A file system is the host directory ``<fs_dir>/<fs-id>/`` (root-owned, mode 0755); an access
point's root is a path below it. Functions can write anywhere their access point lets them, so
any component of another access point's path may have been replaced by a symlink (``/a/b ->
/etc``) or a file. The walk therefore opens one component at a time with ``O_NOFOLLOW |
O_DIRECTORY`` relative to the directory opened before it: a symlink or non-directory anywhere
fails the mount instead of redirecting it outside the file system.

The EFS rules: a missing root directory (and each missing parent) is created with CreationInfo's
owner and permissions; without CreationInfo a missing root fails the mount; existing directories
are never changed.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from shoal.errors import AwsError
from shoal.filesystems.models import AccessPoint

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class RootDirectoryError(Exception):
    """The access point's root cannot be used; the message says why (for the mount failure)."""


def mount_failure(message: str) -> AwsError:
    """Lambda's error for an invoke whose file system cannot be mounted (403 in the model)."""
    return AwsError("EFSMountFailureException", message)


def create_file_system_root(path: Path) -> None:
    """Create a file system's top directory, owned by root with mode 0755 as on EFS."""
    path.mkdir(mode=0o755, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, 0, 0)
    os.chmod(path, 0o755)


def ensure_root(fs_root: Path, ap: AccessPoint) -> str:
    """Return the host path of ``ap``'s root directory, creating it as EFS does if missing.

    Raises :class:`RootDirectoryError` when the root is missing without CreationInfo or when a
    component is not a real directory (a symlink, a file).
    """
    fd = os.open(fs_root, _OPEN_DIR)
    try:
        for i, name in enumerate(ap.components):
            parent, fd = fd, -1  # _step closes the parent, whatever happens
            fd = _step(parent, name, ap, "/" + "/".join(ap.components[: i + 1]))
    finally:
        if fd >= 0:
            os.close(fd)
    return str(fs_root.joinpath(*ap.components))


def _step(parent: int, name: str, ap: AccessPoint, shown: str) -> int:
    """Open (creating if allowed) ``name`` under ``parent``; closes ``parent``."""
    try:
        try:
            return os.open(name, _OPEN_DIR, dir_fd=parent)
        except FileNotFoundError:
            pass
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise RootDirectoryError(
                    f"The access point's root directory path {shown} is not a directory"
                ) from None
            raise
        info = ap.creation_info
        if info is None:
            raise RootDirectoryError(
                f"The access point's root directory {ap.path} does not exist and the access "
                "point has no CreationInfo to create it"
            )
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            pass  # a concurrent first mount made it; use it as it is
        else:
            child = os.open(name, _OPEN_DIR, dir_fd=parent)
            # Owner first, then mode: chown clears setuid/setgid bits that mode may set.
            os.fchown(child, info.owner_uid, info.owner_gid)
            os.fchmod(child, info.mode)
            return child
        return _step(os.dup(parent), name, ap, shown)
    finally:
        os.close(parent)


def host_path_if_exists(fs_root: Path, ap: AccessPoint) -> str | None:
    """The root's host path when it exists as real directories all the way, else None."""
    try:
        fd = os.open(fs_root, _OPEN_DIR)
    except FileNotFoundError:
        return None
    try:
        for name in ap.components:
            nxt = os.open(name, _OPEN_DIR, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except OSError:
        return None
    finally:
        os.close(fd)
    return str(fs_root.joinpath(*ap.components))
