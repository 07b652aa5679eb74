"""Reply-wait deadlines: grouped by millisecond, expired in time, cancelled when done.

Expiry is driven by calling the slot's timer callback, or by a zero timeout: no sleeps, no timing
assertions."""

from __future__ import annotations

import asyncio

import pytest

from shoal.runtime import frames
from shoal.sandbox.control import Control, Deadlines


@pytest.fixture
def loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    yield loop  # type: ignore[misc]
    loop.close()


def test_waits_due_in_one_millisecond_share_a_timer(loop: asyncio.AbstractEventLoop) -> None:
    d = Deadlines(loop)
    a, b, c = (loop.create_future() for _ in range(3))
    assert d.add(10.0001, a) == d.add(10.0009, b) == 10001  # rounded up, never early
    d.add(10.0011, c)
    assert set(d.slots) == {10001, 10002}
    d._expire(10001)
    assert a.result() is False and b.result() is False and not c.done()
    assert set(d.slots) == {10002}


def test_a_reply_before_the_deadline_cancels_the_last_timer(
    loop: asyncio.AbstractEventLoop,
) -> None:
    d = Deadlines(loop)
    a, b = loop.create_future(), loop.create_future()
    ms = d.add(5.0, a)
    d.add(5.0, b)
    timer = d.slots[ms][1]
    a.set_result(True)
    d.discard(ms, a)
    assert not timer.cancelled()  # b still waits
    d.discard(ms, b)
    assert timer.cancelled() and not d.slots
    d._expire(ms)  # a timer that fired anyway finds nothing to do
    assert not b.done()


def test_one_instance_per_loop(loop: asyncio.AbstractEventLoop) -> None:
    assert Deadlines.of(loop) is Deadlines.of(loop)
    other = asyncio.new_event_loop()
    try:
        assert Deadlines.of(other) is not Deadlines.of(loop)
    finally:
        other.close()


def test_next_frame_times_out_and_returns_frames(loop: asyncio.AbstractEventLoop) -> None:
    control = Control()

    async def scenario() -> None:
        with pytest.raises(TimeoutError):
            await control.next_frame(loop, 0.0)
        assert not Deadlines.of(loop).slots
        waiting = loop.create_task(control.next_frame(loop, 60.0))
        await asyncio.sleep(0)
        control.data_received(frames.encode({"op": "result", "ok": True}, b"1"))
        assert await waiting == ({"op": "result", "ok": True}, b"1")
        assert not Deadlines.of(loop).slots  # the 60 s timer went with the reply
        control.connection_lost(None)
        assert await control.next_frame(loop, 60.0) is None

    loop.run_until_complete(scenario())
