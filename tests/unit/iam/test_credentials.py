"""The interface ``shoal.identity`` calls: credential() for IAM users' keys and STS tokens
(a tampered token is refused), identity_policies(), role() and role_credential()."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from shoal.config import Settings
from shoal.iam.models import GROUP, ROLE, USER
from shoal.iam.service import IamService
from shoal.store.sqlite import Store

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _doc(action: str) -> str:
    return json.dumps({"Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


@pytest.fixture
def iam(tmp_path: Path) -> Iterator[IamService]:
    store = Store(tmp_path / "shoal.db")
    shoal = SimpleNamespace(settings=Settings(data_dir=tmp_path), store=store)
    service = IamService(shoal)  # type: ignore[arg-type]
    asyncio.run(service.start())
    yield service
    store.close()


def test_token_key_is_private(iam: IamService, tmp_path: Path) -> None:
    assert (tmp_path / "sts-token.key").stat().st_mode & 0o777 == 0o600


def test_user_access_key(iam: IamService) -> None:
    user = iam.directory.create(USER, "alice", "/", tags=(("team", "a"),))
    key = iam.directory.create_key("alice")
    cred = iam.credential(key.id, None)
    assert cred is not None and cred.secret_access_key == key.secret and cred.active
    assert cred.principal.arn == "arn:aws:iam::123456789012:user/alice"
    assert (cred.principal.user_name, cred.principal.user_id) == ("alice", user.id)
    assert cred.principal.tags == (("team", "a"),)
    iam.directory.update_key("alice", key.id, "Inactive")
    assert iam.credential(key.id, None).active is False  # type: ignore[union-attr]
    assert iam.credential("AKIAUNKNOWNUNKNOWN00", None) is None


def test_tampered_token_refused(iam: IamService) -> None:
    iam.directory.create(ROLE, "fn", "/", trust=TRUST)
    cred = iam.role_credential("arn:aws:iam::123456789012:role/fn", "sess", 900)
    assert cred.session_token is not None
    good = iam.credential(cred.access_key_id, cred.session_token)
    assert good is not None and good.secret_access_key == cred.secret_access_key
    assert good.principal.arn == "arn:aws:sts::123456789012:assumed-role/fn/sess"
    assert good.expires is not None and good.expires > time.time()
    prefix, payload, mac = cred.session_token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    assert iam.credential(cred.access_key_id, f"{prefix}.{flipped}.{mac}") is None
    assert iam.credential(cred.access_key_id, f"{prefix}.{payload}.{mac[:-1]}x") is None
    assert iam.credential("ASIAOTHEROTHEROTHER0", cred.session_token) is None
    assert iam.credential(cred.access_key_id, "garbage") is None


def test_expired_token_has_past_expiry(iam: IamService) -> None:
    cred = iam.issue(iam.root, -10)
    got = iam.credential(cred.access_key_id, cred.session_token)
    assert got is not None and got.expires is not None and got.expires < time.time()


def test_identity_policies_follow_changes(iam: IamService) -> None:
    iam.directory.create(USER, "bob", "/")
    iam.directory.create(GROUP, "devs", "/")
    iam.directory.add_member("devs", "bob")
    iam.directory.put_inline(USER, "bob", "mine", _doc("s3:GetObject"))
    principal = iam.user_principal(iam.directory.get(USER, "bob"))
    assert [p.text for p in iam.identity_policies(principal)] == [_doc("s3:GetObject")]
    iam.directory.put_inline(GROUP, "devs", "theirs", _doc("s3:PutObject"))
    iam.directory.attach(GROUP, "devs", "arn:aws:iam::aws:policy/AdministratorAccess")
    texts = [p.text for p in iam.identity_policies(principal)]
    assert texts[:2] == [_doc("s3:GetObject"), _doc("s3:PutObject")] and len(texts) == 3


def test_role_and_its_session_policies(iam: IamService) -> None:
    iam.directory.create(ROLE, "fn", "/service/", trust=TRUST)
    arn = "arn:aws:iam::123456789012:role/service/fn"
    role = iam.role(arn)
    assert role is not None and role.trust.statements[0].principals is not None
    assert iam.role("arn:aws:iam::123456789012:role/fn") is None
    iam.directory.attach(ROLE, "fn", "arn:aws:iam::aws:policy/service-role/AWSLambdaRole")
    cred = iam.role_credential(arn, "s", 900)
    assert cred.principal.role_arn == arn
    (policy,) = iam.identity_policies(cred.principal)
    assert "lambda:InvokeFunction" in policy.text


def test_role_cache_follows_trust_changes(iam: IamService) -> None:
    iam.directory.create(ROLE, "c", "/", trust=TRUST)
    arn = "arn:aws:iam::123456789012:role/c"
    first = iam.role(arn)
    assert first is not None and iam.role(arn) is first
    other = TRUST.replace("lambda.amazonaws.com", "edgelambda.amazonaws.com")
    iam.directory.update(ROLE, "c", trust=other)
    changed = iam.role(arn)
    assert changed is not None and changed.trust.text == other
    iam.directory.delete(ROLE, "c")
    assert iam.role(arn) is None
