"""NFS clients for the tests: libnfs (``libnfs.so.13``, libnfs-utils's library) through ctypes,
for what the userspace tools (nfs-cp, nfs-cat, nfs-ls) cannot do (they copy and list only), and
:func:`mount_target`, the mount target such a client connects to, made through boto3.

Each :class:`NfsClient` has its own client id, so two of them contend like two hosts. As root,
libnfs connects from a privileged port, the only kind a mount target serves.

libnfs 4.0 (Debian 12's) quirks the callers meet: ``nfs_pwrite`` takes offset, count, buffer
(later versions swapped them); an NFSv4 WRITE of 4000 bytes or more fails to encode ("Failed to
encode COMPOUND4args"), so :meth:`NfsClient.write_all` and :meth:`NfsClient.stream` write in
:data:`WRITE_MAX` pieces (``stream`` keeps many in flight, as a kernel client does, since one
small WRITE at a time is a per-RPC cost); an ``O_CREAT`` open is exclusive.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import select
import uuid
from typing import Any

from conftest import default_subnet, shoal_urlopen, wait_for

_lib = ctypes.CDLL("libnfs.so.13", use_errno=True)
_P = ctypes.c_void_p
_S = ctypes.c_char_p
F_LOCK, F_TLOCK, F_ULOCK, F_TEST = 0, 1, 2, 3  # enum nfs4_lock_op
WRITE_MAX = 3584  # below libnfs 4.0's NFSv4 WRITE limit (the COMPOUND is encoded in 4 KiB)


class _Url(ctypes.Structure):
    _fields_ = [("server", _S), ("path", _S), ("file", _S)]


class NfsStat(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in ("dev ino mode nlink uid gid rdev size blksize blocks atime mtime ctime "
                     "atime_nsec mtime_nsec ctime_nsec used").split()
    ]  # fmt: skip


class _Dirent(ctypes.Structure):
    pass


_Dirent._fields_ = [("next", ctypes.POINTER(_Dirent)), ("name", _S), ("inode", ctypes.c_uint64)]
# void (*nfs_cb)(int err, struct nfs_context *nfs, void *data, void *private_data): ``err`` is
# the result (bytes written for a WRITE) or a negative errno, ``data`` then the error text.
_Callback = ctypes.CFUNCTYPE(None, ctypes.c_int, _P, _P, _P)

_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "nfs_init_context": (_P, []),
    "nfs_destroy_context": (None, [_P]),
    "nfs4_set_client_name": (None, [_P, _S]),
    "nfs_parse_url_dir": (ctypes.POINTER(_Url), [_P, _S]),
    "nfs_destroy_url": (None, [ctypes.POINTER(_Url)]),
    "nfs_mount": (ctypes.c_int, [_P, _S, _S]),
    "nfs_get_error": (_S, [_P]),
    "nfs_open2": (ctypes.c_int, [_P, _S, ctypes.c_int, ctypes.c_int, ctypes.POINTER(_P)]),
    "nfs_close": (ctypes.c_int, [_P, _P]),
    "nfs_pwrite": (ctypes.c_int, [_P, _P, ctypes.c_uint64, ctypes.c_uint64, _S]),
    "nfs_pread": (ctypes.c_int, [_P, _P, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_char_p]),
    "nfs_write": (ctypes.c_int, [_P, _P, ctypes.c_uint64, _S]),
    "nfs_fsync": (ctypes.c_int, [_P, _P]),
    "nfs_pwrite_async": (ctypes.c_int, [_P, _P, ctypes.c_uint64, ctypes.c_uint64, _S,
                                        _Callback, _P]),
    "nfs_fsync_async": (ctypes.c_int, [_P, _P, _Callback, _P]),
    "nfs_get_fd": (ctypes.c_int, [_P]),
    "nfs_which_events": (ctypes.c_int, [_P]),
    "nfs_service": (ctypes.c_int, [_P, ctypes.c_int]),
    "nfs_ftruncate": (ctypes.c_int, [_P, _P, ctypes.c_uint64]),
    "nfs_stat64": (ctypes.c_int, [_P, _S, ctypes.POINTER(NfsStat)]),
    "nfs_lstat64": (ctypes.c_int, [_P, _S, ctypes.POINTER(NfsStat)]),
    "nfs_rename": (ctypes.c_int, [_P, _S, _S]),
    "nfs_unlink": (ctypes.c_int, [_P, _S]),
    "nfs_mkdir": (ctypes.c_int, [_P, _S]),
    "nfs_rmdir": (ctypes.c_int, [_P, _S]),
    "nfs_chmod": (ctypes.c_int, [_P, _S, ctypes.c_int]),
    "nfs_symlink": (ctypes.c_int, [_P, _S, _S]),
    "nfs_readlink": (ctypes.c_int, [_P, _S, ctypes.c_char_p, ctypes.c_int]),
    "nfs_link": (ctypes.c_int, [_P, _S, _S]),
    "nfs_lockf": (ctypes.c_int, [_P, _P, ctypes.c_int, ctypes.c_uint64]),
    "nfs_opendir": (ctypes.c_int, [_P, _S, ctypes.POINTER(_P)]),
    "nfs_readdir": (ctypes.POINTER(_Dirent), [_P, _P]),
    "nfs_closedir": (None, [_P, _P]),
}  # fmt: skip
for _name, (_res, _args) in _SIGNATURES.items():
    getattr(_lib, _name).restype = _res
    getattr(_lib, _name).argtypes = _args


def url(port: int, path: str, address: str = "127.0.0.1") -> str:
    """The libnfs URL of ``path`` (an export's pseudo path, maybe a directory in it) on the
    mount target at ``address:port``."""
    return f"nfs://{address}/{path.lstrip('/')}?version=4&nfsport={port}"


def mount_target(srv: Any, fs_id: str) -> tuple[str, int]:
    """A mount target of ``fs_id`` in the default subnet (CreateMountTarget through boto3),
    once it is available: its id, and the port it serves NFS on (Shoal's own endpoint tells)."""
    efs = srv.client("efs")
    mt_id = efs.create_mount_target(FileSystemId=fs_id,
                                    SubnetId=default_subnet(srv))["MountTargetId"]  # fmt: skip
    wait_for(lambda: efs.describe_mount_targets(MountTargetId=mt_id)["MountTargets"][0][
        "LifeCycleState"] == "available", timeout=60)  # fmt: skip
    with shoal_urlopen(f"{srv.endpoint}/shoal/fs/mount-targets/{mt_id}") as r:
        return mt_id, int(json.load(r)["Port"])


class NfsError(OSError):
    pass


class NfsClient:
    """One NFSv4 client, connected and mounted on the directory ``url`` names until closed."""

    def __init__(self, url: str) -> None:
        self.ctx = _lib.nfs_init_context()
        _lib.nfs4_set_client_name(self.ctx, uuid.uuid4().hex.encode())
        try:
            parsed = _lib.nfs_parse_url_dir(self.ctx, url.encode())
            if not parsed:
                raise NfsError(errno.EINVAL, (_lib.nfs_get_error(self.ctx) or b"").decode())
            try:
                self._check(_lib.nfs_mount(self.ctx, parsed.contents.server,
                                           parsed.contents.path))  # fmt: skip
            finally:
                _lib.nfs_destroy_url(parsed)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Ends the client (and its connection); it cannot be used again."""
        if self.ctx:
            _lib.nfs_destroy_context(self.ctx)
            self.ctx = None

    def __enter__(self) -> NfsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, rc: int) -> int:
        if rc < 0:
            raise NfsError(-rc, (_lib.nfs_get_error(self.ctx) or b"").decode())
        return rc

    def open(self, path: str, flags: int, mode: int = 0o644) -> int:
        fh = _P()
        self._check(_lib.nfs_open2(self.ctx, path.encode(), flags, mode, ctypes.byref(fh)))
        return int(fh.value or 0)

    def close_file(self, fh: int) -> None:
        self._check(_lib.nfs_close(self.ctx, fh))

    def pwrite(self, fh: int, offset: int, data: bytes) -> int:
        return self._check(_lib.nfs_pwrite(self.ctx, fh, offset, len(data), data))

    def write(self, fh: int, data: bytes) -> int:
        return self._check(_lib.nfs_write(self.ctx, fh, len(data), data))

    def write_all(self, fh: int, offset: int, data: bytes) -> None:
        """``data`` at ``offset``, in WRITEs small enough for libnfs 4.0 (short ones retried)."""
        done = 0
        while done < len(data):
            done += self.pwrite(fh, offset + done, data[done : done + WRITE_MAX])

    def stream(self, fh: int, offset: int, data: bytes, depth: int = 16,
               commit_every: int = 0) -> None:  # fmt: skip
        """``data`` at ``offset`` as an NFS client streams it: up to ``depth`` WRITEs in flight
        and, every ``commit_every`` bytes (0: never), a COMMIT sent without waiting for it, as a
        kernel client's writeback does; returns when the server has answered all of them."""
        failed: list[tuple[int, str]] = []
        pending = {"writes": 0, "commits": 0}

        def reply(kind: str, rc: int, text: int, want: int) -> None:
            pending[kind] -= 1
            if rc < 0:
                failed.append((-rc, ctypes.string_at(text).decode(errors="replace") if text
                               else os.strerror(-rc)))  # fmt: skip
            elif want and rc != want:
                failed.append((errno.EIO, f"short WRITE: {rc} of {want} bytes"))

        # Kept alive until every reply has come (libnfs calls them from _service).
        wrote = _Callback(lambda rc, _ctx, text, want: reply("writes", rc, text, want or 0))
        committed = _Callback(lambda rc, _ctx, text, _: reply("commits", rc, text, 0))
        sent, last_commit = 0, 0
        while (sent < len(data) or any(pending.values())) and not failed:
            while pending["writes"] < depth and sent < len(data):
                piece = data[sent : sent + WRITE_MAX]
                self._check(_lib.nfs_pwrite_async(self.ctx, fh, offset + sent, len(piece),
                                                  piece, wrote, len(piece)))  # fmt: skip
                pending["writes"] += 1
                sent += len(piece)
                if commit_every and sent - last_commit >= commit_every:
                    self._check(_lib.nfs_fsync_async(self.ctx, fh, committed, None))
                    pending["commits"] += 1
                    last_commit = sent
            self._service()
        if failed:
            raise NfsError(*failed[0])

    def _service(self, timeout_s: float = 60) -> None:
        """Waits for the connection to be ready and lets libnfs read and send (callbacks run
        here)."""
        poller = select.poll()
        poller.register(_lib.nfs_get_fd(self.ctx), _lib.nfs_which_events(self.ctx))
        ready = poller.poll(timeout_s * 1000)
        if not ready:
            raise NfsError(errno.ETIMEDOUT, f"no reply in {timeout_s} s")
        for _, revents in ready:
            self._check(_lib.nfs_service(self.ctx, revents))

    def fsync(self, fh: int) -> None:
        """COMMIT: the server writes what was written through ``fh`` to stable storage."""
        self._check(_lib.nfs_fsync(self.ctx, fh))

    def pread(self, fh: int, offset: int, count: int) -> bytes:
        buf = ctypes.create_string_buffer(count)
        n = self._check(_lib.nfs_pread(self.ctx, fh, offset, count, buf))
        return buf.raw[:n]

    def write_file(self, path: str, data: bytes, flags: int = os.O_CREAT | os.O_WRONLY) -> None:
        fh = self.open(path, flags)
        try:
            self.write(fh, data)
        finally:
            self.close_file(fh)

    def read_file(self, path: str) -> bytes:
        fh = self.open(path, os.O_RDONLY)
        try:
            return self.pread(fh, 0, self.stat(path).size)
        finally:
            self.close_file(fh)

    def stat(self, path: str, follow: bool = True) -> NfsStat:
        st = NfsStat()
        call = _lib.nfs_stat64 if follow else _lib.nfs_lstat64
        self._check(call(self.ctx, path.encode(), ctypes.byref(st)))
        return st

    def readlink(self, path: str) -> str:
        buf = ctypes.create_string_buffer(4096)
        self._check(_lib.nfs_readlink(self.ctx, path.encode(), buf, 4096))
        return buf.value.decode()

    def listdir(self, path: str) -> list[str]:
        d = _P()
        self._check(_lib.nfs_opendir(self.ctx, path.encode(), ctypes.byref(d)))
        names = []
        try:
            while entry := _lib.nfs_readdir(self.ctx, d):
                names.append(entry.contents.name.decode())
        finally:
            _lib.nfs_closedir(self.ctx, d)
        return sorted(set(names) - {".", ".."})

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        """Path operations: rename, unlink, mkdir, rmdir, chmod, symlink, link, ftruncate,
        lockf."""
        fn = getattr(_lib, f"nfs_{name}")

        def call(*args: object) -> int:
            return self._check(fn(self.ctx, *(a.encode() if isinstance(a, str) else a
                                               for a in args)))  # fmt: skip

        return call
