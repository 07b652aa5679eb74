"""An environment's execution-role credentials (shoal.invocation.credentials): the variables
Lambda sets, a session named after the function, renewal at half the lifetime, a template's
capped to botocore's refresh window, and a role Lambda cannot assume refused."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from shoal.config import Settings
from shoal.errors import AwsError
from shoal.iam.models import ROLE
from shoal.iam.service import IamService
from shoal.invocation.credentials import TEMPLATE_LIFETIME_S, CredentialIssuer
from shoal.store.sqlite import Store

ARN = "arn:aws:iam::123456789012:role/exec"


def trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})  # fmt: skip


@pytest.fixture
def iam(tmp_path: Path) -> Iterator[IamService]:
    store = Store(tmp_path / "shoal.db")
    service = IamService(SimpleNamespace(settings=Settings(data_dir=tmp_path), store=store))  # type: ignore[arg-type]
    asyncio.run(service.start())
    service.directory.create(ROLE, "exec", "/", trust=trust("lambda.amazonaws.com"))
    yield service
    store.close()


def fn(role: str = ARN, name: str = "my-fn") -> Any:
    return SimpleNamespace(role=role, name=name,
                           function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}")


def test_the_variables_are_a_session_of_the_role_named_after_the_function(
    iam: IamService,
) -> None:
    issued = CredentialIssuer(iam, 3600).issue(fn())
    v = issued.variables
    assert sorted(v) == ["AWS_ACCESS_KEY_ID", "AWS_CREDENTIAL_EXPIRATION", "AWS_SECRET_ACCESS_KEY",
                         "AWS_SESSION_TOKEN"]  # fmt: skip
    cred = iam.credential(v["AWS_ACCESS_KEY_ID"], v["AWS_SESSION_TOKEN"])
    assert cred is not None and cred.secret_access_key == v["AWS_SECRET_ACCESS_KEY"]
    assert cred.principal.arn == "arn:aws:sts::123456789012:assumed-role/exec/my-fn"
    assert cred.principal.role_arn == ARN
    expires = datetime.strptime(v["AWS_CREDENTIAL_EXPIRATION"], "%Y-%m-%dT%H:%M:%SZ")
    assert expires.replace(tzinfo=UTC).timestamp() == cred.expires
    assert cred.expires is not None and abs(cred.expires - time.time() - 3600) < 2
    assert issued.renew_at == cred.expires - 1800  # renewed past half the lifetime
    assert v["AWS_SECRET_ACCESS_KEY"] not in repr(issued)


def test_each_issue_is_new_credentials(iam: IamService) -> None:
    issuer = CredentialIssuer(iam, 3600)
    a, b = issuer.issue(fn()).variables, issuer.issue(fn()).variables
    assert a["AWS_ACCESS_KEY_ID"] != b["AWS_ACCESS_KEY_ID"]
    assert a["AWS_SECRET_ACCESS_KEY"] != b["AWS_SECRET_ACCESS_KEY"]


def test_a_templates_credentials_last_botocores_refresh_window_at_most(iam: IamService) -> None:
    issued = CredentialIssuer(iam, 12 * 3600).issue(fn(), template=True)
    v = issued.variables
    cred = iam.credential(v["AWS_ACCESS_KEY_ID"], v["AWS_SESSION_TOKEN"])
    assert cred is not None and cred.expires is not None
    assert cred.expires - time.time() <= TEMPLATE_LIFETIME_S == 15 * 60
    short = CredentialIssuer(iam, 60).issue(fn(), template=True).variables
    cred = iam.credential(short["AWS_ACCESS_KEY_ID"], short["AWS_SESSION_TOKEN"])
    assert cred is not None and cred.expires is not None and cred.expires - time.time() <= 60


@pytest.mark.parametrize("role", ["absent", "ec2"])
def test_a_role_lambda_cannot_assume_is_refused(iam: IamService, role: str) -> None:
    iam.directory.create(ROLE, "ec2", "/", trust=trust("ec2.amazonaws.com"))
    with pytest.raises(AwsError) as e:
        CredentialIssuer(iam, 3600).issue(fn(f"arn:aws:iam::123456789012:role/{role}"))
    assert (e.value.code, e.value.message) == (
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    )


def test_trust_follows_the_roles_changes(iam: IamService) -> None:
    assert iam.trusts(ARN, "lambda.amazonaws.com")
    assert not iam.trusts(ARN, "ec2.amazonaws.com")
    iam.directory.update(ROLE, "exec", trust=trust("ec2.amazonaws.com"))
    assert not iam.trusts(ARN, "lambda.amazonaws.com")
