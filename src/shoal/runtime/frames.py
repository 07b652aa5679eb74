"""The control-socket frame codec shared by the server and the runtime.

One message is ``[u32 header length][u32 body length][header][body]`` (big-endian lengths):
the header is a small JSON object (``{"op": "invoke", ...}``), the body the raw payload bytes,
never re-encoded, so an invoke costs one ``json`` round trip of a few fields plus two copies of
the payload.

Both ends read a frame with as few syscalls as they can (the invoke path's cost is mostly
syscalls and wake-ups): the runtime's :class:`FrameReader` takes a whole small frame in one
``recv``; the server's :class:`FrameDecoder` parses a chunk without copying it when the chunk is
exactly whole frames, and decodes a short header it has seen before (the runtime's replies are
a handful of fixed headers) with a dictionary look-up instead of the JSON parser.
"""

from __future__ import annotations

import array
import json
import select
import socket
import struct
from typing import Any, Dict, MutableSequence, Sequence, Tuple  # noqa: UP035

PREFIX = struct.Struct(">II")
MAX_HEADER = 1 << 20  # a header is a handful of fields; anything bigger is a broken stream
MAX_BODY = 1 << 30

# Evaluated at run time on Python 3.8 too, hence typing's generics here.
Frame = Tuple[Dict[str, Any], bytes]  # noqa: UP006


MAX_FDS = 16  # per recvmsg; a request or a reply carries at most 3


def send_with_fds(sock: socket.socket, data: bytes, fds: Sequence[int] = ()) -> None:
    """Send all of ``data`` on a blocking socket, ``fds`` attached to its first bytes."""
    if fds:
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        data = data[sock.sendmsg([data], anc) :]
    if data:
        sock.sendall(data)


def recv_with_fds(sock: socket.socket, fds: MutableSequence[int]) -> bytes:
    """One ``recvmsg``: the bytes (empty at end of stream), and the fds that came with them
    appended to ``fds`` in the order they were sent. An fd arrives with the first bytes of
    its message, so it is queued before that message can be decoded: messages claim their fds
    in order."""
    data, anc, _flags, _addr = sock.recvmsg(
        1 << 16, socket.CMSG_SPACE(MAX_FDS * 4), socket.MSG_CMSG_CLOEXEC
    )
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            received = array.array("i")
            received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
            fds.extend(received)
    return data


class FrameError(Exception):
    """The byte stream is not a sequence of frames (peer bug or memory corruption)."""


class FrameTooLarge(FrameError):
    """A frame announced a body over the reader's limit; nothing of it was kept."""

    def __init__(self, body_len: int, limit: int) -> None:
        super().__init__(f"frame body of {body_len} bytes over the limit of {limit}")
        self.body_len = body_len


def encode_header(header: dict[str, Any]) -> bytes:
    return json.dumps(header, separators=(",", ":")).encode()


def pack(head: bytes, body: bytes = b"") -> bytes:
    """A frame from an already encoded header (a sender may encode a fixed header once)."""
    return PREFIX.pack(len(head), len(body)) + head + body


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    return pack(encode_header(header), body)


# Headers up to this size are remembered, decoded, by the bytes they were sent as.
_CACHED_HEADER_MAX = 64
_CACHE_ENTRIES = 256


class FrameDecoder:
    """Incremental decoder: ``feed()`` bytes as they arrive, get back the complete frames.

    Each frame's header is a dict of its own (callers may change it). A frame whose prefix
    announces a body over ``max_body`` raises :class:`FrameTooLarge` as soon as the prefix is
    in, before its body is buffered: the stream is then unusable (the caller drops it)."""

    def __init__(self, max_body: int = MAX_BODY) -> None:
        self._buf = bytearray()
        self._headers: dict[bytes, dict[str, Any]] = {}
        self.max_body = max_body

    def feed(self, data: bytes) -> list[Frame]:
        if not self._buf:
            # The usual case: the chunk holds whole frames only; parse it in place.
            frames, pos = self._parse(data)
            if pos < len(data):
                self._buf += memoryview(data)[pos:]
            return frames
        buf = self._buf
        buf += data
        frames, pos = self._parse(buf)
        if pos:
            del buf[:pos]
        return frames

    def _parse(self, data: bytes | bytearray) -> tuple[list[Frame], int]:
        frames: list[Frame] = []
        pos = 0
        size = len(data)
        while size - pos >= PREFIX.size:
            head_len, body_len = PREFIX.unpack_from(data, pos)
            if head_len > MAX_HEADER:
                raise FrameError(f"frame too large: header {head_len} body {body_len}")
            if body_len > self.max_body:
                raise FrameTooLarge(body_len, self.max_body)
            start = pos + PREFIX.size
            end = start + head_len + body_len
            if size < end:
                break
            raw = bytes(data[start : start + head_len])
            frames.append((self._header(raw), bytes(data[start + head_len : end])))
            pos = end
        return frames, pos

    def _header(self, raw: bytes) -> dict[str, Any]:
        cached = self._headers.get(raw)
        if cached is not None:
            return dict(cached)
        header = json.loads(raw)
        if not isinstance(header, dict):
            raise FrameError("frame header is not a JSON object")
        if (
            len(raw) <= _CACHED_HEADER_MAX
            and len(self._headers) < _CACHE_ENTRIES
            and not any(isinstance(v, (dict, list)) for v in header.values())
        ):
            self._headers[raw] = dict(header)  # flat: a copy is a fresh header
        return header

    @property
    def pending(self) -> int:
        return len(self._buf)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    if n == 0:
        return b""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            if got == 0:
                return None
            raise FrameError("connection closed inside a frame")
        got += k
    return bytes(buf)


class FrameReader:
    """Blocking reads of whole frames from a socket that only this reader reads.

    A frame that fits the buffer (every header, and payloads up to its size) costs one
    ``recv`` when the peer sent it in one write, instead of one for the prefix and one for the
    rest; bigger frames are read straight into a buffer of their own size.

    It waits for data in ``poll`` (for POLLIN), not in a blocking ``recv``: a task asleep in
    ``recv`` on a Unix stream socket is also woken each time the peer *reads* what this side
    sent (the kernel's write-space wake-up knows no event mask), so every request-reply round
    cost the runtime a second, useless wake-up and the server the IPI that made it. ``poll``
    waiters are woken only for the events they asked for.
    """

    def __init__(self, sock: socket.socket, size: int = 1 << 16) -> None:
        self.sock = sock
        self._buf = bytearray(size)
        self._view = memoryview(self._buf)
        self._start = 0  # unread bytes are _buf[_start:_end]
        self._end = 0
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN)

    def recv(self) -> Frame | None:
        """The next frame; ``None`` on a clean end of stream (between frames)."""
        buf = self._buf
        while True:
            start, end = self._start, self._end
            if end - start >= PREFIX.size:
                head_len, body_len = PREFIX.unpack_from(buf, start)
                if head_len > MAX_HEADER or body_len > MAX_BODY:
                    raise FrameError(f"frame too large: header {head_len} body {body_len}")
                total = PREFIX.size + head_len + body_len
                if end - start >= total:
                    head = start + PREFIX.size
                    # Headers are ASCII JSON (encode_header): decoded here, json.loads would
                    # first sniff bytes for UTF-16/32.
                    header = json.loads(str(self._view[head : head + head_len], "utf-8"))
                    if not isinstance(header, dict):
                        raise FrameError("frame header is not a JSON object")
                    body = bytes(self._view[head + head_len : start + total])
                    self._start = start + total
                    if self._start == end:
                        self._start = self._end = 0
                    return header, body
                if total > len(buf):
                    return self._recv_large(head_len, body_len)
            if start and (end == start or len(buf) - end < len(buf) // 4):
                # Move the partial frame to the front so that the rest fits after it.
                buf[: end - start] = self._view[start:end]
                self._start, self._end = 0, end - start
            self._poll.poll()  # readable, closed or broken: recv says which
            n = self.sock.recv_into(self._view[self._end :])
            if n == 0:
                if self._end == self._start:
                    return None
                raise FrameError("connection closed inside a frame")
            self._end += n

    def _recv_large(self, head_len: int, body_len: int) -> Frame:
        """A frame bigger than the buffer: what is buffered, then the rest straight in."""
        have = self._view[self._start + PREFIX.size : self._end]
        rest = bytearray(head_len + body_len)
        rest[: len(have)] = have
        view = memoryview(rest)
        got = len(have)
        self._start = self._end = 0
        while got < len(rest):
            self._poll.poll()
            k = self.sock.recv_into(view[got:])
            if k == 0:
                raise FrameError("connection closed inside a frame")
            got += k
        header = json.loads(bytes(view[:head_len]))
        if not isinstance(header, dict):
            raise FrameError("frame header is not a JSON object")
        return header, bytes(view[head_len:])


def recv_frame(sock: socket.socket) -> Frame | None:
    """Blocking read of one frame, reading nothing beyond it; ``None`` on a clean end of
    stream. For a stream of frames, :class:`FrameReader` costs fewer syscalls."""
    prefix = _recv_exact(sock, PREFIX.size)
    if prefix is None:
        return None
    head_len, body_len = PREFIX.unpack(prefix)
    if head_len > MAX_HEADER or body_len > MAX_BODY:
        raise FrameError(f"frame too large: header {head_len} body {body_len}")
    head = _recv_exact(sock, head_len + body_len)
    if head is None:
        raise FrameError("connection closed inside a frame")
    header = json.loads(head[:head_len])
    if not isinstance(header, dict):
        raise FrameError("frame header is not a JSON object")
    return header, head[head_len:]


def send_frame(sock: socket.socket, header: dict[str, Any], body: bytes = b"") -> None:
    sock.sendall(encode(header, body))
