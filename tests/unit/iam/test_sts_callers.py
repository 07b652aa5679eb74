"""STS for a signed caller (``Call.principal`` set, as the authentication layer will set it):
GetCallerIdentity names the caller, and AssumeRole asks the trust policy about that caller."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from shoal.api import sts
from shoal.api.dispatch import Call
from shoal.config import Settings
from shoal.errors import AwsError
from shoal.iam.models import ROLE, USER
from shoal.iam.service import IamService
from shoal.policy.engine import Principal
from shoal.store.sqlite import Store


@pytest.fixture
def iam(tmp_path: Path) -> Iterator[IamService]:
    store = Store(tmp_path / "shoal.db")
    service = IamService(SimpleNamespace(settings=Settings(data_dir=tmp_path), store=store))  # type: ignore[arg-type]
    asyncio.run(service.start())
    yield service
    store.close()


def _call(iam: IamService, operation: str, principal: Principal, **params: Any) -> Any:
    shoal = SimpleNamespace(iam=iam)
    call = Call(operation, params, shoal, {}, "http://x", "rid", "us-east-1",  # type: ignore[arg-type]
                principal=principal)  # fmt: skip
    handler = {"GetCallerIdentity": sts.get_caller_identity, "AssumeRole": sts.assume_role}
    return asyncio.run(handler[operation](call))


def _trust(arn: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}]})  # fmt: skip


def test_caller_identity_of_a_user(iam: IamService) -> None:
    user = iam.directory.create(USER, "alice", "/")
    who = _call(iam, "GetCallerIdentity", iam.user_principal(user))
    assert who == {"UserId": user.id, "Account": "123456789012",
                   "Arn": "arn:aws:iam::123456789012:user/alice"}  # fmt: skip


def test_trust_policy_names_the_caller(iam: IamService) -> None:
    alice = iam.user_principal(iam.directory.create(USER, "alice", "/"))
    bob = iam.user_principal(iam.directory.create(USER, "bob", "/"))
    iam.directory.create(ROLE, "r", "/", trust=_trust(alice.arn))
    arn = "arn:aws:iam::123456789012:role/r"
    out = _call(iam, "AssumeRole", alice, RoleArn=arn, RoleSessionName="a")
    session = out["AssumedRoleUser"]["Arn"]
    assert session == "arn:aws:sts::123456789012:assumed-role/r/a"
    who = iam.credential(out["Credentials"]["AccessKeyId"], out["Credentials"]["SessionToken"])
    assert who is not None
    assert _call(iam, "GetCallerIdentity", who.principal)["Arn"] == session
    with pytest.raises(AwsError) as e:
        _call(iam, "AssumeRole", bob, RoleArn=arn, RoleSessionName="b")
    assert (e.value.code, e.value.status) == ("AccessDenied", 403)
    assert e.value.message == (f"User: {bob.arn} is not authorized to perform: sts:AssumeRole "
                               f"on resource: {arn}")  # fmt: skip
