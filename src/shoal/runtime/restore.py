"""Building a new environment from a fork of a snapshot template (snapshot starts).

Why a user namespace. The template (Wt, the worker of a template environment, see
:mod:`.template`) holds the function's initialised memory, so only a fork of *it* can become a
restored environment — and it runs as the function's unprivileged user, with no capability
left, inside the template's own PID and mount namespaces. An unprivileged process may still
create a user namespace and, inside it, new mount, PID, IPC and UTS namespaces, mount a tmpfs
and a /proc there: that is the only way for the fork to get an environment of its own without
a root process joining it. The alternatives were worse: keeping a privileged helper inside the
template (root next to user code) or letting root processes ``setns`` into an environment's
namespaces from outside. What the user namespace grants is confined to namespaces it owns and
is dropped before any user code runs; the root side (the server) only moves the new
environment into its own memory and pids cgroups.

The mapping is one line each, ``U U 1`` and ``G G 1`` (the user's own ids, which is all an
unprivileged process may map; setgroups is denied first, as the kernel requires): the uid and
gid the environment sees are the real ones, files on the host are checked against the real
uid, and uid 0 does not exist inside (``setuid(0)`` fails with EINVAL). Root-owned files are
shown as owned by the overflow uid/gid 65534 (nobody), which is the one visible difference from
a plain environment; supplementary groups still apply but show as 65534 in ``getgroups()``.

Order of operations (Wt = template worker, in the template's PID namespace T and mount
namespace; C = the fork, which stays in T; I' = PID 1 of the new PID namespace P; W' = the
restored worker, PID 2 of P):

 Wt  receive the request and its two fds (control child end, log write end); flush
     stdout/stderr; fork() -> C. Wt closes the two fds, replies "forked" with C's pid (in T)
     and reports C's exit status when it reaps it.
 C1  reset signal handlers; PR_SET_PDEATHSIG(SIGKILL): dies with Wt
 C2  fds: 0=/dev/null, 1=2=log, 3=control (close-on-exec); close the template's own fds
     (fork channel, its selector and wakeup pipe, other requests' fds). Every other fd is
     the user's, opened during init, and stays: the restored process is the same program.
 C3  unshare(CLONE_NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS|NEWNET): C now holds every capability in the
     new user namespace (none outside it), a copy of the template's mount table in which all
     inherited mounts are locked (they can be covered, never removed or made writable)
 C4  dumpable again (the namespace switch cleared it); setgroups "deny"; uid_map; gid_map
 C5  send {"op": "hello"} on the control socket; the server, receiving it with SO_PASSCRED,
     learns C's pid in its own namespace, moves it into the environment's memory and pids
     cgroups and answers {"op": "joined"}. C and everything it forks are charged to the
     environment from then on (the pages still shared with the template stay charged to the
     template), so that a thousand restores cannot fill the template's cgroup.
 C6  fork() -> I'. C drops its capabilities, closes every fd, waits for I' and ends the same
     way (exit code, or the same signal): Wt's report of C is the report of the environment.
     The server kills an environment through C (I' and W' follow by PR_SET_PDEATHSIG) and,
     as a second line, through its cgroup.
 I1  PR_SET_PDEATHSIG(SIGKILL): dies with C
 I2  sethostname(env_id); a fresh tmpfs on /tmp (the template's is covered and stays
     unreachable: I' cannot unmount what it covers without capabilities, and a locked mount
     cannot be removed from a namespace nested further); a fresh /proc of P
 I3  stack the strict seccomp filter on the template's (which allowed C3 and I2): from here
     on the restored environment is filtered as a plain one (no unshare, no mount, no
     sethostname), I' and W' alike, for one load; fork() -> W'. I' drops its capabilities,
     closes every fd and reaps until W' exits, then exits with W's status, which takes P down.
     (C keeps the template's filter only: it lives in the template's PID namespace, where
     nothing of P can see it, and runs no user code.)
 W1  drop capabilities (the ambient set too); PR_SET_PDEATHSIG(SIGKILL): dies with I'.
     no_new_privs was inherited from Wt, so no setuid or file-capability binary can raise it.
 W2  os.environ: the variables that differ from the template's (log stream name...)
 W3  send {"op": "ready"} and serve the runtime loop; its init runs the after-restore hooks

What a restored environment can see: in /proc, only P — PID 1 (I') and PID 2 (W') and the
processes it starts itself; not the template, its siblings (other child namespaces of T) or
the host. Its /tmp is its own; /var/task, the base root and the file-system mounts under /mnt
are the template's, the same for every environment of the function version.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import time
from typing import Any

from . import frames, linux, rootfs
from .bootstrap import Runtime
from .seccomp import Program
from .spawn import (
    CONTROL_FD,
    SETUP_FAILED,
    close_all_fds,
    report_fatal,
    reset_signals,
    run_to_exit,
    wait_for,
)

NAMESPACES = (
    linux.CLONE_NEWUSER
    | linux.CLONE_NEWNS
    | linux.CLONE_NEWPID
    | linux.CLONE_NEWIPC
    | linux.CLONE_NEWUTS
    | linux.CLONE_NEWNET
)


class RestoreRequest:
    """What a fork request carries: the new environment's own settings (everything else —
    code, mounts, user, limits — is the template's)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.env_id = str(doc["env_id"])
        self.ephemeral_mb = int(doc["ephemeral_mb"])
        self.env_set = {str(k): str(v) for k, v in doc.get("env_set", {}).items()}
        self.env_unset = [str(k) for k in doc.get("env_unset", [])]


def run_restore(
    runtime: Runtime,
    req: RestoreRequest,
    control_fd: int,
    log_fd: int,
    template_fds: list[int],
    strict: Program,
) -> None:
    """Steps C1-C6, in the fork of the template. Never returns."""
    fd = control_fd
    try:
        reset_signals()
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        _install_fds(control_fd, log_fd, template_fds)
        fd = CONTROL_FD
        uid, gid = os.getuid(), os.getgid()
        linux.unshare(NAMESPACES)
        linux.prctl(linux.PR_SET_DUMPABLE, 1)
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # the credential change cleared it
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
        _join_cgroups()
        init = os.fork()
    except BaseException as e:
        report_fatal(fd, e)
        os._exit(SETUP_FAILED)
    if init == 0:
        _run_init(runtime, req, strict)
    code = SETUP_FAILED
    try:
        linux.drop_capabilities()
        close_all_fds()
        status = os.waitpid(init, 0)[1]
        if os.WIFSIGNALED(status):  # end the same way, so the server reads the same status
            signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
            os.kill(os.getpid(), os.WTERMSIG(status))
            code = 128 + os.WTERMSIG(status)
        else:
            code = os.WEXITSTATUS(status)
    finally:
        os._exit(code)


def _run_init(runtime: Runtime, req: RestoreRequest, strict: Program) -> None:
    """Steps I1-I3: PID 1 of the new PID namespace. Never returns."""
    try:
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        linux.sethostname(req.env_id[:64])
        rootfs.mount_tmp("", req.ephemeral_mb, os.getuid(), os.getgid())
        rootfs.mount_proc("")
        strict.load()
        worker = os.fork()
    except BaseException as e:
        report_fatal(CONTROL_FD, e)
        os._exit(SETUP_FAILED)
    if worker == 0:
        _run_worker(runtime, req)
    code = SETUP_FAILED
    try:
        linux.drop_capabilities()
        close_all_fds()
        code = wait_for(worker)
    finally:
        os._exit(code)


def _join_cgroups() -> None:
    """Step C5: the server places this process (it cannot place itself: cgroups are root's)."""
    sock = socket.socket(fileno=CONTROL_FD)
    try:
        frames.send_frame(sock, {"op": "hello"})
        reply = frames.recv_frame(sock)
    finally:
        sock.detach()  # fd 3 stays open for W'
    if reply is None or reply[0].get("op") != "joined":
        raise RuntimeError(f"the server did not place the environment: {reply}")


def _run_worker(runtime: Runtime, req: RestoreRequest) -> None:
    """Steps W1-W3. Never returns."""

    def work() -> None:
        linux.drop_capabilities()
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        for key in req.env_unset:
            os.environ.pop(key, None)
        os.environ.update(req.env_set)
        if "TZ" in req.env_set or "TZ" in req.env_unset:
            time.tzset()
        runtime.sock.detach()  # the template's control socket object: fd 3 is now ours
        runtime.sock = socket.socket(fileno=CONTROL_FD)
        runtime.template = False
        runtime.restored = True
        runtime.serve()

    run_to_exit(work)


def _install_fds(control_fd: int, log_fd: int, template_fds: list[int]) -> None:
    """Step C2."""
    control = fcntl.fcntl(control_fd, fcntl.F_DUPFD_CLOEXEC, 10)
    log = fcntl.fcntl(log_fd, fcntl.F_DUPFD_CLOEXEC, 10)
    for fd in [control_fd, log_fd] + list(template_fds):
        try:
            os.close(fd)
        except OSError:
            pass  # already closed (a duplicate entry)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.dup2(control, CONTROL_FD, inheritable=False)
    for fd in (null, control, log):
        os.close(fd)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
