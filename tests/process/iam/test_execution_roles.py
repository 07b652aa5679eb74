"""Execution roles that functions really have: a real server, real sandboxes, and the bundled
boto3 inside the functions, configured by nothing but the variables Lambda sets.

CreateFunction and UpdateFunctionConfiguration refuse a role Lambda cannot assume (absent, or
trusting another service) and check ``iam:PassRole``; every environment signs as
``assumed-role/ROLE/FUNCTION`` with credentials of its own, renewed when it outlives them, and
a snapshot-started environment's are not its template's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from iam_helpers import error_of

from conftest import (
    ROLE,
    RUNTIME,
    ShoalServer,
    create_function,
    create_role,
    make_zip,
    start_server,
    unique_name,
)

ACCOUNT = "123456789012"
CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."

WHO_AM_I = """\
import os, boto3
def handler(event, context):
    who = boto3.client("sts").get_caller_identity()
    return {"arn": who["Arn"], "key": os.environ["AWS_ACCESS_KEY_ID"],
            "token": bool(os.environ.get("AWS_SESSION_TOKEN"))}
"""


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(service: str) -> str:
    principal = {"Service": service}
    return policy({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


def invoke(client: Any, name: str, event: Any = None) -> Any:
    out = client.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    body = out["Payload"].read()
    assert "FunctionError" not in out, body
    return json.loads(body)


def new_role(srv: ShoalServer, service: str = "lambda.amazonaws.com") -> str:
    return create_role(srv, unique_name("role"), trust=trust(service))


# ------------------------------------------------------------------ the role must be assumable


def test_create_refuses_a_role_that_does_not_exist(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as e:
        create_function(lambda_client, Role=f"arn:aws:iam::{ACCOUNT}:role/{unique_name('no')}")
    assert error_of(e) == ("InvalidParameterValueException", 400, CANNOT_ASSUME)


def test_create_refuses_a_role_that_trusts_another_service(
    server: ShoalServer, lambda_client: Any
) -> None:
    role = new_role(server, "ec2.amazonaws.com")
    name = unique_name()
    with pytest.raises(ClientError) as e:
        create_function(lambda_client, name=name, Role=role)
    assert error_of(e) == ("InvalidParameterValueException", 400, CANNOT_ASSUME)
    with pytest.raises(ClientError) as missing:
        lambda_client.get_function(FunctionName=name)
    assert error_of(missing)[0] == "ResourceNotFoundException"  # nothing was made


def test_a_trust_policy_can_name_the_function_it_is_for(
    server: ShoalServer, lambda_client: Any
) -> None:
    """The confused-deputy keys of trust policies: Lambda assumes the role for a function,
    named in ``aws:SourceArn`` (and its account in ``aws:SourceAccount``)."""
    name, other = unique_name(), unique_name()
    policy = json.loads(trust("lambda.amazonaws.com"))
    policy["Statement"][0]["Condition"] = {
        "ArnLike": {"aws:SourceArn": f"arn:aws:lambda:*:{ACCOUNT}:function:{name}"},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    }
    role = create_role(server, unique_name("only"), trust=json.dumps(policy))
    with pytest.raises(ClientError) as e:
        create_function(lambda_client, name=other, Role=role)
    assert error_of(e) == ("InvalidParameterValueException", 400, CANNOT_ASSUME)
    create_function(lambda_client, name=name, Role=role,
                    code="def handler(e, c):\n    return 'mine'\n")  # fmt: skip
    assert json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read()) == "mine"


def test_update_refuses_roles_lambda_cannot_assume(
    server: ShoalServer, lambda_client: Any
) -> None:
    name = create_function(lambda_client, code="def handler(e, c):\n    return 1\n")
    for role in (f"arn:aws:iam::{ACCOUNT}:role/{unique_name('no')}",
                 new_role(server, "ec2.amazonaws.com")):  # fmt: skip
        with pytest.raises(ClientError) as e:
            lambda_client.update_function_configuration(FunctionName=name, Role=role)
        assert error_of(e) == ("InvalidParameterValueException", 400, CANNOT_ASSUME)
    assert lambda_client.get_function_configuration(FunctionName=name)["Role"] == ROLE
    other = new_role(server)
    lambda_client.update_function_configuration(FunctionName=name, Role=other)
    assert lambda_client.get_function_configuration(FunctionName=name)["Role"] == other


def test_a_role_that_stops_trusting_lambda_fails_the_next_environment(
    server: ShoalServer, lambda_client: Any
) -> None:
    role = new_role(server)
    name = create_function(lambda_client, code=WHO_AM_I, Role=role)
    assert invoke(lambda_client, name)["arn"].endswith(f"/{name}")
    iam: Any = server.client("iam")
    iam.update_assume_role_policy(RoleName=role.rsplit("/", 1)[1],
                                  PolicyDocument=trust("ec2.amazonaws.com"))  # fmt: skip
    lambda_client.update_function_configuration(FunctionName=name, Description="new env")
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
    with pytest.raises(ClientError) as e:
        lambda_client.invoke(FunctionName=name, Payload=b"{}")
    assert error_of(e) == ("InvalidParameterValueException", 400, CANNOT_ASSUME)


# ------------------------------------------------------------------ the environment's identity


def test_the_function_signs_as_its_assumed_role(server: ShoalServer, lambda_client: Any) -> None:
    role = new_role(server)
    role_name = role.rsplit("/", 1)[1]
    name = create_function(lambda_client, code=WHO_AM_I, Role=role)
    out = invoke(lambda_client, name)
    assert out["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{name}"
    assert out["key"].startswith("ASIA") and out["token"]
    # A second function of the same role has credentials of its own.
    second = create_function(lambda_client, code=WHO_AM_I, Role=role)
    theirs = invoke(lambda_client, second)
    assert theirs["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{second}"
    assert theirs["key"] != out["key"]


def test_credentials_reach_no_log_and_no_configuration(
    server: ShoalServer, lambda_client: Any
) -> None:
    code = WHO_AM_I.replace('"token"', '"secret": os.environ["AWS_SECRET_ACCESS_KEY"], "token"')
    name = create_function(lambda_client, code=code)
    out = invoke(lambda_client, name)
    config = json.dumps(lambda_client.get_function(FunctionName=name), default=str)
    assert out["key"] not in config and out["secret"] not in config
    for path in server.data_dir.rglob("*"):  # the store (and its WAL), the logs, the code...
        parts = path.relative_to(server.data_dir).parts
        if "filesystems" in parts or (parts[0] == "volumes" and path.suffix == ".img"):
            continue  # what functions write is theirs (a volume's image holds its tree)
        try:
            data = path.read_bytes() if path.is_file() else b""
        except FileNotFoundError:
            continue  # removed meanwhile (another test's)
        assert out["secret"].encode() not in data, path
        assert out["key"].encode() not in data, path
    assert not any(out["key"] in line or out["secret"] in line for line in server.output)


INVOKER = """\
import json, boto3
from botocore.exceptions import ClientError
def handler(event, context):
    try:
        out = boto3.client("lambda").invoke(FunctionName=event["target"], Payload=b'{"n": 7}')
    except ClientError as e:
        return {"error": e.response["Error"]["Code"], "message": e.response["Error"]["Message"],
                "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
    return {"result": json.load(out["Payload"])}
"""


def test_function_to_function_invoke_is_its_roles_to_allow(
    server: ShoalServer, lambda_client: Any
) -> None:
    target = create_function(lambda_client, code="def handler(e, c):\n    return e['n'] * 6\n")
    target_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{target}"
    role = new_role(server)
    role_name = role.rsplit("/", 1)[1]
    caller = create_function(lambda_client, code=INVOKER, Role=role)
    assert invoke(lambda_client, caller, {"target": target}) == {
        "error": "AccessDeniedException",
        "status": 403,
        "message": f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{caller} is not "
        f"authorized to perform: lambda:InvokeFunction on resource: {target_arn} because no "
        "identity-based policy allows the lambda:InvokeFunction action",
    }
    iam: Any = server.client("iam")
    allow = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": target_arn}
    iam.put_role_policy(RoleName=role_name, PolicyName="invoke", PolicyDocument=policy(allow))
    assert invoke(lambda_client, caller, {"target": target}) == {"result": 42}


# ------------------------------------------------------------------ iam:PassRole


def test_a_user_needs_pass_role_to_give_a_function_a_role(
    server: ShoalServer, lambda_client: Any
) -> None:
    iam: Any = server.client("iam")
    user = unique_name("dev")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    manage = {"Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:GetFunction*",
                                            "lambda:UpdateFunctionConfiguration"],
              "Resource": "*"}  # fmt: skip
    iam.put_user_policy(UserName=user, PolicyName="lambda", PolicyDocument=policy(manage))
    theirs = boto3.client(
        "lambda", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 0}),
    )  # fmt: skip
    name = unique_name()
    with pytest.raises(ClientError) as e:
        create_function(theirs, name=name)
    assert error_of(e) == (
        "AccessDeniedException", 403,
        f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: iam:PassRole "
        f"on resource: {ROLE} because no identity-based policy allows the iam:PassRole action",
    )  # fmt: skip
    passed_to = {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    pass_role = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLE,
                 "Condition": passed_to}  # fmt: skip
    both = policy(manage, pass_role)
    iam.put_user_policy(UserName=user, PolicyName="lambda", PolicyDocument=both)
    create_function(theirs, name=name, code="def handler(e, c):\n    return 1\n")
    # Another role is not theirs to pass, on update either.
    other = new_role(server)
    with pytest.raises(ClientError) as e:
        theirs.update_function_configuration(FunctionName=name, Role=other)
    assert error_of(e)[:2] == ("AccessDeniedException", 403)
    assert "iam:PassRole on resource: " + other in error_of(e)[2]
    theirs.close()


# ------------------------------------------------------------------ renewal


RENEWED = """\
import os, boto3
from botocore.exceptions import ClientError
STS = boto3.client("sts")  # made once, at init: its credentials must follow the renewals
FIRST = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                    "AWS_SESSION_TOKEN")}
def handler(event, context):
    old = boto3.client("sts", aws_access_key_id=FIRST["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=FIRST["AWS_SECRET_ACCESS_KEY"],
                       aws_session_token=FIRST["AWS_SESSION_TOKEN"])
    try:
        old.get_caller_identity()
        first = "valid"
    except ClientError as e:
        first = e.response["Error"]["Code"]
    return {"arn": STS.get_caller_identity()["Arn"],
            "fresh": boto3.client("sts").get_caller_identity()["Arn"],
            "key": os.environ["AWS_ACCESS_KEY_ID"],
            "expires": os.environ["AWS_CREDENTIAL_EXPIRATION"],
            "first": first, "env": context.log_stream_name}
"""


@pytest.fixture
def short_lived(tmp_path: Path) -> Iterator[ShoalServer]:
    srv = start_server(tmp_path / "data", "--role-credentials-lifetime", "3")
    yield srv
    srv.stop()


def test_an_environment_that_outlives_its_credentials_gets_new_ones(
    short_lived: ShoalServer,
) -> None:
    lam: Any = short_lived.client("lambda")
    name = create_function(lam, code=RENEWED)
    before = invoke(lam, name)
    assert before["first"] == "valid"
    expires = datetime.strptime(before["expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    # Real time must pass: the credentials' lifetime is the server's clock.
    time.sleep(max(0.0, expires.timestamp() - time.time()) + 1.0)
    after = invoke(lam, name)
    assert after["env"] == before["env"]  # the same environment...
    assert after["first"] == "ExpiredToken"  # ...has outlived its first credentials
    assert after["key"] != before["key"]  # and was given new ones
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/lambda-role/{name}"
    assert after["arn"] == after["fresh"] == before["arn"] == arn
    lam.close()


# ------------------------------------------------------------------ snapshot starts


SNAPPED = """\
import os, time, boto3
STS = boto3.client("sts")
INIT_KEY = os.environ["AWS_ACCESS_KEY_ID"]
def handler(event, context):
    time.sleep(0.5)  # so that two invocations need two environments
    arn = STS.get_caller_identity()["Arn"]
    used = STS._request_signer._credentials.get_frozen_credentials().access_key
    return {"init": INIT_KEY, "key": os.environ["AWS_ACCESS_KEY_ID"], "used": used, "arn": arn,
            "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
"""


def test_a_snapshot_start_has_credentials_of_its_own(lambda_client: Any) -> None:
    name = create_function(lambda_client, code=SNAPPED, SnapStart={"ApplyOn": "PublishedVersions"})
    version = lambda_client.publish_version(FunctionName=name)["Version"]

    def call(_: int) -> Any:
        out = lambda_client.invoke(FunctionName=name, Qualifier=version)
        body = out["Payload"].read()
        assert "FunctionError" not in out, body
        return json.loads(body)

    with ThreadPoolExecutor(2) as pool:  # two environments, both restored from one template
        results = list(pool.map(call, range(2)))
    assert {r["type"] for r in results} == {"snap-start"}
    assert {r["init"] for r in results} == {results[0]["init"]}  # one template, one init...
    keys = {r["key"] for r in results}
    assert len(keys) == 2 and results[0]["init"] not in keys  # ...each its own credentials
    for r in results:
        assert r["used"] == r["key"]  # a client made at init signs with the restored ones
        assert r["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/lambda-role/{name}"


def test_code_with_no_role_variables_still_has_none_of_the_servers(lambda_client: Any) -> None:
    """The environment's variables are Lambda's and the role's: nothing of the server's own
    (its root keys, its environment) is there."""
    code = "import os\ndef handler(e, c):\n    return dict(os.environ)\n"
    name = unique_name()
    lambda_client.create_function(
        FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": code})},
    )  # fmt: skip
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)
    env = invoke(lambda_client, name)
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert "shoal" not in (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    assert not any(k.startswith("SHOAL_") for k in env)
