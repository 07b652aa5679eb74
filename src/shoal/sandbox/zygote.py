"""The server's handle on one fork server process (see :mod:`shoal.runtime.zygote`).

Owned by :class:`~shoal.sandbox.forkserver.ForkServerFactory` and used only from its event
loop. Requests carry an id and are answered in order by the single-threaded zygote; exit
reports arrive at any time and resolve the future returned by :meth:`exit_future`.
"""

from __future__ import annotations

import array
import asyncio
import collections
import contextlib
import itertools
import logging
import os
import signal
import socket
import subprocess
from typing import Any

from ..runtime import frames
from ..runtime.zygote import BOOT, RUNTIME_DIR
from .types import SpawnError

log = logging.getLogger(__name__)

MAX_FDS = 16  # per recvmsg; each reply carries 2


class ZygoteProcess:
    def __init__(self, runtime: str, interpreter: str) -> None:
        self.runtime = runtime
        self.interpreter = interpreter
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.base_root = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._decoder = frames.FrameDecoder()
        self._fds: collections.deque[int] = collections.deque()
        self._ids = itertools.count(1)
        self._hello: asyncio.Future[dict[str, Any]] | None = None
        # request id -> future of (reply header, received fds)
        self._pending: dict[int, asyncio.Future[tuple[dict[str, Any], list[int]]]] = {}
        # init pid -> future of its raw wait status (None: zygote gone, status unknown)
        self._exits: dict[int, asyncio.Future[int | None]] = {}
        self._lost = False

    @property
    def alive(self) -> bool:
        return not self._lost and self.proc is not None and self.proc.poll() is None

    async def start(self, timeout: float = 30.0) -> None:
        """exec the interpreter (from the loop's thread: PR_SET_PDEATHSIG follows the thread
        that forked it) and wait for its hello."""
        loop = self._loop = asyncio.get_running_loop()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [self.interpreter, "-I", "-S", "-c", BOOT, RUNTIME_DIR, str(child.fileno())],
                pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, close_fds=True)
        finally:
            child.close()
        parent.setblocking(False)
        self.sock = parent
        self._hello = loop.create_future()
        loop.add_reader(parent.fileno(), self._on_readable)
        try:
            hello = await asyncio.wait_for(self._hello, timeout)
        except (TimeoutError, SpawnError) as e:
            await self.stop()
            raise SpawnError(f"fork server for {self.runtime} ({self.interpreter}) did not "
                             f"start: {e or 'timeout'}") from None
        self.base_root = str(hello["root"])
        log.info("fork server for %s started: pid %s, python %s", self.runtime, hello["pid"],
                 hello["python"])

    def _on_readable(self) -> None:
        if self.sock is None:
            return
        try:
            data, anc, _flags, _addr = self.sock.recvmsg(
                1 << 16, socket.CMSG_SPACE(MAX_FDS * 4), socket.MSG_CMSG_CLOEXEC)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, anc = b"", []
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                self._fds.extend(fds)
        if not data:
            self._connection_lost()
            return
        try:
            for header, _ in self._decoder.feed(data):
                self._dispatch(header)
        except (frames.FrameError, ValueError) as e:
            log.error("fork server for %s sent a malformed frame: %s", self.runtime, e)
            self._connection_lost()

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

    def _connection_lost(self) -> None:
        if self._lost:
            return
        self._lost = True
        if self._loop is not None and self.sock is not None:
            self._loop.remove_reader(self.sock.fileno())
        err = SpawnError(f"fork server for {self.runtime} exited")
        if self._hello is not None and not self._hello.done():
            self._hello.set_exception(err)
            self._hello.exception()  # retrieved: start() reports it
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(err)
        self._pending.clear()
        for fut in self._exits.values():
            if not fut.done():
                fut.set_result(None)  # its environments died with it (PR_SET_PDEATHSIG)
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

    async def request(self, header: dict[str, Any],
                      timeout: float) -> tuple[dict[str, Any], list[int]]:
        if not self.alive or self.sock is None or self._loop is None:
            raise SpawnError(f"fork server for {self.runtime} is not running")
        rid = next(self._ids)
        waiter = self._loop.create_future()
        self._pending[rid] = waiter
        try:
            self.sock.setblocking(True)  # a request is a few hundred bytes: never blocks long
            try:
                self.sock.sendall(frames.encode({**header, "id": rid}))
            finally:
                self.sock.setblocking(False)
        except OSError as e:
            self._pending.pop(rid, None)
            self._connection_lost()
            raise SpawnError(f"fork server for {self.runtime}: {e}") from None
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

    async def stop(self, timeout: float = 10.0) -> None:
        """Ask the zygote to kill its environments and exit; SIGKILL it after ``timeout``."""
        if self.sock is not None and not self._lost:
            with contextlib.suppress(OSError):
                self.sock.setblocking(True)
                self.sock.sendall(frames.encode({"op": "stop"}))
                self.sock.shutdown(socket.SHUT_WR)
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGKILL)
                await asyncio.to_thread(proc.wait)
        self._connection_lost()
        if self.sock is not None:
            self.sock.close()
        if self.base_root:
            with contextlib.suppress(OSError):
                os.rmdir(self.base_root)  # the mount lived only in the zygote's namespace
