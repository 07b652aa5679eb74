"""The control-socket frame codec shared by the server and the runtime.

One message is ``[u32 header length][u32 body length][header][body]`` (big-endian lengths):
the header is a small JSON object (``{"op": "invoke", ...}``), the body the raw payload bytes,
never re-encoded, so an invoke costs one ``json`` round trip of a few fields plus two copies of
the payload.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any, Dict, Tuple  # noqa: UP035

PREFIX = struct.Struct(">II")
MAX_HEADER = 1 << 20  # a header is a handful of fields; anything bigger is a broken stream
MAX_BODY = 1 << 30

# Evaluated at run time on Python 3.8 too, hence typing's generics here.
Frame = Tuple[Dict[str, Any], bytes]  # noqa: UP006


class FrameError(Exception):
    """The byte stream is not a sequence of frames (peer bug or memory corruption)."""


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return PREFIX.pack(len(head), len(body)) + head + body


class FrameDecoder:
    """Incremental decoder: ``feed()`` bytes as they arrive, get back the complete frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buf
        buf += data
        frames: list[Frame] = []
        pos = 0
        while len(buf) - pos >= PREFIX.size:
            head_len, body_len = PREFIX.unpack_from(buf, pos)
            if head_len > MAX_HEADER or body_len > MAX_BODY:
                raise FrameError(f"frame too large: header {head_len} body {body_len}")
            end = pos + PREFIX.size + head_len + body_len
            if len(buf) < end:
                break
            start = pos + PREFIX.size
            header = json.loads(bytes(buf[start : start + head_len]))
            if not isinstance(header, dict):
                raise FrameError("frame header is not a JSON object")
            frames.append((header, bytes(buf[start + head_len : end])))
            pos = end
        if pos:
            del buf[:pos]
        return frames

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


def recv_frame(sock: socket.socket) -> Frame | None:
    """Blocking read of one frame; ``None`` on a clean end of stream."""
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
