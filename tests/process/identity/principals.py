"""What the resource-policy tests share: IAM users with their own keys and clients, execution
roles that trust Lambda (made through IAM first, as CreateFunction requires of a role), and
raw HTTP requests signed with botocore's SigV4Auth as any principal."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ShoalServer, unique_name

ACCOUNT = "123456789012"
CONFIG = Config(retries={"max_attempts": 0}, read_timeout=120)
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}  # fmt: skip


@dataclass(frozen=True)
class User:
    name: str
    arn: str
    key: str
    secret: str

    def client(self, server: ShoalServer, service: str) -> Any:
        return boto3.client(
            service, endpoint_url=server.endpoint, region_name="us-east-1",
            aws_access_key_id=self.key, aws_secret_access_key=self.secret, config=CONFIG,
        )  # fmt: skip


def root_client(server: ShoalServer, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id="shoal", aws_secret_access_key="shoal", config=CONFIG,
    )  # fmt: skip


def new_user(server: ShoalServer, *statements: dict[str, Any]) -> User:
    """An IAM user with an access key and, if given, one inline policy of ``statements``."""
    iam = root_client(server, "iam")
    name = unique_name("user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if statements:
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        iam.put_user_policy(UserName=name, PolicyName="own", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return User(name, arn, key["AccessKeyId"], key["SecretAccessKey"])


def lambda_role(server: ShoalServer, *managed: str, prefix: str = "role") -> str:
    """A role Lambda may assume, with the AWS managed policies ``managed`` attached."""
    iam = root_client(server, "iam")
    name = unique_name(prefix)
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
        LAMBDA_TRUST))["Role"]["Arn"]  # fmt: skip
    for policy in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
    return arn


def error_of(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as e:
        call()
    err = e.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def send(method: str, url: str, body: bytes = b"", *, key: str | None = None,
         secret: str | None = None, service: str = "lambda",
         tamper: bool = False, host: str | None = None,
         ) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    """``method url`` over raw HTTP: signed with ``key``/``secret`` for ``service`` (unsigned
    without a key); ``tamper`` changes the signature's last digit. ``host``: the Host header
    to sign and send instead of the URL's (``{urlId}.lambda-url.localhost:PORT``)."""
    headers: dict[str, str] = {"Content-Type": "text/plain"}
    if key is not None and secret is not None:
        parts = urlsplit(url)
        signed_url = parts._replace(netloc=host).geturl() if host else url
        request = AWSRequest(method, signed_url, data=body, headers=headers)
        SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(request)
        headers = dict(request.headers)
        if tamper:
            auth = headers["Authorization"]
            headers["Authorization"] = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    if host:
        headers["Host"] = host
    req = urllib.request.Request(url, data=body or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()
