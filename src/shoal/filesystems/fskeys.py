"""File-system keys as EFS keeps them: data keys of the file system's KMS key.

An ``Encrypted`` file system names a KMS key (``KmsKeyId``: a key id, key ARN, alias name or
alias ARN; ``alias/aws/elasticfilesystem``, the AWS managed key made on first use, when none is
given). CreateFileSystem resolves it to the key's ARN, which DescribeFileSystems returns, and
refuses a key that does not exist or is not enabled (EFS's ``BadRequest``: its model lists no
KMS error for CreateFileSystem).

The volume's 64-byte fscrypt key is a data key of that KMS key (GenerateDataKey, the encryption
context ``aws:elasticfilesystem:filesystem:id`` = the file system's id, as EFS's own calls carry
it): only its ciphertext blob is kept (``<fs-id>.key`` beside the image, 0600), so the tree can
be unlocked only through KMS — at start and at each mount — and only while the key is enabled.
A disabled key, or one pending deletion, makes the file system unmountable: functions fail with
Lambda's ``EFSMountFailureException``, host mounts and NFS exports are refused, until the key is
enabled again. Calls are made inside Shoal (no principal), as EFS calls KMS for itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from shoal.errors import AwsError
from shoal.filesystems.models import FileSystem
from shoal.filesystems.rootdir import mount_failure
from shoal.filesystems.rules import bad_request

if TYPE_CHECKING:
    from shoal.kms.service import KmsService
    from shoal.store.sqlite import Store

KEY_BYTES = 64
MANAGED_ALIAS = "alias/aws/elasticfilesystem"
CONTEXT_KEY = "aws:elasticfilesystem:filesystem:id"


def _write_private(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)


class FileSystemKeys:
    """The KMS side of encrypted file systems; ``kms`` is the running KMS component. A file
    system's region and key are read from the store (one being created is there before its
    volume is made). It is the key source of :class:`shoal.filesystems.volumes.Volumes`
    (``new_key`` / ``open_key``)."""

    def __init__(self, kms: KmsService, store: Store, directory: Path) -> None:
        self.kms = kms
        self.store = store
        self.dir = directory

    def _key_of(self, fs_id: str) -> tuple[str, str]:
        doc = self.store.get("filesystem", fs_id)
        if doc is None:
            raise AwsError("FileSystemNotFound", f"File system '{fs_id}' does not exist.")
        fs = FileSystem.from_doc(doc)
        return fs.region, fs.kms_key_id or ""

    def key_arn(self, region: str, ident: str | None) -> str:
        """CreateFileSystem's ``KmsKeyId`` as the key's ARN; BadRequest when unusable."""
        try:
            key = self.kms.find(region, ident or MANAGED_ALIAS, managed=True)
            self.kms.usable(key)
        except AwsError as e:
            raise bad_request(f"Invalid KmsKeyId {ident or MANAGED_ALIAS}: {e.message}") from None
        return key.arn

    def check(self, fs: FileSystem) -> None:
        """Raise Lambda's EFSMountFailureException when ``fs`` is encrypted with a KMS key that
        cannot be used now (disabled, pending deletion, deleted)."""
        if fs.encrypted and fs.kms_key_id:
            self._usable(fs.id, fs.region, fs.kms_key_id)

    def _usable(self, fs_id: str, region: str, key_arn: str) -> None:
        try:
            self.kms.usable(self.kms.find(region, key_arn))
        except AwsError as e:
            raise mount_failure(
                f"The function couldn't mount the file system {fs_id}: its KMS key cannot be "
                f"used ({e.code}: {e.message})"
            ) from None

    def path(self, fs_id: str) -> Path:
        return self.dir / f"{fs_id}.key"

    def new_key(self, fs_id: str) -> bytes:
        """A new fscrypt key for ``fs_id``: its blob is kept, the plaintext returned."""
        region, key_arn = self._key_of(fs_id)
        key = self.kms.find(region, key_arn)
        plaintext, blob = self.kms.data_key(key, KEY_BYTES, {CONTEXT_KEY: fs_id})
        self.dir.mkdir(mode=0o700, exist_ok=True)
        _write_private(self.path(fs_id), blob)
        return plaintext

    def open_key(self, fs_id: str) -> bytes:
        """The fscrypt key of ``fs_id``, decrypted by KMS (EFSMountFailureException when its
        key is disabled, pending deletion or gone)."""
        region, key_arn = self._key_of(fs_id)
        self._usable(fs_id, region, key_arn)
        blob = self.path(fs_id).read_bytes()
        try:
            return self.kms.decrypt(self.kms.find(region, key_arn), blob, {CONTEXT_KEY: fs_id})
        except AwsError as e:
            raise mount_failure(f"The file system {fs_id}'s key does not open: {e.code}") from None
