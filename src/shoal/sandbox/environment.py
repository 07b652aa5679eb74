"""One environment as seen from the server: control socket, log pipe, cgroup, exit status.

The control socket's protocol and its frames are :mod:`.control`'s; this object drives them.

State machine (changed only on the event loop, by this object):

    READY --init/invoke--> BUSY --reply--> READY
    READY --snapshot--> BUSY --snapshot_done--> TEMPLATE   (templates only, see .template)
      any --death/timeout/destroy--> DEAD

A call that finds the environment BUSY raises EnvironmentBusy; one that finds it DEAD raises
EnvironmentDead (``destroy`` excepted: idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import fcntl
import json
import os
import signal
import socket
import time
from collections.abc import Callable
from ipaddress import IPv4Interface
from typing import Any

from ..runtime import errors as rt_errors
from ..runtime import frames
from .api import OutputCallback
from .cgroups import EnvCgroup
from .control import Control, InvokeFrames
from .exits import describe_exit
from .logpipe import LogPipe, new_token
from .memory import MemoryMeter
from .network import EnvironmentNetwork
from .types import (
    CRASH,
    ERROR,
    OOM,
    SUCCESS,
    TIMEOUT,
    EnvironmentBusy,
    EnvironmentDead,
    EnvironmentSpec,
    InitResult,
    InvokeRequest,
    InvokeResult,
    SpawnError,
)

F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20
EXIT_GRACE_S = 2.0  # after the control socket closes, how long the init may take to exit
MIN_INIT_TIMEOUT_S = 10.0  # Lambda's init phase limit; a longer function timeout extends it
_TOO_LARGE = json.dumps(rt_errors.response_too_large()).encode()


class State(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    BUSY = "busy"
    TEMPLATE = "template"  # init done and snapshot taken: it only forks new environments
    DEAD = "dead"


class ForkServerEnvironment:
    def __init__(
        self,
        spec: EnvironmentSpec,
        pid: int,
        log_fd: int,
        cgroup: EnvCgroup | None,
        exit_future: asyncio.Future[int | None],
        on_output: OutputCallback,
        on_destroyed: Callable[[], None],
        network: EnvironmentNetwork,
        address: IPv4Interface | None = None,
    ) -> None:
        self.spec = spec
        self.env_id = spec.env_id
        self.pid = pid
        self._loop = asyncio.get_running_loop()
        self._state = State.STARTING
        self._control = Control()
        self._pipe = LogPipe()  # the runtime's records, out of the output (its token at init)
        self._log_fd = log_fd
        self._log_open = True
        self._cgroup = cgroup
        self._exit = exit_future
        self._on_output = on_output
        self._on_destroyed = on_destroyed
        self.network = network
        self.address = address  # eth0's, with egress (a restored one's: once attached)
        self._network_job: asyncio.Task[IPv4Interface | None] | None = None
        self._destroying: asyncio.Future[None] | None = None
        self._invoke_frames = InvokeFrames()
        self._pidfd = _pidfd_open(pid)
        self._memory = MemoryMeter(cgroup, spec.memory_mb)
        os.set_blocking(log_fd, False)
        with contextlib.suppress(OSError):
            fcntl.fcntl(log_fd, F_SETPIPE_SZ, PIPE_SIZE)
        self._loop.add_reader(log_fd, self.drain_output)
        exit_future.add_done_callback(self._on_exit)

    def _on_exit(self, fut: asyncio.Future[int | None]) -> None:
        """A ``None`` status means the zygote died: its environments get PR_SET_PDEATHSIG,
        but make sure through the pidfd (which survives the reparenting)."""
        if not fut.cancelled() and fut.result() is None and self._pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    # -- life cycle --------------------------------------------------------------------------

    def begin_network(self) -> None:
        """Set up the network namespace a restored environment made for itself (it cannot
        join a prepared one), from its hello on, so that the work overlaps the rest of its
        start; :meth:`attach` waits for it, before any user code runs."""
        if self._network_job is None:
            self._network_job = self._loop.create_task(self.network.attach(self.pid))

    async def attach(self, control: socket.socket, timeout: float) -> None:
        """Connect the control socket and wait for the runtime's ``ready`` (spawn's last step),
        and for a restored environment's network."""
        await self._loop.create_unix_connection(lambda: self._control, sock=control)
        try:
            frame = await self._control.next_frame(self._loop, timeout)
        except TimeoutError:
            frame = ({"op": "fatal", "error": f"not ready after {timeout:.1f} s"}, b"")
        if frame is not None and frame[0].get("op") == "ready":
            if self._network_job is not None:
                try:
                    self.address = await self._network_job
                except OSError as e:
                    await self.destroy()
                    raise SpawnError(f"environment {self.env_id}: its network: {e}") from None
            self._state = State.READY
            return
        reason = frame[0].get("error") if frame else await self._exit_description()
        await self.destroy()
        raise SpawnError(f"environment {self.env_id} failed to start: {reason}")

    @property
    def alive(self) -> bool:
        return self._state in (State.READY, State.BUSY)

    @property
    def state(self) -> State:
        return self._state

    def _begin(self) -> None:
        if self._state is State.BUSY:
            raise EnvironmentBusy(f"environment {self.env_id} is busy")
        if self._state is not State.READY:
            raise EnvironmentDead(f"environment {self.env_id} is {self._state.value}")
        self._state = State.BUSY

    def _send(self, header: dict[str, Any], body: bytes = b"") -> None:
        self._write(frames.encode(header, body))

    def _write(self, data: bytes) -> None:
        transport = self._control.transport
        if transport is None or transport.is_closing():
            return  # the reply wait below sees the closed socket and reports the death
        transport.write(data)

    async def init(self) -> InitResult:
        self._begin()
        start = time.perf_counter()
        env = self.spec.environment
        self._pipe.token = token = new_token()
        self._send(
            {
                "op": "init",
                "log_token": token.hex(),
                "handler": self.spec.handler,
                "memory_mb": self.spec.memory_mb,
                "function_name": env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
                "log_group_name": env.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
                "log_stream_name": env.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
            }
        )
        timeout = max(MIN_INIT_TIMEOUT_S, self.spec.timeout_s)
        frame = await self._reply(timeout)
        duration = (time.perf_counter() - start) * 1000
        if frame is not None and frame[0].get("op") == "init_done":
            self._state = State.READY
            self._memory.ready()  # after the duration: not part of Init Duration
            return InitResult(duration, frame[0].get("error"))
        if frame is None:
            kind, doc = (
                TIMEOUT,
                rt_errors.make_error(
                    f"INIT timed out after {timeout:.2f} seconds", rt_errors.TIMEOUT, []
                ),
            )
        else:
            kind, doc = await self._death(None)
        return InitResult(duration, doc)

    async def snapshot(self) -> dict[str, Any] | None:
        """Make this (template-spawned, initialised) environment a template: its runtime runs
        the before-snapshot hooks and from then on serves fork requests on its fork channel.
        Returns None, or the error document (the environment stays READY, or is DEAD)."""
        self._begin()
        timeout = max(MIN_INIT_TIMEOUT_S, self.spec.timeout_s)
        self._send({"op": "snapshot"})
        frame = await self._reply(timeout)
        if frame is not None and frame[0].get("op") == "snapshot_done":
            error: dict[str, Any] | None = frame[0].get("error")
            self._state = State.READY if error else State.TEMPLATE
            return error
        if frame is None:
            return rt_errors.make_error(
                f"snapshot timed out after {timeout:.2f} seconds", rt_errors.TIMEOUT, []
            )
        return (await self._death(None))[1]

    async def invoke(self, req: InvokeRequest) -> InvokeResult:
        self._begin()
        start = time.perf_counter()
        now = time.time()
        deadline_ms = min(req.deadline_ms, int(now * 1000 + self.spec.timeout_s * 1000))
        self._memory.begin()
        self._write(self._invoke_frames.encode(req, deadline_ms))
        frame = await self._reply(max(deadline_ms / 1000 - now, 0.0))
        if frame is not None and frame[0].get("op") == "result":
            self._state = State.READY
            kind = SUCCESS if frame[0].get("ok") else ERROR
            return self._result(kind, frame[1], start)
        if self._control.too_large:
            # Lambda's answer to a response over its limit; this environment cannot go on (its
            # control stream is cut mid-frame), so it is killed and the pool replaces it.
            self._kill()
            await self._wait_exit()
            self.drain_output()
            return self._result(ERROR, _TOO_LARGE, start)
        if frame is None:
            kind, doc = (
                TIMEOUT,
                rt_errors.make_error(
                    f"RequestId: {req.request_id} Error: Task timed out after "
                    f"{self.spec.timeout_s:.2f} seconds",
                    rt_errors.TIMEOUT,
                    None,
                ),
            )
        else:
            kind, doc = await self._death(req.request_id)
        doc.pop("stackTrace", None)
        return self._result(kind, json.dumps(doc).encode(), start)

    def _result(self, kind: str, payload: bytes, start: float) -> InvokeResult:
        return InvokeResult(
            kind, payload, (time.perf_counter() - start) * 1000, self.max_memory_used_mb()
        )

    async def _reply(self, timeout: float) -> frames.Frame | None | tuple[dict[str, Any], bytes]:
        """The runtime's reply, with all output before it delivered. None means the deadline
        passed: the environment has been killed. A ``{"op": "died"}`` frame means it died."""
        try:
            frame = await self._control.next_frame(self._loop, timeout)
        except TimeoutError:
            self._state = State.DEAD
            self._kill()
            await self._wait_exit()
            self.drain_output()
            return None
        if frame is None or frame[0].get("output", True):
            # The runtime says whether output is left in the pipe: most invocations print
            # nothing, and a read that finds nothing costs a syscall and an exception here.
            self.drain_output()
            for item in self._pipe.flush():  # the runtime wrote it all before replying
                self._on_output(self.env_id, item)
        if frame is None or frame[0].get("op") == "fatal":
            self._state = State.DEAD
            return {"op": "died"}, b""
        return frame

    async def _death(self, request_id: str | None) -> tuple[str, dict[str, Any]]:
        """Classify a death: OOM if the memory cgroup's OOM killer acted, otherwise a crash."""
        description = await self._exit_description()
        self.drain_output()
        prefix = f"RequestId: {request_id} Error: " if request_id else ""
        message = f"{prefix}Runtime exited with error: {description}"
        if self._cgroup is not None and self._cgroup.oom_killed():
            return OOM, rt_errors.make_error(message, rt_errors.OUT_OF_MEMORY, [])
        return CRASH, rt_errors.make_error(message, rt_errors.EXIT_ERROR, [])

    async def _exit_description(self) -> str:
        status = await self._wait_exit()
        return describe_exit(status)

    async def _wait_exit(self) -> int | None:
        """The init's wait status; kills it if it outlives its control socket."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._exit), EXIT_GRACE_S)
        except TimeoutError:
            self._kill()
            return await self._exit

    def _kill(self) -> None:
        """SIGKILL the init (PID 1 of the namespace: everything inside dies with it) and, as a
        second line, every process left in the cgroup."""
        if not self._exit.done():
            with contextlib.suppress(ProcessLookupError, OSError):
                if self._pidfd is not None:
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
                else:
                    os.kill(self.pid, signal.SIGKILL)
        if self._cgroup is not None:
            self._cgroup.kill_all()

    def max_memory_used_mb(self) -> int:
        """The REPORT's Max Memory Used for the invocation in progress or just done
        (:mod:`.memory`)."""
        return self._memory.max_used_mb()

    def drain_output(self) -> None:
        """Deliver everything now in the log pipe to on_output (non-blocking)."""
        while self._log_open:
            try:
                chunk = os.read(self._log_fd, PIPE_SIZE)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._close_log()
                return
            for item in self._pipe.feed(chunk):
                self._on_output(self.env_id, item)

    def _close_log(self) -> None:
        if self._log_open:
            self._log_open = False
            self._loop.remove_reader(self._log_fd)
            os.close(self._log_fd)

    async def destroy(self) -> None:
        if self._destroying is None:
            self._destroying = self._loop.create_future()
            try:
                await self._teardown()
            finally:
                self._destroying.set_result(None)
        else:
            await asyncio.shield(self._destroying)

    async def _teardown(self) -> None:
        self._state = State.DEAD
        self._kill()
        await self._wait_exit()
        self.drain_output()
        self._close_log()
        if self._control.transport is not None:
            self._control.transport.abort()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        self._memory.close()
        if self._network_job is not None:  # a start cut short may leave it running
            with contextlib.suppress(Exception):
                self.address = await self._network_job
        self.network.release(self.address)
        self.address = None
        if self._cgroup is not None:
            for _ in range(100):  # the tasks leave the cgroup as the kernel finishes their exit
                if self._cgroup.remove():
                    break
                await asyncio.sleep(0.01)
            else:
                raise OSError(f"cgroup of environment {self.env_id} still busy after destroy")
        self._on_destroyed()


def _pidfd_open(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None  # already gone (the exit report will follow) or no pidfd support
