"""Encrypted EFS file systems keyed by KMS, as a user sees it: CreateFileSystem resolves
``KmsKeyId`` (any of the four identifiers, or the AWS managed ``aws/elasticfilesystem`` key
when none is given) to the key's ARN and refuses a key that cannot be used; disabling the key
makes the file system unmountable — a function fails with Lambda's EFSMountFailureException,
a host mount is refused — until the key is enabled again."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ShoalServer, default_subnet, shoal_urlopen, start_server, unique_name, wait_for
from shoal.kms.crypto import key_of

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "filesystems"))
from fs_helpers import invoke, make_ap, make_fn  # noqa: E402

ACCOUNT = "123456789012"
WRITE_READ = """
def handler(event, context):
    path = "/mnt/fs/" + event["name"]
    if "text" in event:
        with open(path, "w") as f:
            f.write(event["text"])
    with open(path) as f:
        return f.read()
"""


def _host_path(server: ShoalServer, fs_id: str) -> tuple[int, dict[str, Any]]:
    url = f"{server.endpoint}/shoal/fs/file-systems/{fs_id}/path"
    try:
        with shoal_urlopen(url) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def _create(efs: Any, **kwargs: Any) -> dict[str, Any]:
    return efs.create_file_system(CreationToken=unique_name("enc"),  # type: ignore[no-any-return]
                                  Encrypted=True, **kwargs)  # fmt: skip


def test_kms_key_id_is_resolved_to_the_key_arn(server: ShoalServer) -> None:
    efs, kms = server.client("efs"), server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    alias = f"alias/{unique_name('efs')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    for ident in (key["KeyId"], key["Arn"], alias, f"arn:aws:kms:us-east-1:{ACCOUNT}:{alias}"):
        fs = _create(efs, KmsKeyId=ident)
        assert fs["KmsKeyId"] == key["Arn"] and fs["Encrypted"] is True
        described = efs.describe_file_systems(FileSystemId=fs["FileSystemId"])["FileSystems"][0]
        assert described["KmsKeyId"] == key["Arn"]
    managed = _create(efs)["KmsKeyId"]
    aws_key = kms.describe_key(KeyId="alias/aws/elasticfilesystem")["KeyMetadata"]
    assert managed == aws_key["Arn"] and aws_key["KeyManager"] == "AWS"


def test_an_unusable_key_is_refused(server: ShoalServer) -> None:
    efs, kms = server.client("efs"), server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=key["KeyId"])
    for ident in (key["KeyId"], "alias/no-such-alias", "11111111-2222-3333-4444-555555555555"):
        with pytest.raises(ClientError) as e:
            _create(efs, KmsKeyId=ident)
        err = e.value.response
        assert err["Error"]["Code"] == "BadRequest", ident
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        _create(efs, KmsKeyId="not-a-key")  # the model's KmsKeyId pattern
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "is disabled" in _message(lambda: _create(efs, KmsKeyId=key["KeyId"]))
    with pytest.raises(ClientError) as e:
        efs.create_file_system(CreationToken=unique_name("plain"), KmsKeyId=key["KeyId"])
    assert e.value.response["Error"]["Code"] == "BadRequest"


def _message(fn: Any) -> str:
    with pytest.raises(ClientError) as e:
        fn()
    return str(e.value.response["Error"]["Message"])


def test_a_disabled_key_makes_the_file_system_unmountable(server: ShoalServer) -> None:
    efs, kms, lam = server.client("efs"), server.client("kms"), server.client("lambda")
    key = kms.create_key()["KeyMetadata"]
    fs_id = _create(efs, KmsKeyId=key["KeyId"])["FileSystemId"]
    ap = make_ap(efs, fs_id)
    name = make_fn(lam, WRITE_READ, ap["AccessPointArn"])
    assert invoke(lam, name, {"name": "note", "text": "kept"}) == "kept"
    assert _host_path(server, fs_id)[0] == 200

    kms.disable_key(KeyId=key["KeyId"])
    # A new environment must mount: the warm one was mounted while the key was enabled.
    lam.update_function_configuration(FunctionName=name, Description="cold start")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    with pytest.raises(ClientError) as e:
        invoke(lam, name, {"name": "note"})
    err = e.value.response
    assert err["Error"]["Code"] == "EFSMountFailureException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert key["Arn"] in err["Error"]["Message"] and "disabled" in err["Error"]["Message"]
    status, doc = _host_path(server, fs_id)
    assert (status, doc["ErrorCode"]) == (403, "EFSMountFailureException")

    kms.enable_key(KeyId=key["KeyId"])
    assert invoke(lam, name, {"name": "note"}) == "kept"
    assert _host_path(server, fs_id)[0] == 200


@pytest.mark.nfs
def test_a_disabled_key_withdraws_the_nfs_exports(server: ShoalServer, tmp_path: Path) -> None:
    efs, kms = server.client("efs"), server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    fs_id = _create(efs, KmsKeyId=key["Arn"])["FileSystemId"]
    mt_id = efs.create_mount_target(FileSystemId=fs_id,
                                    SubnetId=default_subnet(server))["MountTargetId"]  # fmt: skip

    def available() -> bool:
        (mt,) = efs.describe_mount_targets(MountTargetId=mt_id)["MountTargets"]
        return bool(mt["LifeCycleState"] == "available")

    wait_for(available, timeout=60)
    with shoal_urlopen(f"{server.endpoint}/shoal/fs/mount-targets/{mt_id}") as r:
        target = json.load(r)
    url = f"nfs://{target['IpAddress']}/{fs_id}?version=4&nfsport={target['Port']}"

    def listed() -> bool:
        run = subprocess.run(["nfs-ls", url], capture_output=True, text=True, timeout=60)
        return run.returncode == 0

    try:
        wait_for(listed, timeout=60)
        kms.disable_key(KeyId=key["KeyId"])
        wait_for(lambda: not listed(), timeout=60)
        kms.enable_key(KeyId=key["KeyId"])
        wait_for(listed, timeout=60)
    finally:
        efs.delete_mount_target(MountTargetId=mt_id)


def test_a_volume_opens_only_through_kms(tmp_path: Path) -> None:
    """The fscrypt key is kept only as a KMS ciphertext blob of the file system's key; a server
    started while the key is disabled leaves the volume locked (nothing mounts, the tree's
    names are ciphertext), and the first mount after the key is enabled unlocks it."""
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        efs, kms, lam = srv.client("efs"), srv.client("kms"), srv.client("lambda")
        key = kms.create_key()["KeyMetadata"]
        fs_id = _create(efs, KmsKeyId=key["KeyId"])["FileSystemId"]
        blob = (data / "volumes" / f"{fs_id}.key").read_bytes()
        assert key_of(blob) == key["KeyId"]  # a KMS blob of the file system's own key
        plain = kms.decrypt(
            CiphertextBlob=blob, EncryptionContext={"aws:elasticfilesystem:filesystem:id": fs_id}
        )
        assert len(plain["Plaintext"]) == 64 and plain["Plaintext"] not in blob  # fmt: skip
        ap = make_ap(efs, fs_id)
        name = make_fn(lam, WRITE_READ, ap["AccessPointArn"])
        assert invoke(lam, name, {"name": "secret-name", "text": "kept"}) == "kept"
        kms.disable_key(KeyId=key["KeyId"])
        assert srv.stop() == 0
        srv = start_server(data)
        efs, kms, lam = srv.client("efs"), srv.client("kms"), srv.client("lambda")
        root = data / "filesystems" / fs_id
        names = [p.name for p in root.iterdir()]
        assert len(names) == 1 and names != ["message"], names  # locked: names are ciphertext
        with pytest.raises(ClientError) as e:
            invoke(lam, name, {"name": "secret-name"})
        assert e.value.response["Error"]["Code"] == "EFSMountFailureException"
        kms.enable_key(KeyId=key["KeyId"])
        assert invoke(lam, name, {"name": "secret-name"}) == "kept"
        assert (root / "message" / "secret-name").read_text() == "kept"
    finally:
        srv.stop()
