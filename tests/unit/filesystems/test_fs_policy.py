"""The file-system policy evaluator: IAM semantics for the three EFS client actions."""

from __future__ import annotations

import json

import pytest

from shoal import policy as engine
from shoal.errors import AwsError
from shoal.filesystems import policy

FS = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123456789abcdef0"
AP = "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0"
AP2 = "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-fffffffffffffffff"
ROLE = "arn:aws:iam::123456789012:role/lambda-role"
OTHER = "arn:aws:iam::999999999999:role/intruder"


def doc(*statements: dict) -> dict:
    return policy.parse(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def allow(actions, principal="*", **extra) -> dict:  # type: ignore[no-untyped-def]
    return {"Effect": "Allow", "Principal": principal, "Action": actions, **extra}


def deny(actions, principal="*", **extra) -> dict:  # type: ignore[no-untyped-def]
    return {"Effect": "Deny", "Principal": principal, "Action": actions, **extra}


def ev(d, principal=ROLE, ap=AP, identity=()):  # type: ignore[no-untyped-def]
    return policy.evaluate(d, principal=principal, file_system_arn=FS, access_point_arn=ap,
                           identity=identity)  # fmt: skip


def test_no_policy_is_full_access() -> None:
    assert ev(None) == policy.Access(mount=True, write=True, root=True)


def test_allow_mount_only_is_read_only_without_root() -> None:
    a = ev(doc(allow("elasticfilesystem:ClientMount")))
    assert a == policy.Access(mount=True, write=False, root=False)


def test_empty_allow_list_denies_everything() -> None:
    a = ev(doc(allow("elasticfilesystem:DescribeFileSystems")))
    assert a == policy.Access(mount=False, write=False, root=False)


def test_wildcard_action_and_case_insensitive_action_names() -> None:
    assert ev(doc(allow("elasticfilesystem:Client*"))) == policy.FULL_ACCESS
    assert ev(doc(allow("*"))) == policy.FULL_ACCESS
    assert ev(doc(allow(["ELASTICFILESYSTEM:clientmount"]))).mount


def test_explicit_deny_wins_over_allow() -> None:
    a = ev(doc(allow("elasticfilesystem:*"), deny("elasticfilesystem:ClientWrite")))
    assert a == policy.Access(mount=True, write=False, root=True)


def test_principal_role_arn_matches_only_that_role() -> None:
    d = doc(allow(["elasticfilesystem:ClientMount"], {"AWS": ROLE}))
    assert ev(d).mount
    assert not ev(d, principal=OTHER).mount
    assert not ev(d, principal=None).mount  # an anonymous (NFS) client is no role


def test_principal_list_account_id_and_account_root() -> None:
    # Naming the account delegates to its identity policies (IAM's "Principal" element): the
    # role mounts when its own policy allows, not on the file-system policy alone.
    role_policy = identity_policy(["elasticfilesystem:ClientMount"])
    for named in ({"AWS": [OTHER, "123456789012"]}, {"AWS": "arn:aws:iam::123456789012:root"}):
        assert not ev(doc(allow("*", named))).mount
        assert ev(doc(allow("*", named)), identity=[role_policy]).mount
    assert ev(doc(allow("*", {"AWS": [OTHER, ROLE]}))).mount  # the role itself: granted
    assert ev(doc(allow("*", {"AWS": "*"})), principal=None).mount


def identity_policy(actions: list[str], effect: str = "Allow") -> policy.Policy:
    return engine.parse(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": effect, "Action": actions, "Resource": "*"}]}), engine.Kind.IDENTITY,
        ValueError)  # fmt: skip


# The EFS User Guide ("Using IAM to control access to file systems"): for a client mounting
# with IAM, an allow in either the role's identity policies or the file-system policy allows
# an action, an explicit deny in either denies, and with no file-system policy the default
# policy grants everything to every client through a mount target.
READ_WRITE = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
ONLY_ROLE_ALLOWED = doc(allow("elasticfilesystem:Client*", {"AWS": OTHER}))


@pytest.mark.parametrize(
    ("fs_policy", "ids", "expected"),
    [
        (None, [], policy.Access(True, True, True)),  # the default policy
        (None, [identity_policy(["elasticfilesystem:ClientWrite"], "Deny")],
         policy.Access(True, False, True)),  # an identity deny beats the default policy
        (ONLY_ROLE_ALLOWED, [], policy.Access(False, False, False)),
        (ONLY_ROLE_ALLOWED, [identity_policy(READ_WRITE)], policy.Access(True, True, False)),
        (ONLY_ROLE_ALLOWED, [identity_policy(["elasticfilesystem:ClientMount"])],
         policy.Access(True, False, False)),  # ReadOnlyAccess: a read-only mount
        (doc(allow("*", {"AWS": ROLE}), deny("elasticfilesystem:ClientWrite", {"AWS": ROLE})),
         [identity_policy(READ_WRITE)], policy.Access(True, False, True)),  # resource deny
        (doc(allow("*", {"AWS": ROLE})), [identity_policy(["elasticfilesystem:*"], "Deny")],
         policy.Access(False, False, False)),  # identity deny beats the resource allow
    ],
)  # fmt: skip
def test_identity_and_file_system_policies_together(fs_policy, ids, expected) -> None:  # type: ignore[no-untyped-def]
    assert ev(fs_policy, identity=ids) == expected


def test_a_refused_mount_says_why() -> None:
    denied = ev(doc(allow("*", {"AWS": ROLE}), {"Sid": "NoMount", **deny(
        "elasticfilesystem:ClientMount", {"AWS": ROLE})}))  # fmt: skip
    assert denied.refusal == ("explicitly denied elasticfilesystem:ClientMount in the file "
                              "system policy (statement NoMount)")  # fmt: skip
    assert "neither" in ev(ONLY_ROLE_ALLOWED).refusal
    assert ev(None).refusal == ""


def test_not_principal() -> None:
    d = doc(allow("*"), {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "*"})
    assert ev(d).write
    assert not ev(d, principal=OTHER).mount


def test_access_point_condition_string_equals_and_arn_equals() -> None:
    for op in ("StringEquals", "ArnEquals"):
        d = doc(allow("*", Condition={op: {"elasticfilesystem:AccessPointArn": AP}}))
        assert ev(d).mount
        assert not ev(d, ap=AP2).mount
        assert not ev(d, ap=None).mount  # missing key: the condition fails


def test_access_point_condition_like_and_negations() -> None:
    like = doc(
        allow(
            "*",
            Condition={
                "StringLike": {
                    "elasticfilesystem:AccessPointArn": "arn:aws:elasticfilesystem:*/fsap-0*"
                }
            },
        )
    )
    assert ev(like).mount and not ev(like, ap=AP2).mount
    not_eq = doc(
        allow("*"),
        deny(
            "elasticfilesystem:ClientWrite",
            Condition={"StringNotEquals": {"elasticfilesystem:AccessPointArn": AP}},
        ),
    )
    assert ev(not_eq).write
    assert not ev(not_eq, ap=AP2).write
    assert not ev(not_eq, ap=None).write  # Not-operators hold when the key is missing


def test_if_exists_holds_when_key_missing() -> None:
    cond = {"StringEqualsIfExists": {"elasticfilesystem:AccessPointArn": AP}}
    d = doc(allow("*", Condition=cond))
    assert ev(d, ap=None).mount
    assert not ev(d, ap=AP2).mount


def test_secure_transport_is_always_true() -> None:
    d = doc(allow("*"), deny("*", Condition={"Bool": {"aws:SecureTransport": "false"}}))
    assert ev(d) == policy.FULL_ACCESS
    d = doc(allow("*", Condition={"Bool": {"aws:SecureTransport": True}}))
    assert ev(d) == policy.FULL_ACCESS


def test_condition_key_names_are_case_insensitive() -> None:
    d = doc(allow("*", Condition={"StringEquals": {"ELASTICFILESYSTEM:accesspointarn": AP}}))
    assert ev(d).mount


def test_resource_must_match_file_system() -> None:
    assert ev(doc(allow("*", Resource=FS))).mount
    assert ev(doc(allow("*", Resource="arn:aws:elasticfilesystem:*:*:file-system/*"))).mount
    other = FS.replace("fs-0", "fs-9")
    assert not ev(doc(allow("*", Resource=other))).mount


def test_aws_managed_read_write_style_policy() -> None:
    # The shape the EFS console writes for "enforce read-only by default".
    d = doc(
        allow(
            ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            {"AWS": ROLE},
            Resource=FS,
            Condition={"Bool": {"aws:SecureTransport": "true"}},
        )
    )
    assert ev(d) == policy.Access(mount=True, write=True, root=False)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"Version": "2012-10-17"}',
        '{"Statement": [1]}',
        '{"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "*"}]}',
        '{"Statement": [{"Effect": "Allow", "Principal": "*"}]}',
        '{"Statement": [{"Effect": "Allow", "Action": "*"}]}',
        '{"Statement": [{"Effect": "Allow", "Principal": {"Bogus": "x"}, "Action": "*"}]}',
        '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": 3}]}',
        '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*",'
        ' "Condition": {"NumericWhatever": {"a": "b"}}}]}',
        '{"Version": "1999-01-01", "Statement": []}',
    ],
)
def test_malformed_policies_are_invalid(text: str) -> None:
    with pytest.raises(AwsError) as e:
        policy.parse(text)
    assert e.value.code == "InvalidPolicyException"


def test_single_statement_object_is_accepted() -> None:
    d = policy.parse(json.dumps({"Statement": allow("elasticfilesystem:ClientMount")}))
    assert ev(d).mount and not ev(d).write
