"""The sandbox contract that the invocation layer codes against.

An :class:`Environment` is one isolated execution environment (one Lambda "sandbox"): a
process tree in its own mount, PID, IPC and UTS namespaces, rooted in a minimal read-only
file system with the function code at /var/task (read-only), a private /tmp, the spec's
mounts under /mnt, running as ``spec.uid`` (never root), memory-limited by a cgroup.

Contract (every implementation):

* ``SandboxFactory.spawn`` returns an environment that is running and ready for ``init``; it
  raises :class:`~shoal.sandbox.types.SpawnError` for a refused spec (uid 0, bad mount target,
  unknown runtime) or a failure to build the sandbox, leaving nothing behind.
* ``init`` is called once, first; it imports the handler and reports an init error (AWS
  error type ``Runtime.ImportModuleError`` ...) in ``InitResult.error`` rather than raising.
* ``invoke`` runs one invocation at a time (a concurrent call raises ``EnvironmentBusy``);
  it never hangs: the environment is killed at the deadline (kind ``timeout``), and an
  environment that dies mid-invoke yields kind ``crash`` or ``oom``. After ``timeout``,
  ``crash`` or ``oom`` the environment is dead (``alive`` is False) and must be destroyed.
  All output written by the environment before its reply has been passed to ``on_output``
  by the time ``invoke`` (or ``init``) returns.
* ``destroy`` is idempotent and safe after death: it kills every process of the environment,
  reaps them and removes its cgroup. Calls other than ``destroy`` on a dead environment raise
  ``EnvironmentDead``.
* Different environments may be used concurrently from the same event loop. All methods must
  be called from the event loop that spawned the environment.
* ``on_output(env_id, chunk)`` is called on the event loop with raw stdout/stderr bytes (one
  pipe for both, so C-level and subprocess output are included), or with a
  :class:`~shoal.sandbox.types.LogRecord` of the runtime's log sink (one event, whatever its
  newlines), never after ``destroy``; a record comes after every byte the environment wrote
  to the pipe before it.
* ``SandboxFactory.close`` destroys every environment and stops every helper process.

Snapshot starts (the fork-server factory; see :mod:`.template` and :mod:`shoal.runtime.restore`):

* ``snapshot(spec)`` spawns a *template*, runs its init and its before-snapshot hooks once,
  and returns a :class:`~shoal.sandbox.template.SnapshotTemplate`; a failed init or hook
  raises ``SnapshotFailed`` carrying the error document, leaving nothing behind.
* ``spawn_from(template, spec)`` returns an environment forked from the template, with the
  same contract as ``spawn`` except that its ``init`` runs the after-restore hooks (error type
  ``Runtime.AfterRestoreError``) instead of importing the handler. ``spec`` must match the
  template in runtime, code, handler, uid/gid/groups and mounts (the fork inherits them); its
  env_id, environment variables, memory and /tmp size are its own. It has its own /tmp, /proc
  (PID namespace), IPC and UTS namespaces, memory and pids cgroups, control socket and log.
* ``spawn_snapshot(key, spec, template_spec=None)`` does both through a cache of one template
  per key (one init for concurrent callers; the template made from ``template_spec`` when
  given, so that it has variables of its own) and falls back to ``spawn`` when the template's
  init fails; ``drop_snapshot(key)`` retires the key's template, destroyed with its last
  environment.
* Destroying a template kills every environment restored from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .types import EnvironmentSpec, InitResult, InvokeRequest, InvokeResult, LogRecord

OutputCallback = Callable[[str, "bytes | LogRecord"], None]


class Environment(Protocol):
    env_id: str
    pid: int  # host pid of the environment's init (PID 1 of its namespace)

    @property
    def alive(self) -> bool: ...

    async def init(self) -> InitResult: ...

    async def invoke(self, req: InvokeRequest) -> InvokeResult: ...

    async def destroy(self) -> None: ...


class SandboxFactory(Protocol):
    def runtimes(self) -> dict[str, str]:
        """Runtime name ("python3.11") -> real interpreter path, as discovered on the host."""
        ...

    async def spawn(self, spec: EnvironmentSpec, on_output: OutputCallback) -> Environment: ...

    async def close(self) -> None: ...
