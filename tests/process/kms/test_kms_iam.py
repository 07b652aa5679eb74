"""Who may use a KMS key: the key policy and IAM policies together, as KMS decides (attacks
included). With the default key policy the account's IAM policies decide; a key policy that
denies wins over any IAM allow; a key policy that does not name the account makes IAM
policies useless; a user without permission gets nothing, not even through another key's
alias or a ciphertext blob naming the key."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from conftest import ShoalServer, unique_name

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "identity"))
from principals import ACCOUNT, error_of, new_user, root_client  # noqa: E402

ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_a_user_without_permission_gets_nothing(server: ShoalServer) -> None:
    kms = root_client(server, "kms")
    key = kms.create_key()["KeyMetadata"]
    alias = f"alias/{unique_name('secret')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"the secret")["CiphertextBlob"]
    nobody = new_user(server).client(server, "kms")
    for call in (
        lambda: nobody.decrypt(CiphertextBlob=blob),
        lambda: nobody.encrypt(KeyId=alias, Plaintext=b"x"),
        lambda: nobody.describe_key(KeyId=key["Arn"]),
        lambda: nobody.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256"),
        lambda: nobody.disable_key(KeyId=key["KeyId"]),
        lambda: nobody.schedule_key_deletion(KeyId=key["KeyId"]),
        lambda: nobody.put_key_policy(KeyId=key["KeyId"], Policy=_policy()),
        lambda: nobody.delete_alias(AliasName=alias),
        lambda: nobody.create_key(),
        lambda: nobody.list_keys(),
    ):
        code, status, _ = error_of(call)
        assert (code, status) == ("AccessDeniedException", 400)
    code, _, message = error_of(lambda: nobody.decrypt(CiphertextBlob=blob))
    assert f"is not authorized to perform: kms:Decrypt on resource: {key['Arn']}" in message
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key["KeyId"]


def test_iam_allows_one_key_and_the_default_key_policy_delegates(server: ShoalServer) -> None:
    kms = root_client(server, "kms")
    mine, other = (kms.create_key()["KeyMetadata"] for _ in range(2))
    user = new_user(server, {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"],
                             "Resource": mine["Arn"]})  # fmt: skip
    theirs = user.client(server, "kms")
    blob = theirs.encrypt(KeyId=mine["KeyId"], Plaintext=b"ok")["CiphertextBlob"]
    assert theirs.decrypt(CiphertextBlob=blob)["Plaintext"] == b"ok"
    assert error_of(lambda: theirs.encrypt(KeyId=other["KeyId"], Plaintext=b"x"))[0] == (
        "AccessDeniedException"
    )
    other_blob = kms.encrypt(KeyId=other["KeyId"], Plaintext=b"no")["CiphertextBlob"]
    assert error_of(lambda: theirs.decrypt(CiphertextBlob=other_blob))[0] == (
        "AccessDeniedException"
    )
    # ReEncrypt needs ReEncryptFrom on the source and ReEncryptTo on the destination.
    assert error_of(lambda: theirs.re_encrypt(CiphertextBlob=blob,
                                              DestinationKeyId=other["KeyId"]))[0] == (
        "AccessDeniedException")  # fmt: skip


def test_a_key_policy_that_denies_wins_over_iam(server: ShoalServer) -> None:
    kms = root_client(server, "kms")
    user = new_user(server, {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    theirs = user.client(server, "kms")
    key_id = kms.create_key(Policy=_policy(
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": ROOT},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "No decrypt for that user", "Effect": "Deny", "Principal": {"AWS": user.arn},
         "Action": "kms:Decrypt", "Resource": "*"},
    ))["KeyMetadata"]["KeyId"]  # fmt: skip
    blob = theirs.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    code, _, message = error_of(lambda: theirs.decrypt(CiphertextBlob=blob))
    assert code == "AccessDeniedException" and "explicit deny" in message
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_a_key_policy_not_naming_the_account_makes_iam_useless(server: ShoalServer) -> None:
    kms = root_client(server, "kms")
    admin = new_user(server, {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    reader = new_user(server)
    only_reader = _policy(
        {"Effect": "Allow", "Principal": {"AWS": reader.arn}, "Action": "kms:*",
         "Resource": "*"},
    )  # fmt: skip
    made = kms.create_key(Policy=only_reader, BypassPolicyLockoutSafetyCheck=True)
    key_id = made["KeyMetadata"]["KeyId"]
    # The key policy alone grants the reader, who has no IAM policy at all.
    blob = reader.client(server, "kms").encrypt(KeyId=key_id, Plaintext=b"r")["CiphertextBlob"]
    # The admin's IAM kms:* is not enough, and neither is root's.
    code, _, message = error_of(lambda: admin.client(server, "kms").decrypt(CiphertextBlob=blob))
    assert code == "AccessDeniedException" and "no resource-based policy allows" in message
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob))[0] == "AccessDeniedException"
    assert error_of(lambda: kms.disable_key(KeyId=key_id))[0] == "AccessDeniedException"


def test_a_condition_on_the_encryption_context(server: ShoalServer) -> None:
    kms = root_client(server, "kms")
    key = kms.create_key()["KeyMetadata"]
    user = new_user(server, {
        "Effect": "Allow", "Action": "kms:Encrypt", "Resource": key["Arn"],
        "Condition": {"StringEquals": {"kms:EncryptionContext:team": "blue"}},
    })  # fmt: skip
    theirs = user.client(server, "kms")
    theirs.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"team": "blue"})
    assert error_of(lambda: theirs.encrypt(KeyId=key["KeyId"], Plaintext=b"x",
                                           EncryptionContext={"team": "red"}))[0] == (
        "AccessDeniedException")  # fmt: skip


def test_an_alias_needs_iam_on_the_alias_and_the_key(server: ShoalServer) -> None:
    kms = root_client(server, "kms")
    key = kms.create_key()["KeyMetadata"]
    mine = f"alias/{unique_name('mine')}"
    other = f"alias/{unique_name('other')}"
    alias_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:{mine}"
    user = new_user(server, {"Effect": "Allow", "Action": "kms:CreateAlias",
                             "Resource": [alias_arn, key["Arn"]]})  # fmt: skip
    theirs = user.client(server, "kms")
    theirs.create_alias(AliasName=mine, TargetKeyId=key["KeyId"])
    code, _, message = error_of(
        lambda: theirs.create_alias(AliasName=other, TargetKeyId=key["KeyId"])
    )
    assert code == "AccessDeniedException" and other in message  # fmt: skip
    key_only = new_user(server, {"Effect": "Allow", "Action": "kms:CreateAlias",
                                 "Resource": key["Arn"]}).client(server, "kms")  # fmt: skip
    assert error_of(lambda: key_only.create_alias(AliasName=other,
                                                  TargetKeyId=key["KeyId"]))[0] == (
        "AccessDeniedException")  # fmt: skip
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=key["KeyId"])["Aliases"]] == [mine]
