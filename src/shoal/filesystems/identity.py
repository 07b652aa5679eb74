"""The one identity rule: who a client is on a file system, on every path that reaches it.

Functions (the sandbox's user and its mounts' read-only flag), host mounts (``shoal fs
mount``) and NFS exports (one per access point and one for the whole file system) all read
:func:`decide`; none has a rule of its own. The rule is EFS's, with Linux nfsd's root squash:

- **Through an access point with a PosixUser**, every client identity becomes that user and
  its groups. Without ``ClientRootAccess``, a PosixUser that is root is squashed first.
- **Without a PosixUser** (an access point without one, or the whole file system) the client's
  own identity passes, and root is squashed unless ``ClientRootAccess`` is granted. No policy
  at all grants it, as on EFS; then who may speak as root is decided by who can reach the path
  (for NFS: only root on a host, from a privileged port, see :mod:`ganesha_conf`).
- **Without ``ClientWrite``** the path is read-only; **without ``ClientMount``** it is refused.

Root squash is nfsd's and NFS-Ganesha's ``Root_Squash``: uid 0 becomes 65534 with gid 65534
and no supplementary groups; for any other uid, gid 0 and a supplementary group 0 become 65534.

What each path keeps of a user (the rule asks for its groups; not every path can carry them):

- functions: uid, gid and every secondary gid (the sandbox sets them all);
- NFS: uid and gid only. Ganesha 4.3's ``Squash = All`` sets ``Anonymous_Uid``/``Anonymous_Gid``
  and discards the group list (``nfs_req_creds``); ``Manage_Gids`` looks up the *client's* uid
  before the squash and is dropped with it, and no option supplies groups for the anonymous id.
  Files whose access rests on a secondary gid are reached as "other" over NFS;
- host mounts: uid and gid, for the one host user the idmapped mount pairs with them. A mount's
  id map is one to one, so it cannot give that host user groups it does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from shoal.filesystems.models import NOBODY, AccessPoint, PosixUser
from shoal.filesystems.policy import Access

__all__ = ["Identity", "decide", "root_squash"]


@dataclass(frozen=True)
class Identity:
    """How one path treats every client identity that reaches one file system or access point.

    ``user`` set: map all to it (its uid, gid and secondary gids). ``user`` None: pass the
    client's identity through, squashing root when ``root_squash``. ``mount`` False: refuse.
    """

    mount: bool
    read_only: bool
    user: PosixUser | None = None
    root_squash: bool = False

    @property
    def maps_all(self) -> bool:
        return self.user is not None


def root_squash(user: PosixUser) -> PosixUser:
    """``user`` as a root-squashing server sees it (see the module docstring)."""
    if user.uid == 0:
        return PosixUser(NOBODY, NOBODY, ())
    groups = tuple(dict.fromkeys(NOBODY if g == 0 else g for g in user.secondary_gids))
    return PosixUser(user.uid, NOBODY if user.gid == 0 else user.gid, groups)


def decide(ap: AccessPoint | None, access: Access) -> Identity:
    """The identity rule for a client reaching ``ap`` (None: the whole file system), given
    what the file-system policy grants that client."""
    user = ap.posix_user if ap is not None else None
    if user is not None:
        return Identity(
            mount=access.mount,
            read_only=not access.write,
            user=user if access.root else root_squash(user),
        )
    return Identity(mount=access.mount, read_only=not access.write, root_squash=not access.root)
