"""The runtime tells the server whether the log pipe still holds output (FIONREAD)."""

from __future__ import annotations

import os

from shoal.runtime.bootstrap import output_pending


def test_output_pending_follows_the_pipe() -> None:
    r, w = os.pipe()
    try:
        assert output_pending((w,)) is False
        os.write(w, b"printed\n")
        assert output_pending((w,)) is True
        os.read(r, 100)
        assert output_pending((w, w)) is False
    finally:
        os.close(r)
        os.close(w)


def test_output_pending_is_true_when_unsure() -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    assert output_pending((w,)) is True  # a closed fd: let the server read
