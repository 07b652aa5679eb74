"""The server's end of an environment's control socket: frames in, invoke frames out.

:class:`Control` is the socket's protocol: it queues the runtime's frames until the one waiting
call (:meth:`Control.next_frame`) takes them, refusing any frame over Lambda's response limit.
:class:`Deadlines` holds the timeouts of those waits, one loop timer per millisecond.
:class:`InvokeFrames` encodes the invoke requests written to the socket. Used by
:class:`~.environment.ForkServerEnvironment`, on the event loop only.
"""

from __future__ import annotations

import asyncio
import collections
import math
from json.encoder import encode_basestring_ascii

from ..runtime import errors as rt_errors
from ..runtime import frames
from .types import InvokeRequest


class Control(asyncio.Protocol):
    """Frames from the environment, queued until the one waiting call takes them.

    No frame from an environment may carry more than Lambda's response limit: the runtime
    replaces a bigger result by Lambda's error, so a bigger frame means the function got hold
    of the control socket. Its prefix alone closes the stream (``too_large``), and the body is
    never read into the server's memory."""

    def __init__(self) -> None:
        self.decoder = frames.FrameDecoder(max_body=rt_errors.RESPONSE_LIMIT)
        self.frames: collections.deque[frames.Frame] = collections.deque()
        self.closed = False
        self.too_large = False
        self.waiter: asyncio.Future[bool] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.frames.extend(self.decoder.feed(data))
        except frames.FrameTooLarge:
            self.too_large = self.closed = True
            if self.transport is not None:
                self.transport.abort()
        except (frames.FrameError, ValueError):
            self.closed = True  # a garbled stream is treated as a dead runtime
            if self.transport is not None:
                self.transport.abort()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        """A frame (or the end) arrived: resolve the waiter with True (a timeout gives False)."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    async def next_frame(
        self, loop: asyncio.AbstractEventLoop, timeout: float
    ) -> frames.Frame | None:
        """The next frame, or None once the environment closed its end; raises TimeoutError
        after ``timeout`` seconds without one. Not ``asyncio.wait_for`` (a task per call) nor a
        timer per call: this is the invoke path's one await (see :class:`Deadlines`)."""
        while not self.frames:
            if self.closed:
                return None
            waiter = self.waiter = loop.create_future()
            deadlines = Deadlines.of(loop)
            slot = deadlines.add(loop.time() + timeout, waiter)
            try:
                arrived = await waiter
            finally:
                deadlines.discard(slot, waiter)
                self.waiter = None
            if not arrived:
                raise TimeoutError
        return self.frames.popleft()


class Deadlines:
    """The timeouts of every reply wait on one event loop, grouped by the millisecond they fall
    in: one loop timer per millisecond that holds deadlines of waits in flight, rather than one
    per invocation (creating and cancelling a uvloop timer costs more than the rest of the
    wait; under load many waits share a millisecond). libuv's timers have millisecond
    resolution, so rounding up to it loses no precision.

    A wait's future gets ``False`` when its deadline passes; a reply sets it ``True`` first and
    the wait takes its future out of its slot; the last one out cancels the slot's timer."""

    _by_loop: dict[int, Deadlines] = {}  # id(loop) -> its instance (loop checked on use)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # millisecond -> (the waits due then, the timer that expires them)
        self.slots: dict[int, tuple[set[asyncio.Future[bool]], asyncio.TimerHandle]] = {}

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Deadlines:
        found = cls._by_loop.get(id(loop))
        if found is None or found.loop is not loop:
            found = cls._by_loop[id(loop)] = cls(loop)
        return found

    def add(self, when: float, waiter: asyncio.Future[bool]) -> int:
        """Arm ``waiter`` for loop time ``when``; returns its slot, for :meth:`discard`."""
        ms = math.ceil(when * 1000)
        slot = self.slots.get(ms)
        if slot is None:
            slot = self.slots[ms] = ({waiter}, self.loop.call_at(ms / 1000, self._expire, ms))
        else:
            slot[0].add(waiter)
        return ms

    def discard(self, ms: int, waiter: asyncio.Future[bool]) -> None:
        slot = self.slots.get(ms)
        if slot is not None:
            waits, timer = slot
            waits.discard(waiter)
            if not waits:
                timer.cancel()
                del self.slots[ms]

    def _expire(self, ms: int) -> None:
        slot = self.slots.pop(ms, None)
        for waiter in slot[0] if slot is not None else ():
            if not waiter.done():
                waiter.set_result(False)


class InvokeFrames:
    """Encodes invoke frames exactly as :func:`frames.encode` would from the header dict
    (``{"op", "request_id", "arn", "version", "deadline_ms", "client_context", "trace_id"}``,
    and ``"environment"`` when the request has variables to set, + payload),
    with the part that is the same for every invoke of one environment (its function's ARN and
    version) encoded once rather than through ``json.dumps`` each time."""

    def __init__(self) -> None:
        self._key: tuple[str, str] | None = None  # (arn, version) that _middle encodes
        self._middle = b""

    def encode(self, req: InvokeRequest, deadline_ms: int) -> bytes:
        key = (req.invoked_function_arn, req.function_version)
        if key != self._key:
            self._key = key
            self._middle = (
                f',"arn":{_json_str(key[0])},"version":{_json_str(key[1])},"deadline_ms":'
            ).encode()
        context = req.client_context
        trace = req.trace_id
        environment = req.environment
        head = b"".join(
            (
                b'{"op":"invoke","request_id":',
                _json_str(req.request_id).encode(),
                self._middle,
                str(deadline_ms).encode(),
                b',"client_context":',
                b"null" if context is None else _json_str(context).encode(),
                b',"trace_id":',
                b"null" if trace is None else _json_str(trace).encode(),
                b""
                if not environment
                else b',"environment":' + frames.encode_header(dict(environment)),
                b"}",
            )
        )
        return frames.pack(head, req.payload)


def _json_str(value: str) -> str:
    """A JSON string literal: what ``json.dumps`` makes of a str (ASCII-escaped)."""
    return encode_basestring_ascii(value)
