"""The sandbox layer's contract types: what callers hand in, what they get back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENV_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")
MOUNT_TARGET = re.compile(r"^/mnt/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
OPT = "/opt"  # a function's layers, merged (the base root has the mount point)

# InvokeResult.kind values.
SUCCESS = "success"
ERROR = "error"  # the handler raised, or the runtime refused the payload / result
TIMEOUT = "timeout"
OOM = "oom"
CRASH = "crash"


@dataclass(frozen=True)
class Mount:
    source: str  # host path (must exist)
    target: str  # absolute path inside the env, under /mnt/ ("/mnt/msg"), or /opt (layers)
    readonly: bool = False


@dataclass(frozen=True)
class EnvironmentSpec:
    env_id: str  # unique, [a-z0-9-]; names the cgroup and the log stream
    runtime: str  # "python3.11"
    code_dir: str  # host dir of unpacked code -> /var/task (ro)
    handler: str  # "module.function"
    # The env's complete os.environ (its role's credentials among them: never in a repr).
    environment: Mapping[str, str] = field(repr=False)
    memory_mb: int
    ephemeral_mb: int  # /tmp tmpfs size
    timeout_s: float
    uid: int  # never 0
    gid: int
    groups: tuple[int, ...] = ()
    mounts: tuple[Mount, ...] = ()


@dataclass(frozen=True)
class InitResult:
    duration_ms: float
    error: dict[str, Any] | None  # {"errorType","errorMessage","stackTrace"} or None


@dataclass(frozen=True)
class InvokeRequest:
    request_id: str
    payload: bytes
    invoked_function_arn: str
    function_version: str
    deadline_ms: int  # epoch ms
    client_context: str | None = None  # decoded JSON text of the ClientContext
    trace_id: str | None = None  # the invocation's _X_AMZN_TRACE_ID (Root=...;Parent=...)
    # Variables the runtime puts in os.environ before this invocation (renewed credentials).
    environment: Mapping[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class InvokeResult:
    kind: str  # "success" | "error" | "timeout" | "oom" | "crash"
    payload: bytes  # success: the JSON result; otherwise the JSON error document
    duration_ms: float
    max_memory_used_mb: int


@dataclass(frozen=True)
class LogRecord:
    """One record of the runtime's log sink (a ``logging`` record, the runtime's ``[ERROR]``
    report): one log event, newlines included, unlike the log pipe's lines. ``level`` is
    Lambda's name (TRACE, DEBUG, INFO, WARN, ERROR, FATAL), for ApplicationLogLevel."""

    level: str
    text: str


@dataclass(frozen=True)
class ExitInfo:
    """How an environment's init process ended (the zygote reaps it and reports the status)."""

    status: int | None  # raw wait status; None when unknown (zygote gone)
    description: str = field(default="")  # Lambda's words: "signal: killed", "exit status 1"


class SandboxError(Exception):
    """The sandbox could not do what was asked (bad spec, zygote failure, dead environment)."""


class SpawnError(SandboxError):
    """An environment could not be created; the message says why (zygote or setup error)."""


class EnvironmentDead(SandboxError):
    """A call on an environment that is no longer running (other than ``destroy``)."""


class EnvironmentBusy(SandboxError):
    """``init``/``invoke`` while another call is in progress: one at a time per environment."""


def validate_spec(spec: EnvironmentSpec) -> None:
    """Raise :class:`SpawnError` for a spec the sandbox refuses (before any work is done)."""
    if not ENV_ID.match(spec.env_id):
        raise SpawnError(f"env_id {spec.env_id!r} must match {ENV_ID.pattern}")
    if spec.uid == 0 or spec.gid == 0:
        raise SpawnError("an environment never runs as root: uid and gid must not be 0")
    if spec.uid < 0 or spec.gid < 0 or any(g < 0 for g in spec.groups):
        raise SpawnError("uid, gid and groups must be non-negative")
    if spec.memory_mb < 16 or spec.ephemeral_mb < 1 or spec.timeout_s <= 0:
        raise SpawnError("memory_mb >= 16, ephemeral_mb >= 1 and timeout_s > 0 are required")
    targets = set()
    for m in spec.mounts:
        under_mnt = MOUNT_TARGET.match(m.target) and "/../" not in m.target + "/"
        if not (under_mnt or m.target == OPT) or m.target in targets:
            raise SpawnError(f"mount target {m.target!r} must be /opt or a unique path under /mnt/")
        targets.add(m.target)
    for k, v in spec.environment.items():
        if not isinstance(k, str) or not isinstance(v, str) or "=" in k or "\0" in k + v:
            raise SpawnError(f"environment variable {k!r} is not a valid name/value pair")
