"""The host-side view of every file system's tree is a ``nosuid,nodev`` mount.

Functions, NFS clients and host mounts can all write into a file system's tree, and some of them
under identities Shoal does not control (an access point's PosixUser can be any uid, with gid 0
among its secondary groups; an NFS client can be root). A set-uid or set-gid file, or a device
node, written there must give no one anything on the host. So at start the file systems'
directory (``<data-dir>/filesystems``) is bind-mounted onto itself with ``nosuid,nodev``
(recursively, so a file system that is a mount of its own is covered too): every host path into
a tree crosses that mount, and the kernel ignores set-id bits and refuses to open device nodes
through it, whoever wrote them. The mounts made from it (execution environments' access points,
``shoal fs mount``) are ``nosuid,nodev`` of their own as well.

A server killed with SIGKILL leaves the mount behind; the next one finds it and keeps it rather
than stacking another. What Shoal mounted (or found left by a previous Shoal: a bind of the
directory onto itself) is unmounted at stop; a ``nosuid,nodev`` mount an operator placed there
(a disk of its own, say) is used as it is and left alone.

Runs first among the components, so that the fork servers, NFS-Ganesha and the file-system
service only ever see the tree through it. Without root (no CAP_SYS_ADMIN) there is no mount
to make, and no need: such a Shoal cannot give files to identities other than its own, and
the data directory is its own alone (see :mod:`shoal.datadir`).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from shoal.filesystems import hostmount

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.filesystems")

INERT = frozenset({"nosuid", "nodev"})


def is_self_bind(top: hostmount.MountEntry, entries: list[hostmount.MountEntry]) -> bool:
    """True when ``top`` is a directory bound onto itself: the mount under it is the same file
    system, and ``top`` shows the very directory that mount has at this place."""
    parent = next((m for m in entries if m.mount_id == top.parent_id), None)
    if parent is None or parent.device != top.device:
        return False
    below = os.path.relpath(top.point, parent.point)
    return os.path.normpath(os.path.join(parent.root, below)) == top.root


class HostTree:
    """The component owning the ``nosuid,nodev`` mount of the file systems' directory."""

    def __init__(self, shoal: Shoal) -> None:
        self.path = str(shoal.settings.fs_dir)
        self.owned = False  # whether stop() unmounts it

    async def start(self) -> None:
        if os.geteuid() != 0:
            log.info("not root: %s is not remounted nosuid,nodev (nothing to protect)", self.path)
            return
        top = hostmount.top_mount(self.path)
        if top is not None and INERT <= top.options:
            self.owned = is_self_bind(top, hostmount.mounts())
            if self.owned:
                hostmount.make_shared(self.path)
            log.info(
                "%s is already mounted nosuid,nodev%s", self.path,
                " (left by a previous server; taken over)" if self.owned else "",
            )  # fmt: skip
            return
        hostmount.bind(self.path, self.path, recursive=True)
        # Shared: the volumes mounted under it later reach the fork servers' namespaces.
        hostmount.make_shared(self.path)
        self.owned = True
        log.info("file systems' directory %s remounted nosuid,nodev", self.path)

    async def stop(self) -> None:
        if not self.owned:
            return
        # Detached rather than refused when busy: a file still open in a tree (a metering walk
        # finishing) keeps its view until closed, and the path is free for the next server.
        hostmount.unmount(self.path, detach=True)
        self.owned = False
