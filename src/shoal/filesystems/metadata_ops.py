"""Counting a file system's metadata operations with fanotify, off the data path.

EFS meters metadata I/O (``MetadataIOBytes``) apart from data. The block counters cannot tell
ext4's metadata blocks from file data, so the count comes from fanotify: one group per file
system, marked with ``FAN_MARK_FILESYSTEM`` on its volume (the whole superblock: every mount of
it — functions' bind mounts, host mounts, NFS-Ganesha — reports), as a notification-only
class (``FAN_CLASS_NOTIF``: the kernel queues an event and never waits for the reader, so no
operation is slowed) with ``FAN_REPORT_FID`` (events carry a file handle, not an open file
descriptor, so reading them opens nothing, and the directory-entry events — create, delete,
move — can be had at all). Counted: ``FAN_OPEN`` (a lookup and an open, what an NFS OPEN
meters), ``FAN_CREATE``, ``FAN_DELETE``, ``FAN_MOVED_FROM``/``FAN_MOVED_TO`` (a rename is
two), ``FAN_ATTRIB`` (chmod, chown, utimes, link count), on files and directories
(``FAN_ONDIR``). Each is metered as :data:`shoal.filesystems.throughput.METADATA_OP_BYTES`.

ctypes rather than a package: the two calls are all that is needed, glibc has them, and the
Python packages that wrap fanotify either predate ``FAN_REPORT_FID`` or bring a C build.

The server's own operations are not counted: the event's pid is the process that caused it,
and Shoal's housekeeping in a volume (the headroom ballast, opened every tick; the size walk,
which opens every directory) is no client I/O — counted, it metered a few operations a second
on an idle file system. Functions, Ganesha, host-mount users and the CLI are other processes.

Limits, documented: ``stat``, ``readdir`` and ``getxattr`` raise no fanotify event, so they
are not metered; the kernel merges an event with an identical one still queued for the same
object, so a burst of ``chmod`` on one file may count once (a lower bound); past the queue's
16,384 events (read every second) an overflow is counted as that many. Only a file system on
its own volume is marked: marking the data directory's shared disk would count other trees.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
from pathlib import Path

FAN_CLOEXEC = 0x1
FAN_NONBLOCK = 0x2
FAN_CLASS_NOTIF = 0x0
FAN_REPORT_FID = 0x200
FAN_MARK_ADD = 0x1
FAN_MARK_FILESYSTEM = 0x100
FAN_ATTRIB = 0x4
FAN_OPEN = 0x20
FAN_MOVED_FROM = 0x40
FAN_MOVED_TO = 0x80
FAN_CREATE = 0x100
FAN_DELETE = 0x200
FAN_Q_OVERFLOW = 0x4000
FAN_ONDIR = 0x40000000
AT_FDCWD = -100
MASK = FAN_OPEN | FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ATTRIB | FAN_ONDIR
QUEUE_LIMIT = 16384
# struct fanotify_event_metadata: event_len u32, vers u8, reserved u8, metadata_len u16,
# mask u64, fd s32, pid s32.
_HEADER = struct.Struct("=IBBHQii")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.fanotify_init.argtypes = [ctypes.c_uint, ctypes.c_uint]
_libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int,
                                ctypes.c_char_p]  # fmt: skip


class MetadataCounter:
    """Metadata operations on the file system that holds ``root`` since the last :meth:`take`.

    Not thread-safe; the owner (:mod:`shoal.filesystems.io_metrics`) reads it from one place.
    :meth:`close` is idempotent.
    """

    def __init__(self, root: str | Path) -> None:
        fd = _libc.fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_NONBLOCK | FAN_CLOEXEC,
                                 os.O_RDONLY)  # fmt: skip
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"fanotify_init: {os.strerror(e)}")
        self._fd: int | None = fd
        self._server = os.getpid()  # events report the thread group, so any of its threads
        flags = FAN_MARK_ADD | FAN_MARK_FILESYSTEM
        if _libc.fanotify_mark(fd, flags, MASK, AT_FDCWD, os.fsencode(str(root))) < 0:
            e = ctypes.get_errno()
            os.close(fd)
            self._fd = None
            raise OSError(e, f"fanotify_mark {root}: {os.strerror(e)}")

    def take(self) -> int:
        """The operations queued since the last call (draining the queue)."""
        if self._fd is None:
            return 0
        count = 0
        while True:
            try:
                buf = os.read(self._fd, 65536)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    return count
                raise
            if not buf:
                return count
            offset = 0
            while offset + _HEADER.size <= len(buf):
                length, _vers, _res, _meta, mask, fd, pid = _HEADER.unpack_from(buf, offset)
                if length < _HEADER.size:
                    break
                if fd >= 0:
                    os.close(fd)  # never with FAN_REPORT_FID; closed should a kernel send one
                if mask & FAN_Q_OVERFLOW:
                    count += QUEUE_LIMIT
                elif pid != self._server:
                    # A rename reports MOVED_FROM and MOVED_TO in one event: two operations.
                    count += bin(mask & ~FAN_ONDIR & MASK).count("1") or 1
                offset += length

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
