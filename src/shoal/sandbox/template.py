"""Snapshot templates: an environment whose init ran once, from which new environments fork.

A :class:`SnapshotTemplate` is a template environment (spawned by the zygote with a fork
channel, initialised, its before-snapshot hooks run: state TEMPLATE) plus the server's end of
that channel. :meth:`SnapshotTemplate.restore` makes one new environment from it; the steps
inside, and why they use a user namespace, are in :mod:`shoal.runtime.restore`. The server's
share of each restore:

1. create the environment's cgroups; a control socket pair with SO_PASSCRED on our end; a pipe
2. send ``fork`` with the child ends (SCM_RIGHTS) and the variables that differ from the
   template's; the template answers with the fork's pid in its own PID namespace, under which
   it will report the environment's exit status
3. receive the fork's ``hello``: the kernel attaches its pid *as seen here*
   (SCM_CREDENTIALS), which no process inside could tell us. That process (C) is the
   environment's pid for the server: killing it takes the environment down.
4. write that pid into the cgroups, answer ``joined``; then wait for ``ready`` as for any
   environment (:meth:`ForkServerEnvironment.attach`)

A restored environment lives in a PID namespace nested in the template's: destroying the
template kills them all. So a template is destroyed only when it is retired *and* has no
restored environment left, or after it has been idle and childless for ``idle_s``
(:class:`~shoal.sandbox.snapshots.SnapshotCache`). Used only from the factory's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from ..runtime import frames
from .api import OutputCallback
from .cgroups import Cgroups, EnvCgroup
from .channel import ForkChannel
from .environment import ForkServerEnvironment, State
from .types import EnvironmentSpec, InitResult, SandboxError, SpawnError

UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid

# What must be equal between a template and the environments restored from it: everything
# that the fork inherits instead of building anew.
SHARED_FIELDS = ("runtime", "code_dir", "handler", "uid", "gid", "groups", "mounts")


class SnapshotFailed(SandboxError):
    """The template's init or before-snapshot hooks failed; ``error`` is the error document."""

    def __init__(self, error: dict[str, Any], init: InitResult | None = None) -> None:
        super().__init__(f"{error.get('errorType')}: {error.get('errorMessage')}")
        self.error = error
        self.init = init


class SnapshotTemplate:
    def __init__(
        self,
        env: ForkServerEnvironment,
        channel: ForkChannel,
        init: InitResult,
        cgroups: Cgroups,
        timeout: float,
    ) -> None:
        self.env = env
        self.spec = env.spec
        self.channel = channel
        self.init = init  # the one init, run in the template
        self.children: dict[str, ForkServerEnvironment] = {}  # env_id -> restored environment
        self.retired = False
        self.last_used = time.monotonic()
        self.on_childless: Callable[[SnapshotTemplate], None] | None = None
        self._cgroups = cgroups
        self._timeout = timeout

    @property
    def alive(self) -> bool:
        return self.env.state is State.TEMPLATE and not self.channel.lost

    def check_compatible(self, spec: EnvironmentSpec) -> None:
        for name in SHARED_FIELDS:
            if getattr(spec, name) != getattr(self.spec, name):
                raise SpawnError(
                    f"environment {spec.env_id} differs from its template in "
                    f"{name}: a snapshot start inherits it"
                )

    async def restore(
        self, spec: EnvironmentSpec, on_output: OutputCallback, on_destroyed: Callable[[], None]
    ) -> ForkServerEnvironment:
        """A new environment forked from this template, ready for ``init`` (which runs the
        after-restore hooks). Raises SpawnError, leaving nothing behind."""
        if not self.alive:
            raise SpawnError(f"snapshot template {self.env.env_id} is not running")
        self.check_compatible(spec)
        self.last_used = time.monotonic()
        cgroup = self._cgroups.create(spec.env_id, spec.memory_mb)
        try:
            parent, log_r, tpid = await self._fork(spec)
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        exit_future = self.channel.exit_future(tpid)
        try:
            header, host_pid = await _receive_hello(parent, self._timeout)
            if header is None or header.get("op") != "hello" or not host_pid:
                why = header.get("error") if header else "it exited"
                raise SpawnError(f"environment {spec.env_id} failed to start: {why}")
        except BaseException:
            parent.close()  # the fork sees end of file and exits
            os.close(log_r)
            self.channel.forget(tpid)
            if cgroup is not None:
                cgroup.remove()
            raise

        def destroyed() -> None:
            self.children.pop(spec.env_id, None)
            self.channel.forget(tpid)
            on_destroyed()
            if not self.children and self.on_childless is not None:
                self.on_childless(self)

        env = ForkServerEnvironment(
            spec, host_pid, log_r, cgroup, exit_future, on_output, destroyed, self.env.network
        )
        self.children[spec.env_id] = env
        try:
            _join(cgroup, host_pid)
            parent.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 0)
            parent.setblocking(True)
            parent.sendall(frames.encode({"op": "joined"}))
        except BaseException as e:
            parent.close()
            await env.destroy()
            raise SpawnError(f"environment {spec.env_id}: {e}") from None
        env.begin_network()  # its namespace exists (step C3): overlap the set-up with C6-W3
        await env.attach(parent, self._timeout)  # destroys it and raises SpawnError on failure
        return env

    async def _fork(self, spec: EnvironmentSpec) -> tuple[socket.socket, int, int]:
        """Step 2: returns (control parent end, log read end, pid in the template)."""
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        parent.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        log_r, log_w = os.pipe()
        old, new = self.spec.environment, spec.environment
        request = {
            "env_id": spec.env_id,
            "ephemeral_mb": spec.ephemeral_mb,
            "env_set": {k: v for k, v in new.items() if old.get(k) != v},
            "env_unset": [k for k in old if k not in new],
        }
        try:
            reply, _ = await self.channel.request(
                {"op": "fork", "spec": request}, self._timeout, [child.fileno(), log_w]
            )
        except BaseException:
            parent.close()
            os.close(log_r)
            raise
        finally:
            child.close()
            os.close(log_w)
        if reply.get("op") != "forked":
            parent.close()
            os.close(log_r)
            raise SpawnError(f"environment {spec.env_id}: {reply.get('error', reply)}")
        return parent, log_r, int(reply["pid"])

    async def destroy(self) -> None:
        """Kill the template and, with it, every environment restored from it."""
        self.retired = True
        self.on_childless = None
        await asyncio.gather(
            *(env.destroy() for env in list(self.children.values())), return_exceptions=True
        )
        self.channel.close()
        await self.env.destroy()


def _join(cgroup: EnvCgroup | None, pid: int) -> None:
    if cgroup is None:
        return
    for path in cgroup.procs_paths:
        with open(path, "w") as f:
            f.write(str(pid))


async def _receive_hello(
    sock: socket.socket, timeout: float
) -> tuple[dict[str, Any] | None, int | None]:
    """The first frame on a new control socket and the sender's pid in *our* PID namespace
    (SCM_CREDENTIALS, translated by the kernel). (None, pid) when the peer closed it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    sock.setblocking(False)
    decoder = frames.FrameDecoder()
    pid: int | None = None
    while True:
        try:
            data, anc, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(UCRED.size))
        except BlockingIOError:
            await _readable(sock, deadline - loop.time())
            continue
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = UCRED.unpack(payload[: UCRED.size])[0]
        if not data:
            return None, pid
        got = decoder.feed(data)
        if got:
            return got[0][0], pid


async def _readable(sock: socket.socket, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(sock.fileno(), wake)
    try:
        await asyncio.wait_for(ready, max(timeout, 0.0))
    except TimeoutError:
        raise SpawnError(f"no hello from a restored environment after {timeout:.1f} s") from None
    finally:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(sock.fileno())
