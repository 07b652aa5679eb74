"""The snapshot template: a worker whose init and before-snapshot hooks have run, and which
from then on only forks new environments (:mod:`.restore`) on request.

It runs as the function's unprivileged user (W of a template environment, see :mod:`.spawn`),
single-threaded — threads that user code started during init live on in the template but do
not exist in its forks. Its loop watches two fds: the fork channel (FORK_FD) and the SIGCHLD
wakeup pipe. Protocol (frames from :mod:`.frames`), the zygote's:

    server -> template {"op": "fork", "id", "spec": {"env_id", "ephemeral_mb", "env_set",
                        "env_unset"}}  + SCM_RIGHTS [control child end, log write end]
    template -> server {"op": "forked", "id", "pid"}  (pid in the template's PID namespace)
                    or {"op": "error", "id", "error"}
    server -> template {"op": "ping", "id"}  ->  {"op": "pong", "id", "children"}
    template -> server {"op": "exit", "pid", "status"}  whenever a forked environment ends
    server closes the channel: the template exits (and its PID namespace with everything in it)

Only the template's own children are reaped (``waitpid(pid)``, never ``-1``): a subprocess
that user code started during init stays the user's to wait for.
"""

from __future__ import annotations

import collections
import os
import selectors
import signal
import socket
from typing import Any

from . import frames, restore
from .bootstrap import Runtime, flush_std_streams
from .seccomp import Program


class TemplateLoop:
    def __init__(self, runtime: Runtime, fork_fd: int, strict: Program) -> None:
        self.runtime = runtime
        self.strict = strict  # what a restored environment's PID 1 stacks on the template's
        self.sock = socket.socket(fileno=fork_fd)
        self.decoder = frames.FrameDecoder()
        self.fds: collections.deque[int] = collections.deque()  # received, not yet used
        self.children: set[int] = set()  # forked environments (their pid here)
        self.own_fds: list[int] = [fork_fd]  # closed in every fork
        self.running = True

    def serve(self) -> None:
        wakeup_r, wakeup_w = os.pipe()
        os.set_blocking(wakeup_r, False)
        os.set_blocking(wakeup_w, False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(wakeup_w)
        sel = selectors.DefaultSelector()
        self.own_fds += [wakeup_r, wakeup_w, sel.fileno()]
        sel.register(self.sock, selectors.EVENT_READ, "sock")
        sel.register(wakeup_r, selectors.EVENT_READ, "wakeup")
        while self.running:
            for key, _ in sel.select():
                if key.data == "wakeup":
                    _drain(wakeup_r)
                    self.reap()
                else:
                    self.read_requests()

    def send(self, header: dict[str, Any]) -> None:
        self.sock.sendall(frames.encode(header))

    def read_requests(self) -> None:
        data = frames.recv_with_fds(self.sock, self.fds)
        if not data:
            self.running = False  # the server is done with this template
            return
        for header, _ in self.decoder.feed(data):
            op = header.get("op")
            if op == "fork":
                self.fork(header)
            elif op == "ping":
                self.send({"op": "pong", "id": header.get("id"), "children": len(self.children)})
            else:
                self.send({"op": "error", "id": header.get("id"), "error": f"unknown op {op!r}"})

    def fork(self, header: dict[str, Any]) -> None:
        if len(self.fds) < 2:
            self.send({"op": "error", "id": header.get("id"), "error": "fork without its fds"})
            return
        control, log = self.fds.popleft(), self.fds.popleft()
        try:
            spec = restore.RestoreRequest(header["spec"])
            flush_std_streams()  # nothing buffered here may appear in the new environment's log
            pid = os.fork()
        except Exception as e:  # reported to the server, which raises it to its caller
            os.close(control)
            os.close(log)
            self.send({"op": "error", "id": header.get("id"), "error": f"{type(e).__name__}: {e}"})
            return
        if pid == 0:
            # Everything the loop owns, including other requests' fds, stays out of the child
            # (closed there by fd number: the objects must not close them again).
            self.sock.detach()
            restore.run_restore(
                self.runtime, spec, control, log, self.own_fds + list(self.fds), self.strict
            )
        os.close(control)
        os.close(log)
        self.children.add(pid)
        self.send({"op": "forked", "id": header.get("id"), "pid": pid})

    def reap(self) -> None:
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                self.children.discard(pid)
                self.send({"op": "exit", "pid": pid, "status": status})


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
