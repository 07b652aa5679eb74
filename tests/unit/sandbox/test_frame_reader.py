"""The runtime's FrameReader (one recv per small frame) and the server decoder's fast paths."""

from __future__ import annotations

import os
import socket

import pytest

from shoal.runtime import frames

DEV_NULL = os.open(os.devnull, os.O_RDONLY)


class CountingSocket:
    """A socket stand-in that hands out a byte string in the chunk sizes given, counting
    recv_into calls. Its fileno (for the reader's poll) is /dev/null: always readable."""

    def __init__(self, data: bytes, chunks: list[int] | None = None) -> None:
        self.data = data
        self.chunks = list(chunks or [])
        self.calls = 0

    def fileno(self) -> int:
        return DEV_NULL

    def recv_into(self, view: memoryview, nbytes: int = 0) -> int:
        self.calls += 1
        size = min(len(view), len(self.data))
        if self.chunks:
            size = min(size, self.chunks.pop(0))
        view[:size] = self.data[:size]
        self.data = self.data[size:]
        return size


def test_small_frame_is_one_recv() -> None:
    sock = CountingSocket(frames.encode({"op": "invoke", "request_id": "r"}, b'{"k": 1}'))
    reader = frames.FrameReader(sock)  # type: ignore[arg-type]
    assert reader.recv() == ({"op": "invoke", "request_id": "r"}, b'{"k": 1}')
    assert sock.calls == 1
    assert reader.recv() is None  # clean end between frames


def test_coalesced_split_and_large_frames() -> None:
    big = bytes(range(256)) * 1000  # larger than the reader's buffer
    stream = (
        frames.encode({"n": 1}, b"a")
        + frames.encode({"n": 2}, big)
        + frames.encode({"n": 3})
        + frames.encode({"n": 4}, b"x" * 3000)
    )
    for chunks in ([], [1] * 40 + [7, 5000, 3], [len(stream)]):
        reader = frames.FrameReader(CountingSocket(stream, chunks), size=4096)  # type: ignore[arg-type]
        got = [reader.recv() for _ in range(4)]
        assert got == [({"n": 1}, b"a"), ({"n": 2}, big), ({"n": 3}, b""), ({"n": 4}, b"x" * 3000)]
        assert reader.recv() is None


def test_reader_reports_truncation_and_garbage() -> None:
    whole = frames.encode({"op": "x"}, b"body")
    reader = frames.FrameReader(CountingSocket(whole[:-2]))  # type: ignore[arg-type]
    with pytest.raises(frames.FrameError):
        reader.recv()
    bad = b"[1]"
    reader = frames.FrameReader(CountingSocket(frames.PREFIX.pack(len(bad), 0) + bad))  # type: ignore[arg-type]
    with pytest.raises(frames.FrameError):
        reader.recv()
    reader = frames.FrameReader(CountingSocket(frames.PREFIX.pack(frames.MAX_HEADER + 1, 0)))  # type: ignore[arg-type]
    with pytest.raises(frames.FrameError):
        reader.recv()


def test_reader_over_a_real_socketpair() -> None:
    a, b = socket.socketpair()
    with a, b:
        reader = frames.FrameReader(b)
        for i in range(3):
            frames.send_frame(a, {"op": "result", "i": i}, b"y" * (i * 50_000))
            assert reader.recv() == ({"op": "result", "i": i}, b"y" * (i * 50_000))
        a.shutdown(socket.SHUT_WR)
        assert reader.recv() is None


def test_decoder_gives_each_frame_its_own_header() -> None:
    dec = frames.FrameDecoder()
    data = frames.encode({"op": "result", "ok": True}, b"1") * 2
    (h1, b1), (h2, b2) = dec.feed(data)
    assert h1 == h2 == {"op": "result", "ok": True} and b1 == b2 == b"1"
    h1["op"] = "changed"  # a caller may change its header: the next one is unaffected
    ((h3, _),) = dec.feed(frames.encode({"op": "result", "ok": True}))
    assert h3 == {"op": "result", "ok": True} and h2 is not h3


def test_decoder_keeps_a_partial_frame_from_the_fast_path() -> None:
    dec = frames.FrameDecoder()
    data = frames.encode({"n": 1}, b"a") + frames.encode({"n": 2}, b"bb")
    assert dec.feed(data[:-3]) == [({"n": 1}, b"a")]
    assert dec.pending == len(frames.encode({"n": 2}, b"bb")) - 3
    assert dec.feed(data[-3:]) == [({"n": 2}, b"bb")]
    assert dec.pending == 0
