"""Lambda resource policies through boto3: AddPermission's statement shapes, GetPolicy,
RemovePermission, Lambda's errors, and the policy gone with its function or alias."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import create_function

API = "arn:aws:execute-api:us-east-1:123456789012:abc123/*/*"


def _code(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_statements_as_lambda_writes_them(lambda_client: Any) -> None:
    name = create_function(lambda_client)
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    with pytest.raises(ClientError) as e:
        lambda_client.get_policy(FunctionName=name)
    assert _code(e) == ("ResourceNotFoundException", 404)
    out = lambda_client.add_permission(
        FunctionName=name, StatementId="api", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com", SourceArn=API,
    )  # fmt: skip
    assert json.loads(out["Statement"]) == {
        "Sid": "api", "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": arn,
        "Condition": {"ArnLike": {"AWS:SourceArn": API}},
    }  # fmt: skip
    lambda_client.add_permission(
        FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
        FunctionUrlAuthType="NONE",
    )  # fmt: skip
    lambda_client.add_permission(
        FunctionName=name, StatementId="acct", Action="lambda:GetFunction",
        Principal="210987654321",
    )  # fmt: skip
    with pytest.raises(ClientError) as e:
        lambda_client.add_permission(FunctionName=name, StatementId="api",
                                     Action="lambda:InvokeFunction", Principal="*")  # fmt: skip
    assert _code(e) == ("ResourceConflictException", 409)
    got = lambda_client.get_policy(FunctionName=name)
    policy = json.loads(got["Policy"])
    assert policy["Version"] == "2012-10-17" and policy["Id"] == "default"
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["url"]["Principal"] == "*"
    assert by_sid["url"]["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    assert by_sid["acct"]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    with pytest.raises(ClientError) as e:
        lambda_client.remove_permission(FunctionName=name, StatementId="api",
                                        RevisionId="not-the-revision")  # fmt: skip
    assert _code(e) == ("PreconditionFailedException", 412)
    lambda_client.remove_permission(FunctionName=name, StatementId="api",
                                    RevisionId=got["RevisionId"])  # fmt: skip
    with pytest.raises(ClientError) as e:
        lambda_client.remove_permission(FunctionName=name, StatementId="api")
    assert _code(e) == ("ResourceNotFoundException", 404)
    lambda_client.remove_permission(FunctionName=name, StatementId="url")
    lambda_client.remove_permission(FunctionName=name, StatementId="acct")
    with pytest.raises(ClientError) as e:
        lambda_client.get_policy(FunctionName=name)
    assert _code(e) == ("ResourceNotFoundException", 404)


def test_qualified_policies_and_deletion(lambda_client: Any) -> None:
    name = create_function(lambda_client)
    with pytest.raises(ClientError) as e:
        lambda_client.add_permission(FunctionName=name, StatementId="s", Principal="*",
                                     Action="lambda:InvokeFunction", Qualifier="live")  # fmt: skip
    assert _code(e) == ("ResourceNotFoundException", 404)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="$LATEST")
    lambda_client.add_permission(FunctionName=name, StatementId="s", Principal="*",
                                 Action="lambda:InvokeFunction", Qualifier="live")  # fmt: skip
    statement = json.loads(lambda_client.get_policy(FunctionName=name, Qualifier="live")["Policy"])
    assert statement["Statement"][0]["Resource"].endswith(f":function:{name}:live")
    with pytest.raises(ClientError):
        lambda_client.get_policy(FunctionName=name)  # the unqualified function has none
    lambda_client.delete_alias(FunctionName=name, Name="live")
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="$LATEST")
    with pytest.raises(ClientError):
        lambda_client.get_policy(FunctionName=name, Qualifier="live")  # went with the alias
    lambda_client.add_permission(FunctionName=name, StatementId="s", Principal="*",
                                 Action="lambda:InvokeFunction")  # fmt: skip
    lambda_client.delete_function(FunctionName=name)
    create_function(lambda_client, name)
    with pytest.raises(ClientError) as e:
        lambda_client.get_policy(FunctionName=name)
    assert _code(e) == ("ResourceNotFoundException", 404)
