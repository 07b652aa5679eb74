"""Per-file-system encryption keys, kept wrapped by a server master key: one function pair.

Until KMS wraps them (the KMS work replaces :func:`wrap` and :func:`unwrap`, nothing else),
a file system's 64-byte fscrypt key is sealed with AES-256-GCM under a 32-byte master key in
``<data-dir>/volumes/master.key`` (0600, made once), the file system id as associated data so
a sealed key cannot be moved to another file system. The sealed key lives beside the image
(``<fs-id>.key``, 0600); nothing about it is in the database, and nothing is in the clear on
disk but the master key, which is the server's own secret like its root keys.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


def _write_private(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)


def master_key(directory: Path) -> bytes:
    """The server's master key, made at first use."""
    path = directory / "master.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        _write_private(path, AESGCM.generate_key(bit_length=256))
        return path.read_bytes()


def wrap(directory: Path, fs_id: str, key: bytes) -> bytes:
    """``key`` sealed for ``fs_id``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master_key(directory)).encrypt(nonce, key, fs_id.encode())


def unwrap(directory: Path, fs_id: str, sealed: bytes) -> bytes:
    """The key :func:`wrap` sealed for ``fs_id`` (``InvalidTag`` when it was not)."""
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    return AESGCM(master_key(directory)).decrypt(nonce, body, fs_id.encode())


def store_new_key(directory: Path, fs_id: str, key: bytes) -> None:
    _write_private(directory / f"{fs_id}.key", wrap(directory, fs_id, key))


def load_key(directory: Path, fs_id: str) -> bytes:
    return unwrap(directory, fs_id, (directory / f"{fs_id}.key").read_bytes())
