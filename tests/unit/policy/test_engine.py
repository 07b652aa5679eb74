"""The policy engine, table-driven after the IAM User Guide's "Policy evaluation logic" and
"Condition operators" pages: one row per rule, each decided through :func:`evaluate`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shoal.policy import Kind, Principal, Request, evaluate, parse

ACCOUNT = "123456789012"
DEV = Principal(arn=f"arn:aws:iam::{ACCOUNT}:user/dev", account=ACCOUNT, user_name="dev",
                tags=(("team", "blue"),))  # fmt: skip
SESSION = Principal(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1", account=ACCOUNT,
                    role_arn=f"arn:aws:iam::{ACCOUNT}:role/app")  # fmt: skip
STRANGER = Principal(arn="arn:aws:iam::999999999999:user/eve", account="999999999999")
LAMBDA = Principal.of_service("lambda.amazonaws.com")
FN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:report"


class Malformed(Exception):
    pass


def policy(kind: Kind, *statements: dict[str, Any], version: str = "2012-10-17"):  # type: ignore[no-untyped-def]
    return parse(json.dumps({"Version": version, "Statement": list(statements)}), kind, Malformed)


def identity(*statements: dict[str, Any], version: str = "2012-10-17"):  # type: ignore[no-untyped-def]
    return policy(Kind.IDENTITY, *statements, version=version)


def resource(*statements: dict[str, Any]):  # type: ignore[no-untyped-def]
    return policy(Kind.RESOURCE, *statements)


def st(effect: str = "Allow", action: Any = "lambda:InvokeFunction", res: Any = FN, **more: Any):  # type: ignore[no-untyped-def]
    out = {"Effect": effect, "Action": action, **more}
    if res is not None:
        out["Resource"] = res
    return out


def decide(principal: Principal = DEV, action: str = "lambda:InvokeFunction",
           res: str = FN, context: dict[str, Any] | None = None,
           ids: tuple = (), resources: tuple = ()) -> bool:  # type: ignore[type-arg]  # fmt: skip
    return evaluate(Request(principal, action, res, context or {}), ids, resources).allowed


@pytest.mark.parametrize(
    ("ids", "resources", "allowed"),
    [
        ((), (), False),  # no policy: implicit deny
        ((identity(st()),), (), True),
        ((), (resource(st(Principal={"AWS": DEV.arn})),), True),  # same account: either allows
        ((identity(st()),), (resource(st("Deny", Principal="*")),), False),  # deny wins
        ((identity(st("Deny")), identity(st())), (), False),
        ((identity(st("Deny", res="arn:aws:lambda:*:*:function:other")), identity(st())), (), True),
        ((identity(st(action="lambda:Get*")),), (), False),  # the action does not match
        ((identity(st(action="LAMBDA:invoke*")),), (), True),  # actions: case-insensitive
        # resources: case-sensitive
        ((identity(st(res=FN.replace("report", "REPORT"))),), (), False),
        ((identity(st(res="arn:aws:lambda:us-east-1:123456789012:function:repor?")),), (), True),
        ((identity(st(res="arn:aws:lambda:us-east-1:123456789012:function:rep?")),), (), False),
        ((identity({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),), (), True),
        ((identity({"Effect": "Allow", "NotAction": "lambda:*", "Resource": "*"}),), (), False),
        ((identity({"Effect": "Allow", "Action": "*", "NotResource": FN}),), (), False),
        ((identity({"Effect": "Allow", "Action": "*", "NotResource": FN + "x"}),), (), True),
    ],
)
def test_evaluation_logic(ids: tuple, resources: tuple, allowed: bool) -> None:  # type: ignore[type-arg]
    assert decide(ids=ids, resources=resources) is allowed


@pytest.mark.parametrize(
    ("principal_element", "who", "named"),
    [
        ("*", DEV, True),
        ({"AWS": "*"}, DEV, True),
        ({"AWS": ACCOUNT}, DEV, True),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, SESSION, True),
        ({"AWS": ACCOUNT}, STRANGER, False),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/app"}, SESSION, True),  # the session's role
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"}, SESSION, False),
        ({"AWS": [STRANGER.arn, DEV.arn]}, DEV, True),
        ({"Service": "lambda.amazonaws.com"}, LAMBDA, True),
        ({"Service": "lambda.amazonaws.com"}, DEV, False),
        ({"AWS": ACCOUNT}, LAMBDA, False),
    ],
)
def test_principal_element(principal_element: Any, who: Principal, named: bool) -> None:
    # A Deny applies to whom its Principal names (an account: everyone in it), a NotPrincipal
    # Deny to everyone else; here over an identity policy that allows.
    allowed = (identity(st()),)
    doc = resource(st("Deny", Principal=principal_element))
    assert decide(who, ids=allowed, resources=(doc,)) is not named
    not_doc = resource(st("Deny", NotPrincipal=principal_element))
    assert decide(who, ids=allowed, resources=(not_doc,)) is named


ROOT_OF_ACCOUNT = f"arn:aws:iam::{ACCOUNT}:root"


# The IAM User Guide's "Policy evaluation for requests within a single account" and the
# "Principal" element page: within one account an allow in either kind of policy allows, an
# explicit deny in either denies, and a resource policy naming the account (not the user or
# role) delegates to the account's identity policies instead of granting.
@pytest.mark.parametrize(
    ("who", "ids", "resources", "allowed"),
    [
        (DEV, (), (), False),  # neither: implicit deny
        (DEV, (identity(st()),), (), True),  # identity only
        (DEV, (), (resource(st(Principal={"AWS": DEV.arn})),), True),  # resource only
        (SESSION, (), (resource(st(Principal={"AWS": SESSION.role_arn})),), True),  # its role
        (SESSION, (), (resource(st(Principal={"AWS": SESSION.arn})),), True),  # its session
        (DEV, (), (resource(st(Principal="*")),), True),  # everyone
        (DEV, (identity(st()),), (resource(st(Principal={"AWS": DEV.arn})),), True),  # both
        # explicit deny in the resource policy beats an identity allow, and the reverse
        (DEV, (identity(st()),), (resource(st("Deny", Principal={"AWS": DEV.arn})),), False),
        (DEV, (identity(st("Deny")),), (resource(st(Principal={"AWS": DEV.arn})),), False),
        (DEV, (identity(st()),), (resource(st("Deny", Principal={"AWS": ACCOUNT})),), False),
        # the account as principal delegates: it grants nothing without an identity allow
        (DEV, (), (resource(st(Principal={"AWS": ACCOUNT})),), False),
        (DEV, (), (resource(st(Principal={"AWS": ROOT_OF_ACCOUNT})),), False),
        (DEV, (identity(st()),), (resource(st(Principal={"AWS": ROOT_OF_ACCOUNT})),), True),
        # a statement for another principal, or another action, grants nothing
        (DEV, (), (resource(st(Principal={"AWS": SESSION.role_arn})),), False),
        (DEV, (), (resource(st(Principal={"AWS": DEV.arn}, action="lambda:GetFunction")),), False),
        # a condition that fails leaves the resource allow out
        (DEV, (), (resource(st(Principal={"AWS": DEV.arn}, Condition={
            "StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}})),), False),  # fmt: skip
    ],
)
def test_identity_and_resource_policies_together(
    who: Principal, ids: tuple, resources: tuple, allowed: bool  # type: ignore[type-arg]
) -> None:
    assert decide(who, ids=ids, resources=resources) is allowed


def test_an_account_grant_is_reported_as_delegated() -> None:
    account = resource(st(Principal={"AWS": ACCOUNT}))
    decision = evaluate(Request(DEV, "lambda:InvokeFunction", FN), (), (account,))
    assert not decision.allowed and decision.delegated
    direct = evaluate(Request(DEV, "lambda:InvokeFunction", FN), (), (resource(st(Principal="*")),))
    assert direct.allowed and not direct.delegated


def test_trust_policy_lets_a_service_assume_a_role() -> None:
    trust = policy(Kind.TRUST, {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole"})  # fmt: skip
    role = f"arn:aws:iam::{ACCOUNT}:role/app"
    assert decide(LAMBDA, "sts:AssumeRole", role, resources=(trust,))
    assert not decide(DEV, "sts:AssumeRole", role, resources=(trust,))


@pytest.mark.parametrize(
    ("res_pattern", "who", "allowed"),
    [
        ("arn:aws:iam::123456789012:user/${aws:username}", DEV, True),
        ("arn:aws:iam::123456789012:user/${aws:username}", SESSION, False),  # no user name
        ("arn:aws:iam::123456789012:user/${aws:username, 'dev'}", SESSION, True),  # default
        ("arn:aws:iam::123456789012:user/${aws:PrincipalTag/team}", DEV, False),  # "blue" != dev
    ],
)
def test_policy_variables_in_resources(res_pattern: str, who: Principal, allowed: bool) -> None:
    target = f"arn:aws:iam::{ACCOUNT}:user/dev"
    doc = identity(st(action="iam:*", res=res_pattern))
    assert decide(who, "iam:GetUser", target, ids=(doc,)) is allowed


def test_policy_variables_are_literal_in_the_2008_version() -> None:
    pattern = "arn:aws:iam::123456789012:user/${aws:username}"
    old = identity(st(action="iam:*", res=pattern), version="2008-10-17")
    assert not decide(DEV, "iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/dev", ids=(old,))
    assert decide(DEV, "iam:GetUser", pattern, ids=(old,))


def test_literal_wildcard_variables_match_only_themselves() -> None:
    doc = identity(st(action="iam:*", res="arn:aws:iam::123456789012:user/a${*}b"))
    assert decide(DEV, "iam:GetUser", "arn:aws:iam::123456789012:user/a*b", ids=(doc,))
    assert not decide(DEV, "iam:GetUser", "arn:aws:iam::123456789012:user/axyzb", ids=(doc,))


def test_denial_messages_are_worded_as_aws_words_them() -> None:
    request = Request(DEV, "lambda:CreateFunction", FN)
    implicit = evaluate(request)
    assert implicit.message(request) == (
        f"User: {DEV.arn} is not authorized to perform: lambda:CreateFunction on resource: {FN} "
        "because no identity-based policy allows the lambda:CreateFunction action"
    )
    explicit = evaluate(request, [identity(st("Deny", action="lambda:*"))])
    assert explicit.explicit_deny and explicit.message(request).endswith(
        "with an explicit deny in an identity-based policy"
    )
