"""The server's end of a fork server's socket: the zygote's (:mod:`.zygote`) or a snapshot
template's (:mod:`.template`). Both speak the same protocol (:mod:`shoal.runtime.zygote`,
:mod:`shoal.runtime.template`).

Used only from the event loop that opened it. Requests carry an id and are answered in order
by the single-threaded peer, possibly with fds (SCM_RIGHTS) that :meth:`request` returns with
the reply; ``{"op": "exit", "pid", "status"}`` reports arrive at any time and resolve the
future returned by :meth:`exit_future`. When the peer goes away every pending request fails
with :class:`SpawnError` and every exit future resolves to ``None`` (status unknown).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

from ..runtime import frames
from .types import SpawnError

log = logging.getLogger(__name__)


class ForkChannel:
    def __init__(self, name: str) -> None:
        self.name = name  # "fork server for python3.11", for messages
        self.sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._decoder = frames.FrameDecoder()
        self._fds: collections.deque[int] = collections.deque()
        self._ids = itertools.count(1)
        self._hello: asyncio.Future[dict[str, Any]] | None = None
        # request id -> future of (reply header, received fds)
        self._pending: dict[int, asyncio.Future[tuple[dict[str, Any], list[int]]]] = {}
        # child pid (in the peer's namespace) -> future of its raw wait status (None: unknown)
        self._exits: dict[int, asyncio.Future[int | None]] = {}
        self._lost = False

    def open(self, sock: socket.socket, expect_hello: bool = False) -> None:
        loop = self._loop = asyncio.get_running_loop()
        sock.setblocking(False)
        self.sock = sock
        if expect_hello:
            self._hello = loop.create_future()
        loop.add_reader(sock.fileno(), self._on_readable)

    @property
    def lost(self) -> bool:
        return self._lost

    async def hello(self, timeout: float) -> dict[str, Any]:
        assert self._hello is not None, "open(expect_hello=True) first"
        return await asyncio.wait_for(self._hello, timeout)

    def _on_readable(self) -> None:
        if self.sock is None:
            return
        try:
            data = frames.recv_with_fds(self.sock, self._fds)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.connection_lost()
            return
        try:
            for header, _ in self._decoder.feed(data):
                self._dispatch(header)
        except (frames.FrameError, ValueError) as e:
            log.error("%s sent a malformed frame: %s", self.name, e)
            self.connection_lost()

    def _dispatch(self, header: dict[str, Any]) -> None:
        op = header.get("op")
        if op == "hello":
            if self._hello is not None and not self._hello.done():
                self._hello.set_result(header)
        elif op == "exit":
            fut = self.exit_future(int(header["pid"]))
            if not fut.done():
                fut.set_result(int(header["status"]))
        else:
            fds = [self._fds.popleft() for _ in range(int(header.get("nfds", 0)))]
            waiter = self._pending.pop(int(header.get("id") or 0), None)
            if waiter is None or waiter.done():
                for fd in fds:
                    os.close(fd)
                return
            waiter.set_result((header, fds))

    def connection_lost(self) -> None:
        if self._lost:
            return
        self._lost = True
        if self._loop is not None and self.sock is not None:
            self._loop.remove_reader(self.sock.fileno())
        err = SpawnError(f"{self.name} exited")
        if self._hello is not None and not self._hello.done():
            self._hello.set_exception(err)
            self._hello.exception()  # retrieved: hello() reports it
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(err)
        self._pending.clear()
        for fut in self._exits.values():
            if not fut.done():
                fut.set_result(None)  # its children died with it (PR_SET_PDEATHSIG)
        while self._fds:
            os.close(self._fds.popleft())

    def exit_future(self, pid: int) -> asyncio.Future[int | None]:
        fut = self._exits.get(pid)
        if fut is None:
            loop = self._loop or asyncio.get_running_loop()
            fut = self._exits[pid] = loop.create_future()
            if self._lost:
                fut.set_result(None)
        return fut

    def forget(self, pid: int) -> None:
        self._exits.pop(pid, None)

    async def request(
        self, header: dict[str, Any], timeout: float, fds: Sequence[int] = ()
    ) -> tuple[dict[str, Any], list[int]]:
        """Send one request (with ``fds`` attached) and wait for its reply and fds."""
        if self._lost or self.sock is None or self._loop is None:
            raise SpawnError(f"{self.name} is not running")
        rid = next(self._ids)
        waiter = self._loop.create_future()
        self._pending[rid] = waiter
        data = frames.encode({**header, "id": rid})
        try:
            self.sock.setblocking(True)  # a request is a few hundred bytes: never blocks long
            try:
                frames.send_with_fds(self.sock, data, fds)
            finally:
                self.sock.setblocking(False)
        except OSError as e:
            self._pending.pop(rid, None)
            self.connection_lost()
            raise SpawnError(f"{self.name}: {e}") from None
        try:
            return await asyncio.wait_for(waiter, timeout)
        finally:
            self._pending.pop(rid, None)

    async def ping(self, timeout: float = 5.0) -> bool:
        try:
            reply, _ = await self.request({"op": "ping"}, timeout)
        except (TimeoutError, SpawnError):
            return False
        return reply.get("op") == "pong"

    def close(self) -> None:
        """Stop reading and close the socket: the peer sees end of file."""
        self.connection_lost()
        if self.sock is not None:
            self.sock.close()
