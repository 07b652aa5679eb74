"""KMS as a user types it with the AWS CLI v2 (Debian's ``/usr/bin/aws``), errors included;
and keys surviving a restart, their material kept only sealed by the server master key."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path
from typing import Any

from conftest import ROOT, SHOAL, ShoalServer, start_server, unique_name

AWS_V2 = "/usr/bin/aws"


def aws(server: ShoalServer, *argv: str, ok: bool = True) -> Any:
    env = {
        **os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "",
    }  # fmt: skip
    out = subprocess.run(
        [AWS_V2, "--endpoint-url", server.endpoint, *argv, "--output", "json"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    if not ok:
        assert out.returncode != 0
        return out.stderr
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


def test_the_cli_round_trip(server: ShoalServer, tmp_path: Path) -> None:
    key = aws(server, "kms", "create-key", "--description", "cli key")["KeyMetadata"]
    alias = f"alias/{unique_name('cli')}"
    aws(server, "kms", "create-alias", "--alias-name", alias, "--target-key-id", key["KeyId"])
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"hello from the cli\n")
    out = aws(server, "kms", "encrypt", "--key-id", alias, "--plaintext", f"fileb://{secret}",
              "--encryption-context", "app=wall")  # fmt: skip
    assert out["KeyId"] == key["Arn"]
    blob = tmp_path / "blob"
    blob.write_bytes(base64.b64decode(out["CiphertextBlob"]))
    plain = aws(server, "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}",
                "--encryption-context", "app=wall")  # fmt: skip
    assert base64.b64decode(plain["Plaintext"]) == b"hello from the cli\n"
    err = aws(server, "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}", ok=False)
    assert "InvalidCiphertextException" in err
    listed = aws(server, "kms", "list-aliases", "--key-id", key["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in listed] == [alias]
    aws(server, "kms", "disable-key", "--key-id", key["KeyId"])
    err = aws(server, "kms", "encrypt", "--key-id", alias, "--plaintext", "fileb://" + str(secret),
              ok=False)  # fmt: skip
    assert "DisabledException" in err and f"{key['Arn']} is disabled." in err
    aws(server, "kms", "enable-key", "--key-id", key["KeyId"])
    out = aws(server, "kms", "schedule-key-deletion", "--key-id", key["KeyId"],
              "--pending-window-in-days", "7")  # fmt: skip
    assert out["KeyState"] == "PendingDeletion"
    err = aws(server, "kms", "schedule-key-deletion", "--key-id", key["KeyId"],
              "--pending-window-in-days", "3", ok=False)  # fmt: skip
    assert "ValidationException" in err
    err = aws(server, "kms", "describe-key", "--key-id", "not-a-key", ok=False)
    assert "NotFoundException" in err and "Invalid keyId 'not-a-key'" in err
    managed = aws(server, "kms", "describe-key", "--key-id", "alias/aws/elasticfilesystem")
    assert managed["KeyMetadata"]["KeyManager"] == "AWS"  # made by its first DescribeKey
    data_key = aws(server, "kms", "generate-data-key-without-plaintext", "--key-id",
                   "alias/aws/elasticfilesystem", "--key-spec", "AES_256", ok=False)  # fmt: skip
    assert "AccessDeniedException" in data_key  # an AWS managed key is its service's


def test_keys_survive_a_restart_sealed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data, execution_role=False)
    try:
        kms = srv.client("kms")
        key_id = kms.create_key(Description="kept")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/kept", TargetKeyId=key_id)
        blob = kms.encrypt(KeyId="alias/kept", Plaintext=b"across restarts")["CiphertextBlob"]
    finally:
        srv.stop()
    master = data / "kms-master.key"
    assert stat.S_IMODE(master.stat().st_mode) == 0o600 and len(master.read_bytes()) == 32
    # The database holds the key's material only sealed: no 32-byte AES key in the clear
    # decrypts the blob (the material is 12 + 32 + 16 bytes, opened only with the master key).
    with sqlite3.connect(data / "shoal.db") as db:
        doc = json.loads(db.execute("SELECT doc FROM resources WHERE kind = 'kms-key' AND key = ?",
                                    (key_id,)).fetchone()[0])  # fmt: skip
    db.close()
    assert len(base64.b64decode(doc["material"])) == 12 + 32 + 16
    srv = start_server(data, execution_role=False)
    try:
        kms = srv.client("kms")
        assert kms.describe_key(KeyId="alias/kept")["KeyMetadata"]["Description"] == "kept"
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across restarts"
    finally:
        srv.stop()


def test_keys_come_back_from_a_backup(tmp_path: Path) -> None:
    """The master key is in a backup: a restored server opens what the old one encrypted."""
    data, backup = tmp_path / "data", tmp_path / "shoal.tar"
    srv = start_server(data, execution_role=False)
    try:
        kms = srv.client("kms")
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"backed up")["CiphertextBlob"]
        made = subprocess.run([*SHOAL, "backup", str(backup), "--data-dir", str(data)],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)  # fmt: skip
        assert made.returncode == 0, made.stderr
    finally:
        srv.stop()
    shutil.rmtree(data)
    done = subprocess.run([*SHOAL, "restore", str(backup), "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    srv = start_server(data, execution_role=False)
    try:
        assert srv.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"backed up"
    finally:
        srv.stop()
