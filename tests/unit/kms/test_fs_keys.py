"""File-system keys as KMS data keys (shoal.filesystems.fskeys), without a server: the blob kept
is KMS's, bound to its file system; a disabled key opens nothing until enabled; another
server's master key opens nothing; CreateFileSystem's KmsKeyId resolves to the key ARN."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from shoal.config import Settings
from shoal.errors import AwsError
from shoal.filesystems.fskeys import FileSystemKeys
from shoal.filesystems.models import FileSystem
from shoal.kms import crypto
from shoal.kms.service import KmsService
from shoal.store.sqlite import Store

ACCOUNT = "123456789012"


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[KmsService, FileSystemKeys, Store]]:
    store = Store(tmp_path / "shoal.db")
    kms = KmsService(SimpleNamespace(store=store, settings=Settings(data_dir=tmp_path)))  # type: ignore[arg-type]
    kms.load()
    yield kms, FileSystemKeys(kms, store, tmp_path / "volumes"), store
    store.close()


def _fs(store: Store, fs_id: str, key_arn: str) -> FileSystem:
    fs = FileSystem(fs_id, f"arn:aws:elasticfilesystem:us-east-1:{ACCOUNT}:file-system/{fs_id}",
                    ACCOUNT, "t", 0.0, encrypted=True, kms_key_id=key_arn)  # fmt: skip
    store.put("filesystem", fs_id, fs.to_doc())
    return fs


def test_the_blob_is_kms_and_opens_for_its_file_system_only(
    parts: tuple[KmsService, FileSystemKeys, Store],
) -> None:
    kms, keys, store = parts
    key = kms.create_key("us-east-1")
    fs = _fs(store, "fs-1", key.arn)
    plain = keys.new_key(fs.id)
    assert len(plain) == 64
    blob = keys.path(fs.id).read_bytes()
    assert crypto.key_of(blob) == key.id and plain not in blob
    assert keys.path(fs.id).stat().st_mode & 0o777 == 0o600
    assert keys.open_key(fs.id) == plain
    # Moved to another file system (same KMS key): its context differs, nothing opens.
    _fs(store, "fs-2", key.arn)
    keys.path("fs-2").write_bytes(blob)
    with pytest.raises(AwsError) as e:
        keys.open_key("fs-2")
    assert e.value.code == "EFSMountFailureException"


def test_a_disabled_key_opens_nothing_until_enabled(
    parts: tuple[KmsService, FileSystemKeys, Store],
) -> None:
    kms, keys, store = parts
    key = kms.create_key("us-east-1")
    fs = _fs(store, "fs-1", key.arn)
    plain = keys.new_key(fs.id)
    kms.set_enabled(kms.find("us-east-1", key.id), False)
    for attempt in (lambda: keys.open_key(fs.id), lambda: keys.check(fs)):
        with pytest.raises(AwsError) as e:
            attempt()
        assert e.value.code == "EFSMountFailureException" and "is disabled" in e.value.message
    kms.set_enabled(kms.find("us-east-1", key.id), True)
    keys.check(fs)
    assert keys.open_key(fs.id) == plain


def test_another_servers_master_key_opens_nothing(
    parts: tuple[KmsService, FileSystemKeys, Store],
    tmp_path: Path,
) -> None:
    kms, keys, store = parts
    key = kms.create_key("us-east-1")
    _fs(store, "fs-1", key.arn)
    keys.new_key("fs-1")
    (tmp_path / crypto.MASTER_FILE).write_bytes(b"\x00" * 32)
    kms.load()  # the same keys, under another master key
    with pytest.raises(Exception):  # noqa: B017 - the sealed material does not open
        keys.open_key("fs-1")


def test_kms_key_id_resolves_to_the_key_arn(
    parts: tuple[KmsService, FileSystemKeys, Store],
) -> None:
    kms, keys, _ = parts
    key = kms.create_key("us-east-1")
    kms.put_alias("us-east-1", "alias/files", key, create=True)
    assert keys.key_arn("us-east-1", "alias/files") == key.arn
    managed = keys.key_arn("us-east-1", None)
    assert managed == kms.find("us-east-1", "alias/aws/elasticfilesystem").arn != key.arn
    kms.schedule_deletion(key, 7)
    with pytest.raises(AwsError) as e:
        keys.key_arn("us-east-1", key.id)
    assert e.value.code == "BadRequest" and "pending deletion" in e.value.message
