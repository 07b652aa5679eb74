"""Code signing configurations through boto3: Warn accepted (Shoal verifies no signature),
Enforce refused, the function's link read back, dropped with the function, kept across a
restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import ShoalServer, create_function, start_server

PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/shoal/abcdef1234"


def _csc(lam, **kwargs):  # type: ignore[no-untyped-def]
    return lam.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]}, **kwargs
    )["CodeSigningConfig"]


def test_config_round_trip(lambda_client) -> None:  # type: ignore[no-untyped-def]
    csc = _csc(lambda_client, Description="ci")
    assert csc["CodeSigningConfigId"].startswith("csc-") and len(csc["CodeSigningConfigId"]) == 21
    assert csc["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    arn = csc["CodeSigningConfigArn"]
    got = lambda_client.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
    assert got == csc
    updated = lambda_client.update_code_signing_config(
        CodeSigningConfigArn=arn, Description="changed"
    )["CodeSigningConfig"]
    assert updated["Description"] == "changed"
    listed = lambda_client.list_code_signing_configs()["CodeSigningConfigs"]
    assert arn in [c["CodeSigningConfigArn"] for c in listed]
    lambda_client.delete_code_signing_config(CodeSigningConfigArn=arn)
    with pytest.raises(ClientError) as e:
        lambda_client.get_code_signing_config(CodeSigningConfigArn=arn)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_enforce_is_refused_naming_why(lambda_client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as e:
        _csc(lambda_client, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "does not verify code signatures" in e.value.response["Error"]["Message"]
    arn = _csc(lambda_client)["CodeSigningConfigArn"]
    with pytest.raises(ClientError):
        lambda_client.update_code_signing_config(
            CodeSigningConfigArn=arn,
            CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"},
        )
    got = lambda_client.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
    assert got["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"] == "Warn"


def test_function_link(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code="def handler(e, c):\n    return 1\n")
    # No configuration: 200 and nothing in it, as Lambda answers (Terraform reads this).
    empty = lambda_client.get_function_code_signing_config(FunctionName=name)
    assert "CodeSigningConfigArn" not in empty
    assert empty["ResponseMetadata"]["HTTPStatusCode"] == 200
    arn = _csc(lambda_client)["CodeSigningConfigArn"]
    out = lambda_client.put_function_code_signing_config(
        CodeSigningConfigArn=arn, FunctionName=name
    )
    assert out["FunctionName"] == name
    got = lambda_client.get_function_code_signing_config(FunctionName=name)
    assert got["CodeSigningConfigArn"] == arn
    functions = lambda_client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)
    assert [a.rsplit(":", 1)[-1] for a in functions["FunctionArns"]] == [name]
    with pytest.raises(ClientError) as e:
        lambda_client.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    lambda_client.delete_function_code_signing_config(FunctionName=name)
    assert "CodeSigningConfigArn" not in lambda_client.get_function_code_signing_config(
        FunctionName=name
    )
    # A config that does not exist, and a function that does not exist.
    missing = arn[:-17] + "0" * 17
    with pytest.raises(ClientError) as e:
        lambda_client.put_function_code_signing_config(
            CodeSigningConfigArn=missing, FunctionName=name
        )
    assert e.value.response["Error"]["Code"] == "CodeSigningConfigNotFoundException"
    with pytest.raises(ClientError) as e:
        lambda_client.get_function_code_signing_config(FunctionName="nope-" + name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_create_with_config_and_delete_drops_link(lambda_client) -> None:  # type: ignore[no-untyped-def]
    arn = _csc(lambda_client)["CodeSigningConfigArn"]
    with pytest.raises(ClientError) as e:
        create_function(lambda_client, CodeSigningConfigArn=arn[:-17] + "1" * 17)
    assert e.value.response["Error"]["Code"] == "CodeSigningConfigNotFoundException"
    name = create_function(lambda_client, CodeSigningConfigArn=arn)
    assert (
        lambda_client.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"]
        == arn
    )
    lambda_client.delete_function(FunctionName=name)
    assert (
        lambda_client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)[
            "FunctionArns"
        ]
        == []
    )
    lambda_client.delete_code_signing_config(CodeSigningConfigArn=arn)


def test_survives_restart(tmp_path: Path) -> None:
    srv: ShoalServer = start_server(tmp_path / "data")
    try:
        lam = srv.client("lambda")
        arn = _csc(lam)["CodeSigningConfigArn"]
        name = create_function(lam, CodeSigningConfigArn=arn)
    finally:
        srv.stop()
    srv = start_server(tmp_path / "data")
    try:
        lam = srv.client("lambda")
        assert lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
        got = lam.get_function_code_signing_config(FunctionName=name)
        assert got["CodeSigningConfigArn"] == arn
    finally:
        srv.stop()
