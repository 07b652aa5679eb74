"""The fork server: one per Python runtime, started by exec of that interpreter
(``python3.N -I -S -c <boot>``, see :data:`BOOT`), never forked from the threaded server.

Startup (once): import everything the runtime and typical handlers need; PR_SET_PDEATHSIG so
that the zygote dies with the server; unshare a private mount namespace and build the shared
read-only base root in it (:func:`.rootfs.prepare_base`); say hello. Then a single-threaded
loop over two fds: the server's socket (spawn / ping / stop requests) and the SIGCHLD wakeup
pipe (reap environments, report their exit status).

Protocol (frames from :mod:`.frames` on the inherited socket):

    zygote -> server {"op": "hello", "pid", "root", "python"}
    server -> zygote {"op": "seccomp", "id", "strict", "template"}  (hex of two BPF programs,
                     compiled by the server: :mod:`shoal.sandbox.seccomp`; once, before any
                     spawn, which is refused without them)
                     ->  {"op": "seccomp_ready", "id"}
    server -> zygote {"op": "spawn", "id", "spec": {...}}  + SCM_RIGHTS [network namespace]
                     (the server's pool of prepared namespaces; spec "netns": true says so)
    zygote -> server {"op": "spawned", "id", "pid", "nfds": 2}  + SCM_RIGHTS [control, log]
                     (a template spec: "nfds": 3, [control, log, fork channel])
                  or {"op": "error", "id", "error"}
    server -> zygote {"op": "ping", "id"}   ->  {"op": "pong", "id"}
    zygote -> server {"op": "exit", "pid", "status"}            whenever an init is reaped
    server -> zygote {"op": "stop"} (or EOF): SIGKILL every environment, reap, exit
"""

from __future__ import annotations

# Imported up front so that every environment starts with them already loaded.
import base64  # noqa: F401
import collections
import ctypes  # noqa: F401
import datetime  # noqa: F401
import decimal  # noqa: F401
import errno
import hashlib  # noqa: F401
import importlib  # noqa: F401
import importlib.machinery  # noqa: F401
import importlib.util  # noqa: F401
import json  # noqa: F401
import logging  # noqa: F401
import os
import random  # noqa: F401
import selectors
import signal
import socket
import sys
import tempfile
import traceback  # noqa: F401
import urllib.parse  # noqa: F401
import uuid  # noqa: F401
from typing import Any

from . import (  # noqa: F401
    bootstrap,
    cmdline,
    frames,
    linux,
    restore,
    rootfs,
    seccomp,
    spawn,
    template,
)

RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))

# The -c program that starts a zygote: load this directory as the package ``_shoal_runtime``
# (so that no module of ours can shadow a user module) and run main(<socket fd>).
BOOT = (
    "import importlib.util as u, sys\n"
    "d = sys.argv[1]\n"
    "s = u.spec_from_file_location('_shoal_runtime', d + '/__init__.py',"
    " submodule_search_locations=[d])\n"
    "m = u.module_from_spec(s); sys.modules['_shoal_runtime'] = m; s.loader.exec_module(m)\n"
    "import _shoal_runtime.zygote as z\n"
    "z.main(int(sys.argv[2]), *sys.argv[3:])\n"
)


class Zygote:
    def __init__(self, sock: socket.socket, base: dict[str, Any] | None = None) -> None:
        self.sock = sock
        self.base = base or {}
        self.decoder = frames.FrameDecoder()
        self.fds: collections.deque[int] = collections.deque()  # received, not yet claimed
        self.children: set[int] = set()
        self.stdlib_path = [p for p in sys.path if os.path.isabs(p)]
        self.base_root = ""
        self.own_pidns = -1
        self.wakeup_r = -1
        self.running = True
        self.profiles: seccomp.Profiles | None = None  # the server's filters, once sent

    def setup(self) -> None:
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:
            raise SystemExit("the server exited before the zygote started")
        linux.unshare(linux.CLONE_NEWNS)
        rootfs.make_mounts_private()
        self.base_root = tempfile.mkdtemp(prefix="shoal-root-")
        os.chmod(self.base_root, 0o755)
        rootfs.prepare_base(
            self.base_root,
            RUNTIME_DIR,
            rootfs.interpreter_prefixes(),
            sdk_dir=self.base.get("sdk_dir"),
            ca_file=self.base.get("ca_file"),
        )
        self.own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        self.wakeup_r = r
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(w)
        self.send(
            {
                "op": "hello",
                "pid": os.getpid(),
                "root": self.base_root,
                "python": ".".join(str(v) for v in sys.version_info[:3]),
            }
        )

    def send(self, header: dict[str, Any], fds: list[int] = ()) -> None:  # type: ignore
        frames.send_with_fds(self.sock, frames.encode(header), fds)

    def loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, "sock")
        sel.register(self.wakeup_r, selectors.EVENT_READ, "wakeup")
        while self.running:
            for key, _ in sel.select():
                if key.data == "wakeup":
                    self.drain_wakeup()
                    self.reap()
                else:
                    self.read_requests()
        self.stop_children()

    def drain_wakeup(self) -> None:
        try:
            while os.read(self.wakeup_r, 4096):
                pass
        except BlockingIOError:
            pass

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            self.send({"op": "exit", "pid": pid, "status": status})

    def read_requests(self) -> None:
        data = frames.recv_with_fds(self.sock, self.fds)
        if not data:
            self.running = False
            return
        for header, _ in self.decoder.feed(data):
            self.handle(header)

    def handle(self, header: dict[str, Any]) -> None:
        op = header.get("op")
        if op == "spawn":
            self.handle_spawn(header)
        elif op == "ping":
            self.send({"op": "pong", "id": header.get("id"), "children": len(self.children)})
        elif op == "stop":
            self.running = False
        elif op == "seccomp":
            self.handle_seccomp(header)
        else:
            self.send({"op": "error", "id": header.get("id"), "error": f"unknown op {op!r}"})

    def handle_seccomp(self, header: dict[str, Any]) -> None:
        try:
            strict, template = (bytes.fromhex(str(header[k])) for k in ("strict", "template"))
            self.profiles = seccomp.Profiles(strict, template)
        except (KeyError, ValueError) as e:
            self.send({"op": "error", "id": header.get("id"), "error": f"seccomp: {e}"})
            return
        self.send({"op": "seccomp_ready", "id": header.get("id")})

    def handle_spawn(self, header: dict[str, Any]) -> None:
        netns = None
        try:
            if self.profiles is None:
                raise ValueError("no seccomp filter: an environment never runs without one")
            req = spawn.SpawnRequest(header["spec"])
            if req.netns:
                if not self.fds:
                    raise ValueError("spawn without its network namespace")
                netns = self.fds.popleft()
            pid, fds = spawn.spawn(
                req, self.base_root, self.stdlib_path, self.own_pidns, self.profiles, netns
            )
        except Exception as e:  # reported to the server, which raises it to its caller
            self.send({"op": "error", "id": header.get("id"), "error": f"{type(e).__name__}: {e}"})
            return
        finally:
            if netns is not None:
                os.close(netns)  # the init has its own copy
        self.children.add(pid)
        try:
            self.send({"op": "spawned", "id": header.get("id"), "pid": pid, "nfds": len(fds)}, fds)
        finally:
            for fd in fds:
                os.close(fd)

    def stop_children(self) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            self.children.discard(pid)


def main(sock_fd: int, base: str = "{}") -> None:
    """``base``: JSON of shoal.sandbox.zygote.BaseExtras (the SDK's directory, the CA)."""
    # Every environment inherits this interpreter's argv, which named our host directory.
    sys.argv[:] = ["/var/runtime/bootstrap"]
    if hasattr(sys, "orig_argv"):  # 3.10+
        sys.orig_argv[:] = sys.argv
    sock = socket.socket(fileno=sock_fd)
    os.set_inheritable(sock_fd, False)
    zygote = Zygote(sock, json.loads(base))
    try:
        zygote.setup()
        zygote.loop()
    except OSError as e:
        if e.errno != errno.EPIPE:
            raise
    finally:
        zygote.stop_children()
