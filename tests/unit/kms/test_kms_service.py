"""The KMS component without a server: keys pending deletion are deleted with their aliases
once due (a clock the test moves), sealed material binds to its key, and ciphertext blobs bind
their key id and encryption context."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.exceptions import InvalidTag

from shoal.config import Settings
from shoal.errors import AwsError
from shoal.kms import crypto
from shoal.kms.service import DAY, KmsService
from shoal.store.sqlite import Store


@pytest.fixture
def kms(tmp_path: Path) -> KmsService:
    store = Store(tmp_path / "shoal.db")
    service = KmsService(SimpleNamespace(store=store, settings=Settings(data_dir=tmp_path)))  # type: ignore[arg-type]
    now = [1_000_000.0]
    service.clock = lambda: now[0]
    service.now = now  # type: ignore[attr-defined]
    service.load()
    yield service
    store.close()


def test_a_key_is_deleted_with_its_aliases_when_due(kms: KmsService, tmp_path: Path) -> None:
    key = kms.create_key("us-east-1")
    kms.put_alias("us-east-1", "alias/doomed", key, create=True)
    kms.schedule_deletion(key, 7)
    kms.now[0] += 7 * DAY - 1  # type: ignore[attr-defined]
    assert kms.find("us-east-1", key.id).state == "PendingDeletion"
    kms.now[0] += 1  # type: ignore[attr-defined]
    with pytest.raises(AwsError) as e:
        kms.find("us-east-1", key.id)
    assert e.value.code == "NotFoundException"
    assert kms.aliases("us-east-1") == []
    # Gone from the store too: a reload does not bring it back.
    kms.load()
    assert kms.keys("us-east-1") == []


def test_a_cancelled_deletion_keeps_the_key(kms: KmsService) -> None:
    key = kms.cancel_deletion(kms.schedule_deletion(kms.create_key("us-east-1"), 7))
    kms.now[0] += 30 * DAY  # type: ignore[attr-defined]
    assert kms.find("us-east-1", key.id).state == "Disabled"


def test_sealed_material_opens_only_for_its_key(tmp_path: Path) -> None:
    master = crypto.load_master(tmp_path)
    assert (tmp_path / crypto.MASTER_FILE).stat().st_mode & 0o777 == 0o600
    sealed = master.seal("a" * 36, b"k" * 32)
    assert master.open("a" * 36, sealed) == b"k" * 32
    with pytest.raises(InvalidTag):
        master.open("b" * 36, sealed)
    # The same file, read again, is the same key.
    assert crypto.load_master(tmp_path).open("a" * 36, sealed) == b"k" * 32


def test_a_blob_binds_its_key_id_and_context() -> None:
    material = crypto.new_material()
    blob = crypto.encrypt("a" * 36, material, b"data", {"b": "2", "a": "1"})
    assert crypto.key_of(blob) == "a" * 36
    assert crypto.decrypt(material, blob, {"a": "1", "b": "2"}) == b"data"  # order is free
    for context in (None, {"a": "1"}, {"a": "1", "b": "3"}):
        with pytest.raises(crypto.BadCiphertext):
            crypto.decrypt(material, blob, context)
    relabelled = bytes([blob[0]]) + b"c" * 36 + blob[37:]
    with pytest.raises(crypto.BadCiphertext):
        crypto.decrypt(material, relabelled, {"a": "1", "b": "2"})
    with pytest.raises(crypto.BadCiphertext):
        crypto.key_of(b"short")
