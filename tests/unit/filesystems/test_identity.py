"""The identity rule, table-driven: (access point, what the policy grants) -> the identity every
path applies (functions, host mounts, NFS exports read it from shoal.filesystems.identity).

Every PosixUser case is crossed with every grant a policy can make (each of ClientMount,
ClientWrite and ClientRootAccess given or withheld, eight in all)."""

from __future__ import annotations

import itertools
import json

import pytest

from shoal.filesystems.identity import Identity, decide, root_squash
from shoal.filesystems.models import AccessPoint, PosixUser
from shoal.filesystems.policy import FULL_ACCESS, Access, evaluate, parse


def ap(user: PosixUser | None) -> AccessPoint:
    return AccessPoint(
        id="fsap-0123456789abcdef0", arn="arn:ap", file_system_id="fs-0123456789abcdef0",
        owner_id="123456789012", client_token="t", posix_user=user,
    )  # fmt: skip


U = PosixUser(1001, 1002, (7, 8))
ROOT = PosixUser(0, 0, (0, 42))
ROOT_GID = PosixUser(1001, 0, (0, 7, 65534))
SQUASHED = PosixUser(65534, 65534, ())
PASS = "the client's own identity"  # no PosixUser: nothing is mapped
PASS_SQUASHED = "the client's own identity, root squashed"

# Where a client arrives -> what its identity becomes, with ClientRootAccess and without.
WHO = {
    "ap-with-posix-user": (ap(U), U, U),
    "ap-with-root-posix-user": (ap(ROOT), ROOT, SQUASHED),
    "ap-with-posix-user-of-gid-0": (ap(ROOT_GID), ROOT_GID, PosixUser(1001, 65534, (65534, 7))),
    "ap-without-posix-user": (ap(None), PASS, PASS_SQUASHED),
    "whole-file-system": (None, PASS, PASS_SQUASHED),
}
GRANTS = [
    Access(mount=m, write=w, root=r) for m, w, r in itertools.product((True, False), repeat=3)
]


def expected(who: PosixUser | str, access: Access) -> Identity:
    # ClientMount and ClientWrite decide mounting and writing alone, whoever the client is.
    mount, read_only = access.mount, not access.write
    if who == PASS:
        return Identity(mount=mount, read_only=read_only, root_squash=False)
    if who == PASS_SQUASHED:
        return Identity(mount=mount, read_only=read_only, root_squash=True)
    assert isinstance(who, PosixUser)
    return Identity(mount=mount, read_only=read_only, user=who)


@pytest.mark.parametrize("access", GRANTS, ids=repr)
@pytest.mark.parametrize("case", list(WHO))
def test_rule(case: str, access: Access) -> None:
    where, with_root, without_root = WHO[case]
    got = decide(where, access)
    assert got == expected(with_root if access.root else without_root, access)
    assert got.maps_all == (where is not None and where.posix_user is not None)


@pytest.mark.parametrize(
    ("where", "expected_identity"),
    [
        # No policy at all grants everything, as on EFS: a root PosixUser stays root, and
        # without one root passes (for NFS, only root on a host from a privileged port).
        (ap(ROOT), Identity(mount=True, read_only=False, user=ROOT)),
        (ap(None), Identity(mount=True, read_only=False, root_squash=False)),
        (None, Identity(mount=True, read_only=False, root_squash=False)),
    ],
)
def test_no_policy_grants_root(where: AccessPoint | None, expected_identity: Identity) -> None:
    access = evaluate(None, principal=None, file_system_arn="arn:fs", access_point_arn=None)
    assert access == FULL_ACCESS
    assert decide(where, access) == expected_identity


@pytest.mark.parametrize(
    ("actions", "grant"),
    [
        (["ClientMount", "ClientWrite", "ClientRootAccess"], FULL_ACCESS),
        (["ClientMount", "ClientWrite"], Access(mount=True, write=True, root=False)),
        (["ClientMount", "ClientRootAccess"], Access(mount=True, write=False, root=True)),
        (["ClientMount"], Access(mount=True, write=False, root=False)),
        (["ClientWrite"], Access(mount=False, write=True, root=False)),
    ],
)
def test_policy_actions_are_the_grants(actions: list[str], grant: Access) -> None:
    doc = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                          "Action": [f"elasticfilesystem:{a}" for a in actions]}]}  # fmt: skip
    access = evaluate(parse(json.dumps(doc)), principal=None, file_system_arn="arn:fs",
                      access_point_arn="arn:ap")  # fmt: skip
    assert access == grant


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
