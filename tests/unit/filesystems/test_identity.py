"""The identity rule, table-driven: (access point, what the policy grants) -> the identity every
path applies (functions, host mounts, NFS exports read it from shoal.filesystems.identity)."""

from __future__ import annotations

import pytest

from shoal.filesystems.identity import Identity, decide, root_squash
from shoal.filesystems.models import AccessPoint, PosixUser
from shoal.filesystems.policy import FULL_ACCESS, Access

NO_ROOT = Access(mount=True, write=True, root=False)
READ_ONLY = Access(mount=True, write=False, root=False)
NO_MOUNT = Access(mount=False, write=False, root=False)


def ap(user: PosixUser | None) -> AccessPoint:
    return AccessPoint(
        id="fsap-0123456789abcdef0", arn="arn:ap", file_system_id="fs-0123456789abcdef0",
        owner_id="123456789012", client_token="t", posix_user=user,
    )  # fmt: skip


U = PosixUser(1001, 1002, (7, 8))
ROOT = PosixUser(0, 0, (0, 42))
ROOT_GID = PosixUser(1001, 0, (0, 7, 65534))
SQUASHED = PosixUser(65534, 65534, ())


@pytest.mark.parametrize(
    ("where", "access", "expected"),
    [
        # An access point's PosixUser: every identity becomes it, groups included.
        (ap(U), FULL_ACCESS, Identity(mount=True, read_only=False, user=U)),
        (ap(U), NO_ROOT, Identity(mount=True, read_only=False, user=U)),
        (ap(U), READ_ONLY, Identity(mount=True, read_only=True, user=U)),
        # A PosixUser that is root is root only with ClientRootAccess; else nfsd's root squash.
        (ap(ROOT), FULL_ACCESS, Identity(mount=True, read_only=False, user=ROOT)),
        (ap(ROOT), NO_ROOT, Identity(mount=True, read_only=False, user=SQUASHED)),
        (ap(ROOT_GID), NO_ROOT,
         Identity(mount=True, read_only=False, user=PosixUser(1001, 65534, (65534, 7)))),
        # No PosixUser (on an access point or the whole file system): the client's identity
        # passes; root is squashed unless ClientRootAccess (no policy at all grants it).
        (ap(None), FULL_ACCESS, Identity(mount=True, read_only=False, root_squash=False)),
        (ap(None), NO_ROOT, Identity(mount=True, read_only=False, root_squash=True)),
        (None, FULL_ACCESS, Identity(mount=True, read_only=False, root_squash=False)),
        (None, NO_ROOT, Identity(mount=True, read_only=False, root_squash=True)),
        (None, READ_ONLY, Identity(mount=True, read_only=True, root_squash=True)),
        # No ClientMount: refused, whatever else.
        (ap(U), NO_MOUNT, Identity(mount=False, read_only=True, user=U)),
        (None, NO_MOUNT, Identity(mount=False, read_only=True, root_squash=True)),
    ],
)
def test_rule(where: AccessPoint | None, access: Access, expected: Identity) -> None:
    assert decide(where, access) == expected
    assert decide(where, access).maps_all == (expected.user is not None)


@pytest.mark.parametrize(
    ("user", "squashed"),
    [
        (PosixUser(0, 0), SQUASHED),
        (PosixUser(0, 1002, (7,)), SQUASHED),  # uid 0: gid and groups go too, as in ganesha
        (PosixUser(1001, 0), PosixUser(1001, 65534)),
        (PosixUser(1001, 1002, (0, 0, 9)), PosixUser(1001, 1002, (65534, 9))),
        (U, U),
    ],
)
def test_root_squash(user: PosixUser, squashed: PosixUser) -> None:
    assert root_squash(user) == squashed
