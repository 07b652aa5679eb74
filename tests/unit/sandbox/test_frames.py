from __future__ import annotations

import socket

import pytest

from shoal.runtime import frames


def test_encode_decode_round_trip_keeps_body_raw() -> None:
    body = bytes(range(256)) * 3
    data = frames.encode({"op": "invoke", "request_id": "r"}, body)
    assert data[:8] == frames.PREFIX.pack(len(data) - 8 - len(body), len(body))
    assert frames.FrameDecoder().feed(data) == [({"op": "invoke", "request_id": "r"}, body)]


def test_decoder_handles_split_and_coalesced_frames() -> None:
    stream = (
        frames.encode({"n": 1}, b"a") + frames.encode({"n": 2}) + frames.encode({"n": 3}, b"cc")
    )
    dec = frames.FrameDecoder()
    got = []
    for i in range(len(stream)):
        got += dec.feed(stream[i : i + 1])
    assert got == [({"n": 1}, b"a"), ({"n": 2}, b""), ({"n": 3}, b"cc")]
    assert dec.pending == 0


def test_decoder_rejects_oversized_and_non_object_headers() -> None:
    with pytest.raises(frames.FrameError):
        frames.FrameDecoder().feed(frames.PREFIX.pack(frames.MAX_HEADER + 1, 0))
    bad = b"[1]"
    with pytest.raises(frames.FrameError):
        frames.FrameDecoder().feed(frames.PREFIX.pack(len(bad), 0) + bad)


def test_blocking_send_and_recv_over_a_socketpair() -> None:
    a, b = socket.socketpair()
    with a, b:
        frames.send_frame(a, {"op": "result", "ok": True}, b"x" * 100_000)
        assert frames.recv_frame(b) == ({"op": "result", "ok": True}, b"x" * 100_000)
        a.shutdown(socket.SHUT_WR)
        assert frames.recv_frame(b) is None


def test_recv_frame_reports_truncated_stream() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(frames.encode({"op": "x"}, b"body")[:-2])
        a.shutdown(socket.SHUT_WR)
        with pytest.raises(frames.FrameError):
            frames.recv_frame(b)


def test_decoder_refuses_a_body_over_its_limit_from_the_prefix_alone() -> None:
    dec = frames.FrameDecoder(max_body=10)
    assert dec.feed(frames.encode({"op": "result"}, b"x" * 10)) == [({"op": "result"}, b"x" * 10)]
    big = frames.encode({"op": "result"}, b"x" * 11)
    assert dec.feed(big[:5]) == []  # a prefix cut short: waits for the rest of it
    with pytest.raises(frames.FrameTooLarge) as info:
        dec.feed(big[5:8])  # the prefix is whole: refused before any of the body
    assert info.value.body_len == 11 and isinstance(info.value, frames.FrameError)
