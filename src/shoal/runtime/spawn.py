"""Creating one environment: the steps the zygote takes per spawn request, each a small
function so that a later "snapshot start" (forking new environments from one whose init has
already run) can reuse them.

Order of operations (Z = zygote, I = the environment's init, PID 1 of its PID namespace,
W = the worker that runs the runtime loop and the handler):

 Z1  socketpair() -> control (parent end, child end); pipe() -> log (read end, write end)
 Z2  unshare(CLONE_NEWPID): changes only the namespace of Z's *next* child, not Z itself
 Z3  fork() -> I, which is PID 1 of a fresh PID namespace
 Z4  setns(<Z's own pid ns>, CLONE_NEWPID): Z's later children go back to Z's namespace
     (this replaces the classic double fork: I is Z's direct child, reaped by Z with its
     exit status, and no intermediate process has to exit)
 Z5  close the child ends; send the parent ends to the server with SCM_RIGHTS, with I's pid
 I1  reset signal handlers inherited from Z; PR_SET_PDEATHSIG(SIGKILL): dies with Z; join the
     network namespace the server prepared (its own loopback, and with egress its eth0 already
     set up: :mod:`shoal.sandbox.network`)
 I2  fds: 0=/dev/null, 1=2=log write end, 3=control child end (close-on-exec); close the rest
 I3  unshare(CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWUTS): a copy of Z's private mount namespace,
     which already holds the prepared read-only base root; sethostname. (Without a prepared
     network namespace, CLONE_NEWNET too: an isolated one, whose loopback stays down.)
 I4  join the environment's cgroups (write 0 = self to cgroup.procs) before any child exists
 I5  mounts: tmpfs /tmp (ephemeral_mb), code at /var/task (ro), user mounts under /mnt, a
     new /proc; pivot_root into the base and detach the host tree
 I6  point the command line and environment that /proc shows at neutral bytes
     (:mod:`.cmdline`: no host path of the fork server's argv or environment stays visible);
     load the seccomp filter (:mod:`.seccomp`; a template gets the one that still allows
     building restored environments): the last privileged step needs none of what it denies,
     so loading it once here, for I and W alike, is the whole cost (the kernel compiles the
     program at each load); fork() -> W (PID 2). I then drops privileges like W, closes every
     fd, and waits: it reaps orphans and exits with W's status (128+signal if W was killed),
     which takes the whole PID namespace down. SIGKILL from outside on I kills everything
     inside.
 W1  rlimits; setgroups; setresgid; setresuid (never 0); PR_SET_NO_NEW_PRIVS; dumpable again
     (so /proc/self belongs to the user); chdir /var/task
 W2  fresh sys.stdout/sys.stderr on fds 1/2; os.environ = the spec's environment; sys.path
 W3  send {"op": "ready"} and serve the runtime loop (:mod:`.bootstrap`)

A *template* (snapshot starts) is spawned the same way with one more socket pair: its child end
is fd 4 (FORK_FD) in I and W. After init and the "snapshot" request, W serves fork requests on
it (:mod:`.template`); each new environment is built from a fork of W (:mod:`.restore`).
"""

from __future__ import annotations

import fcntl
import os
import resource
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import cmdline, frames, linux, rootfs
from .bootstrap import Runtime, apply_environment, reopen_std_streams
from .seccomp import Profiles

CONTROL_FD = 3
FORK_FD = 4  # templates only: the fork-request channel
SETUP_FAILED = 70  # exit status of an init whose sandbox could not be built
NOFILE = 1024  # Lambda's file-descriptor limit


class SpawnRequest:
    """The zygote's view of an EnvironmentSpec (decoded from the spawn frame)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.env_id = str(doc["env_id"])
        self.code_dir = str(doc["code_dir"])
        self.environment = {str(k): str(v) for k, v in doc["environment"].items()}
        self.ephemeral_mb = int(doc["ephemeral_mb"])
        self.uid = int(doc["uid"])
        self.gid = int(doc["gid"])
        self.groups = [int(g) for g in doc.get("groups", [])]
        self.mounts = [(str(s), str(t), bool(r)) for s, t, r in doc.get("mounts", [])]
        self.cgroup_procs = [str(p) for p in doc.get("cgroup_procs", [])]
        self.rlimit_as = doc.get("rlimit_as")
        self.template = bool(doc.get("template", False))
        self.netns = bool(doc.get("netns", False))  # a prepared network namespace comes along
        if self.uid == 0 or self.gid == 0:
            raise ValueError("an environment never runs as root (uid/gid 0)")


def fork_into_new_pid_namespace(own_pidns_fd: int) -> int:
    """Steps Z2-Z4. Returns 0 in the child (PID 1 of the new namespace), its pid in Z."""
    linux.unshare(linux.CLONE_NEWPID)
    try:
        pid = os.fork()
    except BaseException:
        linux.setns(own_pidns_fd, linux.CLONE_NEWPID)
        raise
    if pid != 0:
        linux.setns(own_pidns_fd, linux.CLONE_NEWPID)
    return pid


def reset_signals() -> None:
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def arrange_fds(control_fd: int, log_fd: int, fork_fd: int | None = None) -> None:
    """Step I2: exactly fds 0, 1, 2 and CONTROL_FD (and FORK_FD for a template) stay open."""
    control = fcntl.fcntl(control_fd, fcntl.F_DUPFD, 10)  # out of the way of 0-4
    log = fcntl.fcntl(log_fd, fcntl.F_DUPFD, 10)
    fork = fcntl.fcntl(fork_fd, fcntl.F_DUPFD, 10) if fork_fd is not None else None
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.dup2(control, CONTROL_FD, inheritable=False)  # user subprocesses never get it
    last = CONTROL_FD
    if fork is not None:
        os.dup2(fork, FORK_FD, inheritable=False)
        last = FORK_FD
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > last:
            try:
                os.close(fd)
            except OSError:
                pass  # the fd of the listdir itself, already closed


def join_cgroups(procs_paths: Sequence[str]) -> None:
    for path in procs_paths:
        with open(path, "w") as f:
            f.write("0")  # 0 = the writing process, whatever its pid in this namespace


def set_limits(rlimit_as: int | None) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
    if rlimit_as:
        resource.setrlimit(resource.RLIMIT_AS, (rlimit_as, rlimit_as))


def drop_privileges(uid: int, gid: int, groups: list[int]) -> None:
    """Groups, then gid, then uid (after setresuid nothing else may change); all capabilities
    go with the uid; no_new_privs makes setuid binaries powerless."""
    if uid == 0 or gid == 0:
        raise PermissionError("refusing to run an environment as root")
    os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    linux.prctl(linux.PR_SET_DUMPABLE, 1)


def exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def report_fatal(fd: int, exc: BaseException) -> None:
    try:
        data = frames.encode({"op": "fatal", "error": f"{type(exc).__name__}: {exc}"})
        os.write(fd, data)
    except OSError:
        pass  # the server is gone; the exit status still tells the zygote


def run_init(
    req: SpawnRequest,
    base_root: str,
    stdlib_path: list[str],
    control_fd: int,
    log_fd: int,
    profiles: Profiles,
    fork_fd: int | None = None,
    netns_fd: int | None = None,
) -> None:
    """Steps I1-I6 and the init's wait loop. Never returns."""
    fd = control_fd
    try:
        reset_signals()
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        if netns_fd is not None:
            linux.setns(netns_fd, linux.CLONE_NEWNET)  # closed with the others just below
        arrange_fds(control_fd, log_fd, fork_fd)
        fd = CONTROL_FD
        linux.unshare(
            linux.CLONE_NEWNS
            | linux.CLONE_NEWIPC
            | linux.CLONE_NEWUTS
            | (linux.CLONE_NEWNET if netns_fd is None else 0)
        )
        linux.sethostname(req.env_id[:64])
        join_cgroups(req.cgroup_procs)
        rootfs.mount_environment(
            base_root, req.code_dir, req.ephemeral_mb, req.uid, req.gid, req.mounts
        )
        cmdline.neutralise()
        (profiles.template if req.template else profiles.strict).load()
        worker = os.fork()
    except BaseException as e:
        report_fatal(fd, e)
        os._exit(SETUP_FAILED)
    if worker == 0:
        run_worker(req, stdlib_path, profiles)
    reap_until(worker, req)


def reap_until(worker: int, req: SpawnRequest) -> None:
    """The init's life after the fork: unprivileged, no fds, reaping until W exits."""
    code = SETUP_FAILED
    try:
        drop_privileges(req.uid, req.gid, req.groups)
        # The credential change cleared the parent-death signal: set it again.
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        close_all_fds()
        code = wait_for(worker)
    finally:
        os._exit(code)


def close_all_fds() -> None:
    """0, 1, 2 become /dev/null and every other fd is closed: a waiting init must not keep the
    control socket, the log pipe or the fork channel open after its worker is gone."""
    null = os.open("/dev/null", os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def wait_for(worker: int) -> int:
    """Reap every child (orphans are ours as PID 1) until ``worker`` exits; its exit code."""
    while True:
        pid, status = os.wait()
        if pid == worker:
            return exit_code(status)


def run_worker(req: SpawnRequest, stdlib_path: list[str], profiles: Profiles) -> None:
    """Steps W1-W3. Never returns."""

    def work() -> None:
        set_limits(req.rlimit_as)
        drop_privileges(req.uid, req.gid, req.groups)
        os.chdir("/var/task")
        reopen_std_streams()
        apply_environment(req.environment, stdlib_path)
        sock = socket.socket(fileno=CONTROL_FD)
        runtime = Runtime(sock)
        runtime.serve()
        if runtime.template and req.template:
            from .template import TemplateLoop  # preloaded by the zygote; imports this module

            TemplateLoop(runtime, FORK_FD, profiles.strict).serve()

    run_to_exit(work)


def run_to_exit(work: Callable[[], None]) -> None:
    """Run a worker's body and end the process with its status. Never returns."""
    code = 0
    try:
        work()
    except SystemExit as e:  # sys.exit() in user code: the runtime exits, as in Lambda
        code = e.code if isinstance(e.code, int) else 1
    except BaseException as e:  # noqa: BLE001 - the process ends here either way
        report_fatal(CONTROL_FD, e)
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def spawn(
    req: SpawnRequest,
    base_root: str,
    stdlib_path: list[str],
    own_pidns_fd: int,
    profiles: Profiles,
    netns_fd: int | None = None,
) -> tuple[int, list[int]]:
    """Steps Z1-Z5 (minus the send). Returns (init pid, [control parent end, log read end]
    plus, for a template, the fork channel's parent end); the caller owns the fds."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    log_r, log_w = os.pipe()
    fork_parent = fork_child = None
    if req.template:
        fork_parent, fork_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = fork_into_new_pid_namespace(own_pidns_fd)
        if pid == 0:
            run_init(
                req,
                base_root,
                stdlib_path,
                child.fileno(),
                log_w,
                profiles,
                fork_child.fileno() if fork_child is not None else None,
                netns_fd,
            )
    except BaseException:
        parent.close()
        os.close(log_r)
        if fork_parent is not None:
            fork_parent.close()
        raise
    finally:
        child.close()
        os.close(log_w)
        if fork_child is not None:
            fork_child.close()
    fds = [parent.detach(), log_r]
    if fork_parent is not None:
        fds.append(fork_parent.detach())
    return pid, fds
