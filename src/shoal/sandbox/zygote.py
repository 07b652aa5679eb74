"""The server's handle on one fork server process (see :mod:`shoal.runtime.zygote`).

Owned by :class:`~shoal.sandbox.forkserver.ForkServerFactory` and used only from its event
loop. The socket protocol (requests with ids answered in order, fds, exit reports) is the
:class:`~shoal.sandbox.channel.ForkChannel`'s; this class adds the process: exec, hello, stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
from dataclasses import dataclass

from ..runtime import frames
from ..runtime.zygote import BOOT, RUNTIME_DIR
from . import seccomp
from .channel import ForkChannel
from .types import SpawnError

log = logging.getLogger(__name__)

# The fork server's whole environment. Every environment process is a fork of it, and the
# kernel shows a process's original environment in /proc/PID/environ: nothing of the server's
# (its PATH into a virtual environment, its working directory, HOME) may be there to read.
ZYGOTE_ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class BaseExtras:
    """Host files the fork server puts in the environments' base root (see
    :func:`shoal.runtime.rootfs.prepare_base`): the AWS SDK's site directory (bound read-only)
    and the CA the environments trust for Shoal's API under TLS (copied)."""

    sdk_dir: str | None = None
    ca_file: str | None = None

    def argument(self) -> str:
        return json.dumps({"sdk_dir": self.sdk_dir, "ca_file": self.ca_file})


class ZygoteProcess(ForkChannel):
    def __init__(self, runtime: str, interpreter: str, base: BaseExtras | None = None) -> None:
        super().__init__(f"fork server for {runtime}")
        self.runtime = runtime
        self.interpreter = interpreter
        self.base = base if base is not None else BaseExtras()
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_root = ""

    @property
    def alive(self) -> bool:
        return not self.lost and self.proc is not None and self.proc.poll() is None

    async def start(self, timeout: float = 30.0) -> None:
        """exec the interpreter (from the loop's thread: PR_SET_PDEATHSIG follows the thread
        that forked it) and wait for its hello."""
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [self.interpreter, "-I", "-S", "-c", BOOT, RUNTIME_DIR, str(child.fileno()),
                 self.base.argument()],
                pass_fds=[child.fileno()],
                stdin=subprocess.DEVNULL,
                close_fds=True,
                env=ZYGOTE_ENVIRONMENT,
                # Not the server's private 077: functions' files on file systems and in /tmp get
                # the usual modes (the environments inherit it; see shoal.datadir).
                umask=0o022,
            )
        finally:
            child.close()
        self.open(parent, expect_hello=True)
        try:
            hello = await self.hello(timeout)
        except (TimeoutError, SpawnError) as e:
            await self.stop()
            raise SpawnError(
                f"fork server for {self.runtime} ({self.interpreter}) did not "
                f"start: {e or 'timeout'}"
            ) from None
        self.base_root = str(hello["root"])
        await self._send_filters(timeout)
        log.info(
            "fork server for %s started: pid %s, python %s",
            self.runtime,
            hello["pid"],
            hello["python"],
        )

    async def _send_filters(self, timeout: float) -> None:
        """The seccomp filters, compiled here once (libseccomp is the server's, never inside
        an environment); the zygote refuses to spawn before it has them."""
        programs = await asyncio.to_thread(seccomp.programs)  # once; off the event loop
        request = {"op": "seccomp", "strict": programs.strict.hex()}
        request["template"] = programs.template.hex()
        try:
            reply, _ = await self.request(request, timeout)
        except (TimeoutError, SpawnError) as e:
            reply = {"error": str(e) or "timeout"}
        if reply.get("op") != "seccomp_ready":
            await self.stop()
            raise SpawnError(
                f"fork server for {self.runtime} refused its seccomp filter: {reply.get('error')}"
            )

    async def stop(self, timeout: float = 10.0) -> None:
        """Ask the zygote to kill its environments and exit; SIGKILL it after ``timeout``."""
        if self.sock is not None and not self.lost:
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
        self.close()
        if self.base_root:
            with contextlib.suppress(OSError):
                os.rmdir(self.base_root)  # the mount lived only in the zygote's namespace
