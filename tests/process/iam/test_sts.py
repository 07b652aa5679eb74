"""STS over the wire with real boto3: GetCallerIdentity, AssumeRole allowed and refused by a
trust policy, GetSessionToken, and temporary credentials that outlive a restart."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ShoalServer, signed_request, start_server
from shoal.config import Settings
from shoal.iam.service import IamService
from shoal.store.sqlite import Store

ACCOUNT = "123456789012"


def _trust(principal: dict[str, str]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})  # fmt: skip


def _error(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


@pytest.fixture(scope="module")
def sts(server: ShoalServer) -> Any:
    return server.client("sts")


@pytest.fixture(scope="module")
def iam(server: ShoalServer) -> Any:
    return server.client("iam")


def test_caller_identity_is_root_without_authentication(sts: Any) -> None:
    who = sts.get_caller_identity()
    assert (who["Account"], who["Arn"], who["UserId"]) == (
        ACCOUNT,
        f"arn:aws:iam::{ACCOUNT}:root",
        ACCOUNT,
    )


def test_assume_role_allowed(iam: Any, sts: Any) -> None:
    name = f"r-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(
        RoleName=name, MaxSessionDuration=7200, AssumeRolePolicyDocument=_trust({"AWS": ACCOUNT})
    )["Role"]
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="sess", DurationSeconds=3600)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40 and creds["SessionToken"]
    left = creds["Expiration"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=55) < left <= dt.timedelta(hours=1)
    assert out["AssumedRoleUser"] == {
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/sess",
        "AssumedRoleId": f"{role['RoleId']}:sess",
    }
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s2", DurationSeconds=7201)
    assert _error(e) == ("ValidationError", 400, "The requested DurationSeconds exceeds the "
                         "MaxSessionDuration set for this role.")  # fmt: skip
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bad name", DurationSeconds=900)
    assert _error(e) == ("ValidationError", 400, "1 validation error detected: Value 'bad name' "
                         "at 'roleSessionName' failed to satisfy constraint: Member must satisfy "
                         "regular expression pattern: [\\w+=,.@-]*")  # fmt: skip


def test_assume_role_refused_by_trust(iam: Any, sts: Any) -> None:
    name = f"r-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(
        {"Service": "lambda.amazonaws.com"}))["Role"]["Arn"]  # fmt: skip
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=arn, RoleSessionName="sess")
    assert _error(e) == ("AccessDenied", 403, f"User: arn:aws:iam::{ACCOUNT}:root is not "
                         f"authorized to perform: sts:AssumeRole on resource: {arn}")  # fmt: skip


def test_a_user_assumes_a_role_as_iam_decides_within_one_account(
    server: ShoalServer, iam: Any
) -> None:
    """A trust policy that names the user lets it in with no policy of its own; one that names
    the account delegates to the user's identity policies (IAM User Guide, "Granting a user
    permissions to switch roles")."""
    user = f"u-{uuid.uuid4().hex[:8]}"
    user_arn = iam.create_user(UserName=user)["User"]["Arn"]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = boto3.client(
        "sts", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 0}),
    )  # fmt: skip
    named = iam.create_role(RoleName=f"n-{uuid.uuid4().hex[:8]}",
                            AssumeRolePolicyDocument=_trust({"AWS": user_arn}))["Role"]["Arn"]
    account = iam.create_role(RoleName=f"a-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=(
        _trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})))["Role"]["Arn"]  # fmt: skip
    got = as_user.assume_role(RoleArn=named, RoleSessionName="s1")["AssumedRoleUser"]["Arn"]
    assert got.endswith(f":assumed-role/{named.rsplit('/', 1)[1]}/s1")
    with pytest.raises(ClientError) as e:
        as_user.assume_role(RoleArn=account, RoleSessionName="s1")
    assert _error(e)[:2] == ("AccessDenied", 403)
    assert _error(e)[2].startswith(f"User: {user_arn} is not authorized to perform: "
                                   f"sts:AssumeRole on resource: {account}")  # fmt: skip
    iam.put_user_policy(UserName=user, PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": account}]}))
    assert as_user.assume_role(RoleArn=account, RoleSessionName="s1")["Credentials"]


def test_get_session_token(sts: Any) -> None:
    creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]


def _service(data_dir: Path) -> tuple[IamService, Store]:
    """The IAM component over a data directory, as a server builds it."""
    store = Store(data_dir / "shoal.db")
    shoal = SimpleNamespace(settings=Settings(data_dir=data_dir), store=store)
    service = IamService(shoal)  # type: ignore[arg-type]
    asyncio.run(service.start())
    return service, store


def test_credentials_survive_restart(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        iam, sts = srv.client("iam"), srv.client("sts")
        arn = iam.create_role(RoleName="keep", AssumeRolePolicyDocument=_trust(
            {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))["Role"]["Arn"]  # fmt: skip
        creds = sts.assume_role(RoleArn=arn, RoleSessionName="ss")["Credentials"]
    finally:
        srv.stop()
    srv = start_server(tmp_path / "data")
    try:
        assert srv.client("iam").get_role(RoleName="keep")["Role"]["Arn"] == arn
    finally:
        srv.stop()
    service, store = _service(tmp_path / "data")
    try:
        cred = service.credential(creds["AccessKeyId"], creds["SessionToken"])
        assert cred is not None and cred.secret_access_key == creds["SecretAccessKey"]
        assert cred.principal.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/keep/ss"
        assert cred.principal.role_arn == arn
        assert cred.expires == creds["Expiration"].timestamp()
    finally:
        store.close()


def _post(server: ShoalServer, body: str, service: str | None = None) -> tuple[int, str]:
    """``body`` posted to ``/``, signed for ``service`` (unsigned when None)."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    if service is None:
        request = urllib.request.Request(server.endpoint + "/", body.encode(), form)
    else:
        request = signed_request("POST", server.endpoint + "/", body.encode(), service, form)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode()


def test_query_wire_shapes(server: ShoalServer) -> None:
    """The XML is the query protocol's; unsigned, the Version names the service that refuses."""
    status, body = _post(server, "Action=GetCallerIdentity&Version=2011-06-15")
    assert status == 403 and "<Code>MissingAuthenticationToken</Code>" in body, body
    assert "<ErrorResponse" in body
    status, body = _post(server, "Action=GetCallerIdentity&Version=2011-06-15", "sts")
    assert status == 200
    assert body.split("\n", 1)[1].startswith(
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetCallerIdentityResult>"
    )
    assert "<ResponseMetadata><RequestId>" in body
    status, body = _post(server, "Action=GetUser&Version=2010-05-08&UserName=nobody", "iam")
    assert status == 404
    assert body.split("\n", 1)[1].startswith(
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender'
        "</Type><Code>NoSuchEntity</Code><Message>The user with name nobody cannot be found."
    )
    status, body = _post(server, "Action=Bogus&Version=2010-05-08", "iam")
    assert status == 400 and "<Code>InvalidAction</Code>" in body
