"""KMS through boto3 against a real server: keys and their states, the four ways to name a
key, aliases, Encrypt/Decrypt with the encryption context as AAD, data keys, ReEncrypt, key
policies, tags, pagination, and the errors AWS answers (codes and messages as recorded against
AWS in LocalStack's kms snapshots)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ShoalServer, unique_name

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def kms(server: ShoalServer) -> Any:
    return server.client("kms")


def error(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as e:
        fn(*args, **kwargs)
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    return err["Error"]["Code"], err["Error"]["Message"]


def test_create_and_describe_a_key(kms: Any) -> None:
    meta = kms.create_key(Description="test key 123")["KeyMetadata"]
    key_id = meta["KeyId"]
    uuid.UUID(key_id)
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}"
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    for field, value in {
        "AWSAccountId": ACCOUNT, "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "Description": "test key 123", "Enabled": True, "KeyManager": "CUSTOMER",
        "KeySpec": "SYMMETRIC_DEFAULT", "KeyState": "Enabled", "KeyUsage": "ENCRYPT_DECRYPT",
        "MultiRegion": False, "Origin": "AWS_KMS", "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
    }.items():  # fmt: skip
        assert described[field] == value, field
    assert len(described["CurrentKeyMaterialId"]) == 64
    # By ARN, alias name and alias ARN too.
    alias = f"alias/{unique_name('k')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    for ident in (meta["Arn"], alias, f"arn:aws:kms:us-east-1:{ACCOUNT}:{alias}"):
        assert kms.describe_key(KeyId=ident)["KeyMetadata"]["KeyId"] == key_id


def test_key_identifier_errors(kms: Any, server: ShoalServer) -> None:
    missing = str(uuid.uuid4())
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{missing}"
    assert error(kms.describe_key, KeyId=missing) == ("NotFoundException",
                                                       f"Key '{arn}' does not exist")  # fmt: skip
    assert error(kms.describe_key, KeyId=arn)[1] == f"Key '{arn}' does not exist"
    assert error(kms.describe_key, KeyId="fake-key-id") == (
        "NotFoundException",
        "Invalid keyId 'fake-key-id'",
    )
    alias_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/nothing-here"
    assert error(kms.describe_key, KeyId="alias/nothing-here") == (
        "NotFoundException",
        f"Alias {alias_arn} is not found.",
    )
    # A key of another region is not found in this one.
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    other = server.client("kms", region="eu-west-1")
    assert error(other.describe_key, KeyId=key_id)[0] == "NotFoundException"
    assert key_id not in [k["KeyId"] for k in other.list_keys(Limit=1000)["Keys"]]


def test_encrypt_decrypt_with_context(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    context = {"purpose": "test", "fs": "fs-1"}
    out = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret bytes", EncryptionContext=context)
    assert out["KeyId"] == key["Arn"] and out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = out["CiphertextBlob"]
    assert b"secret bytes" not in blob
    plain = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    assert plain["Plaintext"] == b"secret bytes" and plain["KeyId"] == key["Arn"]
    assert plain["KeyMaterialId"] == key["CurrentKeyMaterialId"]
    assert error(kms.decrypt, CiphertextBlob=blob) == ("InvalidCiphertextException", "")
    assert error(kms.decrypt, CiphertextBlob=blob,
                 EncryptionContext={"purpose": "other", "fs": "fs-1"})[0] == (
        "InvalidCiphertextException")  # fmt: skip
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    assert error(kms.decrypt, CiphertextBlob=tampered, EncryptionContext=context)[0] == (
        "InvalidCiphertextException"
    )
    assert error(kms.decrypt, CiphertextBlob=b"garbage" * 10)[0] == "InvalidCiphertextException"
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    assert error(kms.decrypt, CiphertextBlob=blob, EncryptionContext=context, KeyId=other) == (
        "IncorrectKeyException",
        "The key ID in the request does not identify a CMK that can perform this operation.",
    )
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context,
                       KeyId=key["Arn"])["Plaintext"] == b"secret bytes"  # fmt: skip
    code, message = error(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x" * 4097)
    assert code == "ValidationException" and "4096" in message


def test_data_keys_and_re_encrypt(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    made = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    assert len(made["Plaintext"]) == 32 and made["KeyId"] == key["Arn"]
    assert kms.decrypt(CiphertextBlob=made["CiphertextBlob"])["Plaintext"] == made["Plaintext"]
    assert len(kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=16)["Plaintext"]) == 16
    bare = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_128",
                                                   EncryptionContext={"a": "b"})  # fmt: skip
    assert "Plaintext" not in bare
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"],
                           EncryptionContext={"a": "b"})["Plaintext"]) == 16  # fmt: skip
    assert error(kms.generate_data_key, KeyId=key["KeyId"])[0] == "ValidationException"
    other = kms.create_key()["KeyMetadata"]
    moved = kms.re_encrypt(CiphertextBlob=made["CiphertextBlob"], DestinationKeyId=other["KeyId"],
                           DestinationEncryptionContext={"x": "y"})  # fmt: skip
    assert moved["SourceKeyId"] == key["Arn"] and moved["KeyId"] == other["Arn"]
    again = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"x": "y"})
    assert again["Plaintext"] == made["Plaintext"] and again["KeyId"] == other["Arn"]
    assert error(kms.re_encrypt, CiphertextBlob=made["CiphertextBlob"],
                 SourceKeyId=other["KeyId"], DestinationKeyId=key["KeyId"])[0] == (
        "IncorrectKeyException")  # fmt: skip
    assert len(kms.generate_random(NumberOfBytes=44)["Plaintext"]) == 44


def test_key_states(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    key_id, arn = key["KeyId"], key["Arn"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"p")["CiphertextBlob"]
    kms.disable_key(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Disabled", False)
    assert error(kms.encrypt, KeyId=key_id, Plaintext=b"p") == ("DisabledException",
                                                               f"{arn} is disabled.")  # fmt: skip
    assert error(kms.decrypt, CiphertextBlob=blob)[0] == "DisabledException"
    assert error(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256")[0] == "DisabledException"
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
    for days in (6, 31):
        code, message = error(kms.schedule_key_deletion, KeyId=key_id, PendingWindowInDays=days)
        assert code == "ValidationException" and f"Value '{days}'" in message
    out = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert (out["KeyId"], out["KeyState"], out["PendingWindowInDays"]) == (
        arn,
        "PendingDeletion",
        7,
    )
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["PendingDeletionWindowInDays"] == 7
    assert "DeletionDate" in meta
    assert error(kms.encrypt, KeyId=key_id, Plaintext=b"p") == (
        "KMSInvalidStateException",
        f"{arn} is pending deletion.",
    )
    assert error(kms.enable_key, KeyId=key_id)[0] == "KMSInvalidStateException"
    assert error(kms.schedule_key_deletion, KeyId=key_id)[0] == "KMSInvalidStateException"
    assert kms.cancel_key_deletion(KeyId=key_id)["KeyId"] == arn
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    assert error(kms.cancel_key_deletion, KeyId=key_id)[0] == "KMSInvalidStateException"


def test_aliases(kms: Any) -> None:
    one, two = (kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2))
    name = f"alias/{unique_name('a')}"
    assert error(kms.create_alias, AliasName="no-prefix", TargetKeyId=one) == (
        "ValidationException",
        'Alias must start with the prefix "alias/". Please see '
        "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
    )
    kms.create_alias(AliasName=name, TargetKeyId=one)
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:{name}"
    assert error(kms.create_alias, AliasName=name, TargetKeyId=two) == (
        "AlreadyExistsException",
        f"An alias with the name {arn} already exists",
    )
    assert error(kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=one)[0] == (
        "InvalidAliasNameException"
    )
    entry = kms.list_aliases(KeyId=one)["Aliases"]
    assert [(a["AliasName"], a["AliasArn"], a["TargetKeyId"]) for a in entry] == [(name, arn, one)]
    kms.update_alias(AliasName=name, TargetKeyId=two)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == two
    assert kms.list_aliases(KeyId=one)["Aliases"] == []
    kms.delete_alias(AliasName=name)
    assert error(kms.delete_alias, AliasName=name) == ("NotFoundException",
                                                       f"Alias {arn} is not found.")  # fmt: skip
    assert error(kms.describe_key, KeyId=name)[0] == "NotFoundException"


def test_list_keys_pages(kms: Any) -> None:
    made = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)}
    seen: list[str] = []
    marker: dict[str, str] = {}
    while True:
        page = kms.list_keys(Limit=2, **marker)
        assert len(page["Keys"]) <= 2
        seen += [k["KeyId"] for k in page["Keys"]]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = {"Marker": page["NextMarker"]}
    assert made <= set(seen) and len(seen) == len(set(seen))
    everything = [k["KeyId"] for p in kms.get_paginator("list_keys").paginate(
        PaginationConfig={"PageSize": 3}) for k in p["Keys"]]  # fmt: skip
    assert everything == seen


def test_key_policy_and_tags(kms: Any) -> None:
    key_id = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyMetadata"]["KeyId"]
    got = kms.get_key_policy(KeyId=key_id, PolicyName="default")
    policy = json.loads(got["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert policy["Statement"][0]["Action"] == "kms:*"
    assert kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    assert error(kms.get_key_policy, KeyId=key_id, PolicyName="other") == (
        "NotFoundException",
        "No such policy exists",
    )
    assert error(kms.put_key_policy, KeyId=key_id, PolicyName="default",
                 Policy="not json")[0] == "MalformedPolicyDocumentException"  # fmt: skip
    locked = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/someone"},
        "Action": "kms:*", "Resource": "*"}]}  # fmt: skip
    code, message = error(kms.put_key_policy, KeyId=key_id, Policy=json.dumps(locked))
    assert code == "MalformedPolicyDocumentException" and "in the future" in message
    policy["Statement"][0]["Sid"] = "changed"
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(policy))
    assert json.loads(kms.get_key_policy(KeyId=key_id)["Policy"]) == policy

    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "env", "TagValue": "dev"},
                                         {"TagKey": "team", "TagValue": "b"}])  # fmt: skip
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [
        {"TagKey": "env", "TagValue": "dev"},
        {"TagKey": "team", "TagValue": "b"},
    ]
    kms.untag_resource(KeyId=key_id, TagKeys=["env"])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "b"}]
    dup = [{"TagKey": "k", "TagValue": "1"}, {"TagKey": "k", "TagValue": "2"}]
    assert error(kms.tag_resource, KeyId=key_id, Tags=dup) == ("TagException",
                                                              "Duplicate tag keys")  # fmt: skip
    assert error(kms.create_key, Tags=[{"TagKey": "aws:x", "TagValue": "1"}]) == (
        "TagException",
        "Tags beginning with aws: are reserved",
    )
    many = [{"TagKey": f"k{i}", "TagValue": "v"} for i in range(51)]
    assert error(kms.create_key, Tags=many) == ("TagException", "Too many tags")


def test_unsupported_key_specs_are_refused(kms: Any) -> None:
    assert error(kms.create_key, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")[0] == (
        "UnsupportedOperationException"
    )
    assert error(kms.create_key, KeyUsage="SIGN_VERIFY")[0] == "ValidationException"


def test_the_efs_managed_key_is_made_on_first_use(kms: Any) -> None:
    meta = kms.describe_key(KeyId="alias/aws/elasticfilesystem")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS" and meta["KeyState"] == "Enabled"
    assert kms.describe_key(KeyId="alias/aws/elasticfilesystem")["KeyMetadata"] == meta
    names = [a["AliasName"] for a in kms.list_aliases(KeyId=meta["KeyId"])["Aliases"]]
    assert names == ["alias/aws/elasticfilesystem"]
    # Its key policy keeps it for EFS: even the account's root may not change or use it.
    assert error(kms.disable_key, KeyId=meta["KeyId"])[0] == "AccessDeniedException"
    assert error(kms.encrypt, KeyId=meta["KeyId"], Plaintext=b"x")[0] == "AccessDeniedException"
    assert "elasticfilesystem.us-east-1.amazonaws.com" in kms.get_key_policy(
        KeyId=meta["KeyId"])["Policy"]  # fmt: skip
