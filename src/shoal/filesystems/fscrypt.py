"""fscrypt v2 on a volume's tree: the three ioctls Shoal needs, through ``fcntl.ioctl``.

An ``Encrypted`` file system's tree directory gets a v2 policy (AES-256-XTS for contents,
AES-256-CTS for names, 32-byte name padding) keyed by a per-file-system 64-byte master key.
The key is added to the volume's filesystem keyring at mount and removed at stop; without it
the image's bytes (contents and names) are ciphertext. The ioctls are called directly rather
than through Debian's ``fscryptctl``: they are three fixed-size structs, and a subprocess per
start would hand the raw key over a pipe to another program for nothing.

Layouts are ``<linux/fscrypt.h>``'s (the ioctl numbers encode their sizes).
"""

from __future__ import annotations

import fcntl
import os
import struct

FS_IOC_SET_ENCRYPTION_POLICY = 0x800C6613  # _IOR('f', 19, struct fscrypt_policy_v1)
FS_IOC_ADD_ENCRYPTION_KEY = 0xC0506617  # _IOWR('f', 23, struct fscrypt_add_key_arg)
FS_IOC_REMOVE_ENCRYPTION_KEY = 0xC0406618  # _IOWR('f', 24, struct fscrypt_remove_key_arg)

KEY_SPEC_TYPE_IDENTIFIER = 2
MODE_AES_256_XTS = 1
MODE_AES_256_CTS = 4
POLICY_FLAGS_PAD_32 = 0x03
KEY_BYTES = 64


def _spec(identifier: bytes = b"") -> bytes:
    """struct fscrypt_key_specifier: type, reserved, a 32-byte union (the identifier)."""
    return struct.pack("<II32s", KEY_SPEC_TYPE_IDENTIFIER, 0, identifier)


def add_key(mount_point: str, raw: bytes) -> bytes:
    """Add ``raw`` to the filesystem keyring of ``mount_point``; returns its 16-byte identifier
    (derived from the key by the kernel; adding the same key again is harmless)."""
    if len(raw) != KEY_BYTES:
        raise ValueError("an fscrypt v2 master key here is 64 bytes")
    arg = bytearray(_spec() + struct.pack("<II32x", len(raw), 0) + raw)
    fd = os.open(mount_point, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, FS_IOC_ADD_ENCRYPTION_KEY, arg)
    finally:
        os.close(fd)
        raw_view = memoryview(arg)[80:]
        raw_view[:] = bytes(len(raw_view))  # the copy of the key in this buffer is wiped
    return bytes(arg[8:24])


def remove_key(mount_point: str, identifier: bytes) -> None:
    """Remove the key from the keyring (files still open keep their keys until closed)."""
    arg = bytearray(_spec(identifier) + bytes(24))
    fd = os.open(mount_point, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, FS_IOC_REMOVE_ENCRYPTION_KEY, arg)
    except FileNotFoundError:
        pass  # ENOKEY is not raised for "not present"; ENOENT-like answers mean already gone
    finally:
        os.close(fd)


def set_policy(directory: str, identifier: bytes) -> None:
    """Set the v2 policy on ``directory`` (empty, or already under this very policy: then
    the call changes nothing)."""
    policy = struct.pack(
        "<BBBBB3x16s", 2, MODE_AES_256_XTS, MODE_AES_256_CTS, POLICY_FLAGS_PAD_32, 0, identifier
    )
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, FS_IOC_SET_ENCRYPTION_POLICY, policy)
    finally:
        os.close(fd)
