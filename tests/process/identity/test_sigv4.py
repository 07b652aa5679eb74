"""SigV4 on the API, as a user meets it: boto3 clients with wrong, unknown, expired and
temporary credentials, presigned URLs, and an IAM user allowed one action on one function."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ShoalServer, create_function, unique_name

CONFIG = Config(retries={"max_attempts": 0})


def client(server: ShoalServer, service: str, key: str, secret: str, token: str | None = None,
           ) -> Any:  # fmt: skip
    return boto3.client(
        service, endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, aws_session_token=token, config=CONFIG,
    )  # fmt: skip


def error_of(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as e:
        call()
    err = e.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


SIGNATURE = "The request signature we calculated does not match the signature you provided."


def test_a_wrong_secret_is_refused_in_each_protocols_shape(server: ShoalServer) -> None:
    code, status, message = error_of(client(server, "lambda", "shoal", "wrong").list_functions)
    assert (code, status) == ("InvalidSignatureException", 403) and message.startswith(SIGNATURE)
    code, status, _ = error_of(client(server, "efs", "shoal", "wrong").describe_file_systems)
    assert (code, status) == ("InvalidSignatureException", 403)
    code, status, message = error_of(client(server, "sts", "shoal", "wrong").get_caller_identity)
    assert (code, status) == ("SignatureDoesNotMatch", 403) and message.startswith(SIGNATURE)
    code, status, _ = error_of(client(server, "ec2", "shoal", "wrong").describe_vpcs)
    assert (code, status) == ("SignatureDoesNotMatch", 403)


def test_an_unknown_access_key_is_refused(server: ShoalServer) -> None:
    invalid = "The security token included in the request is invalid."
    assert error_of(client(server, "lambda", "AKIANOBODY", "x").list_functions) == (
        "UnrecognizedClientException", 403, invalid)  # fmt: skip
    assert error_of(client(server, "sts", "AKIANOBODY", "x").get_caller_identity) == (
        "InvalidClientTokenId", 403, invalid)  # fmt: skip
    code, status, _ = error_of(client(server, "ec2", "AKIANOBODY", "x").describe_vpcs)
    assert (code, status) == ("AuthFailure", 401)


def _send(request: AWSRequest) -> tuple[int, dict[str, Any]]:
    prepared = request.prepare()
    raw = urllib.request.Request(
        prepared.url, data=prepared.body or None, headers=dict(prepared.headers),
        method=prepared.method,
    )  # fmt: skip
    try:
        with urllib.request.urlopen(raw, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, {"type": e.headers["x-amzn-ErrorType"], **json.loads(e.read())}


def test_a_request_signed_ten_minutes_ago_has_expired(
    server: ShoalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    then = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: then)
    request = AWSRequest("GET", f"{server.endpoint}/2015-03-31/functions/")
    botocore.auth.SigV4Auth(Credentials("shoal", "shoal"), "lambda", "us-east-1").add_auth(request)
    status, body = _send(request)
    assert status == 403 and body["type"].startswith("InvalidSignatureException")
    assert body["message"].startswith(f"Signature expired: {then:%Y%m%dT%H%M%SZ} is now earlier")


def test_a_body_other_than_the_signed_one_is_refused(server: ShoalServer) -> None:
    request = AWSRequest(
        "POST", f"{server.endpoint}/2015-03-31/functions/x/invocations", data=b'{"a": 1}'
    )
    botocore.auth.SigV4Auth(Credentials("shoal", "shoal"), "lambda", "us-east-1").add_auth(request)
    request.data = b'{"a": 2}'
    status, body = _send(request)
    assert status == 403 and body["type"].startswith("InvalidSignatureException")


def test_a_signature_for_another_service_is_refused(server: ShoalServer) -> None:
    request = AWSRequest("GET", f"{server.endpoint}/2015-03-31/functions/")
    botocore.auth.SigV4Auth(Credentials("shoal", "shoal"), "efs", "us-east-1").add_auth(request)
    status, body = _send(request)
    assert status == 403 and "scoped to correct service: 'lambda'" in body["message"]


def test_presigned_urls(server: ShoalServer) -> None:
    lam = client(server, "lambda", "shoal", "shoal")
    url = lam.generate_presigned_url("list_functions", ExpiresIn=60)
    with urllib.request.urlopen(url, timeout=30) as r:
        assert "Functions" in json.loads(r.read())
    forged = url.replace("X-Amz-Expires=60", "X-Amz-Expires=600")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(forged, timeout=30)
    with e.value:
        assert e.value.code == 403 and SIGNATURE in json.loads(e.value.read())["message"]


def _user_allowed_to_invoke(server: ShoalServer, function_arn: str) -> tuple[str, str, str]:
    iam = client(server, "iam", "shoal", "shoal")
    name = unique_name("dev")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="invoke-one", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                       "Resource": function_arn}],
    }))  # fmt: skip
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, key["AccessKeyId"], key["SecretAccessKey"]


def test_a_user_allowed_only_to_invoke_one_function(server: ShoalServer) -> None:
    root = client(server, "lambda", "shoal", "shoal")
    mine = create_function(root, code="def handler(e, c):\n    return 'hi'\n")
    other = create_function(root, code="def handler(e, c):\n    return 'no'\n")
    arn = root.get_function(FunctionName=mine)["Configuration"]["FunctionArn"]
    user_arn, key, secret = _user_allowed_to_invoke(server, arn)
    lam = client(server, "lambda", key, secret)
    assert json.loads(lam.invoke(FunctionName=mine)["Payload"].read()) == "hi"
    code, status, message = error_of(lambda: lam.invoke(FunctionName=other))
    assert (code, status) == ("AccessDeniedException", 403)
    assert message == (
        f"User: {user_arn} is not authorized to perform: lambda:InvokeFunction on resource: "
        f"{arn.rsplit(':', 1)[0]}:{other} because no identity-based policy allows the "
        "lambda:InvokeFunction action"
    )
    assert error_of(lambda: lam.get_function(FunctionName=mine))[0] == "AccessDeniedException"
    assert error_of(lam.list_functions)[0] == "AccessDeniedException"
    efs = client(server, "efs", key, secret)
    assert error_of(efs.describe_file_systems)[:2] == ("AccessDeniedException", 403)
    sts = client(server, "sts", key, secret)
    assert sts.get_caller_identity()["Arn"] == user_arn  # needs no permission


def test_temporary_credentials_sign_and_a_forged_token_does_not(server: ShoalServer) -> None:
    iam = client(server, "iam", "shoal", "shoal")
    role = iam.create_role(RoleName=unique_name("r"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                       "Action": "sts:AssumeRole"}],
    }))["Role"]  # fmt: skip
    creds = client(server, "sts", "shoal", "shoal").assume_role(
        RoleArn=role["Arn"], RoleSessionName="s1"
    )["Credentials"]
    key, secret, token = creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    me = client(server, "sts", key, secret, token).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{role['RoleName']}/s1"
    # The role has no policy: its session may do nothing but know who it is.
    assert error_of(client(server, "lambda", key, secret, token).list_functions)[0] == (
        "AccessDeniedException")  # fmt: skip
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert error_of(client(server, "sts", key, secret, forged).get_caller_identity)[0] == (
        "InvalidClientTokenId")  # fmt: skip
    assert error_of(client(server, "lambda", key, secret, None).list_functions)[0] == (
        "UnrecognizedClientException")  # fmt: skip
