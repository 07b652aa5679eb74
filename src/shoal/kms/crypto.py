"""The cryptography of Shoal's KMS: AES-256-GCM throughout (``cryptography``).

Two layers, as KMS has them:

- **The server master key** (:class:`MasterKey`): 32 random bytes in ``<data>/kms-master.key``
  (0600, made exclusively on the first start, so two starts cannot race). It seals every KMS
  key's material before the material reaches the database: ``nonce + AES-GCM(material)`` with
  the key id as associated data, so a sealed material copied onto another key's row does not
  open. A database read by someone without the file reveals no key.
- **Ciphertext blobs** (:func:`encrypt` / :func:`decrypt`): what Encrypt and GenerateDataKey
  return, opaque to clients as AWS's are, but carrying the key that made them so that Decrypt
  needs no KeyId: ``version (1) + key id (36, ASCII) + nonce (12) + AES-GCM(plaintext)``. The
  associated data is the header (version and key id: changing the id fails authentication) and
  the encryption context, canonical (sorted JSON), so Decrypt must be given the same context.
  Any failure to parse or open a blob is one :class:`BadCiphertext`: KMS answers every such case
  ``InvalidCiphertextException`` without saying why.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shoal import datadir

MASTER_FILE = "kms-master.key"
VERSION = 1
ID_LEN = 36  # a UUID key id
NONCE = 12
HEADER = 1 + ID_LEN
MIN_BLOB = HEADER + NONCE + 16  # the GCM tag of an empty plaintext


class BadCiphertext(Exception):
    """A blob that is not one of ours, was altered, or is given the wrong context."""


def load_master(data_dir: Path) -> MasterKey:
    """The server master key, made if absent (0600, exclusive create)."""
    return MasterKey(datadir.secret_key(data_dir / MASTER_FILE))


class MasterKey:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, key_id: str, material: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE)
        return nonce + self._aead.encrypt(nonce, material, key_id.encode())

    def open(self, key_id: str, sealed: bytes) -> bytes:
        return self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], key_id.encode())


def new_material() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _aad(header: bytes, context: Mapping[str, str] | None) -> bytes:
    canonical = json.dumps(dict(sorted((context or {}).items())), separators=(",", ":"))
    return header + canonical.encode()


def encrypt(key_id: str, material: bytes, plaintext: bytes,
            context: Mapping[str, str] | None) -> bytes:  # fmt: skip
    header = bytes([VERSION]) + key_id.encode()
    nonce = secrets.token_bytes(NONCE)
    return header + nonce + AESGCM(material).encrypt(nonce, plaintext, _aad(header, context))


def key_of(blob: bytes) -> str:
    """The key id a blob names; BadCiphertext if it is not one of ours."""
    if len(blob) < MIN_BLOB or blob[0] != VERSION:
        raise BadCiphertext()
    try:
        return blob[1:HEADER].decode("ascii")
    except UnicodeDecodeError:
        raise BadCiphertext() from None


def decrypt(material: bytes, blob: bytes, context: Mapping[str, str] | None) -> bytes:
    key_of(blob)
    header, nonce, body = blob[:HEADER], blob[HEADER : HEADER + NONCE], blob[HEADER + NONCE :]
    try:
        return AESGCM(material).decrypt(nonce, body, _aad(header, context))
    except InvalidTag:
        raise BadCiphertext() from None
