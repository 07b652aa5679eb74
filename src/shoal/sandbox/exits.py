"""Lambda's wording for how a runtime process ended ("signal: killed", "exit status 1").

The environment's init exits with its worker's status (128 + signal number when the worker
was killed by a signal); the init itself dies by SIGKILL when killed from outside.
"""

from __future__ import annotations

import os
import signal

# Go's signal strings, which Lambda's "Runtime exited with error: signal: ..." uses.
SIGNAL_WORDS = {
    signal.SIGHUP: "hangup",
    signal.SIGINT: "interrupt",
    signal.SIGQUIT: "quit",
    signal.SIGILL: "illegal instruction",
    signal.SIGTRAP: "trace/breakpoint trap",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGKILL: "killed",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGUSR2: "user defined signal 2",
    signal.SIGPIPE: "broken pipe",
    signal.SIGALRM: "alarm clock",
    signal.SIGTERM: "terminated",
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
}


_VALID = {s.value for s in signal.Signals}


def signal_words(signum: int) -> str:
    words = SIGNAL_WORDS.get(signal.Signals(signum)) if signum in _VALID else None
    return words or f"signal {signum}"


def describe_exit(status: int | None) -> str:
    if status is None:
        return "signal: killed"  # the fork server died and took the environment with it
    if os.WIFSIGNALED(status):
        return "signal: " + signal_words(os.WTERMSIG(status))
    code = os.WEXITSTATUS(status)
    if 128 < code < 128 + 65:
        return "signal: " + signal_words(code - 128)
    return f"exit status {code}"
