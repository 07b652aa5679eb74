"""ForkServerFactory: environments forked from one zygote per Python runtime, or from a
snapshot template (:mod:`.template`) whose init already ran.

Scheduling policy: zygotes are started lazily, on the first spawn for their runtime, and
restarted on the next spawn if they died (their environments died with them). Spawn requests
to one zygote are served in order by that single-threaded process; environments of different
runtimes are created in parallel. ``check()`` pings every zygote and drops those that do not
answer. All state below is owned by the event loop that calls the factory (one loop only).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

from .api import OutputCallback
from .cgroups import CGROUP_ROOT, MIB, Cgroups
from .channel import ForkChannel
from .environment import ForkServerEnvironment
from .network import EnvironmentNetwork, Prepared
from .runtimes import discover, sdk_dir
from .snapshots import TEMPLATE_IDLE_S, SnapshotCache
from .template import SnapshotFailed, SnapshotTemplate
from .types import EnvironmentSpec, SpawnError, validate_spec
from .zygote import BaseExtras, ZygoteProcess

log = logging.getLogger(__name__)

SPAWN_TIMEOUT_S = 10.0
ZYGOTE_START_TIMEOUT_S = 30.0


class ForkServerFactory:
    def __init__(
        self,
        runtimes: Mapping[str, str] | None = None,
        cgroup_root: str = CGROUP_ROOT,
        spawn_timeout: float = SPAWN_TIMEOUT_S,
        template_idle_s: float = TEMPLATE_IDLE_S,
        network: EnvironmentNetwork | None = None,
        base: BaseExtras | None = None,
    ) -> None:
        # Every environment has a network namespace of its own; egress is the caller's choice.
        self.network = network if network is not None else EnvironmentNetwork("none")
        # What every environment's base root holds beside the system (the SDK, Shoal's CA).
        self._base = base if base is not None else BaseExtras(sdk_dir())
        self._runtimes = dict(runtimes) if runtimes is not None else discover()
        self._cgroups = Cgroups(cgroup_root)
        self._spawn_timeout = spawn_timeout
        self._zygotes: dict[str, ZygoteProcess] = {}  # runtime name -> running zygote
        self._starting: dict[str, asyncio.Lock] = {}  # runtime name -> start lock
        self._envs: dict[str, ForkServerEnvironment] = {}  # env_id -> live environment
        self._templates: set[SnapshotTemplate] = set()  # live snapshot templates
        self.snapshots = SnapshotCache(self, template_idle_s)
        self._closed = False

    def runtimes(self) -> dict[str, str]:
        return dict(self._runtimes)

    @property
    def cgroups_available(self) -> bool:
        return self._cgroups.available

    async def zygote(self, runtime: str) -> ZygoteProcess:
        """The running zygote for ``runtime``, started (or restarted) if needed."""
        interpreter = self._runtimes.get(runtime)
        if interpreter is None:
            raise SpawnError(
                f"runtime {runtime!r} is not available on this host "
                f"(found: {', '.join(self._runtimes) or 'none'})"
            )
        if os.geteuid() != 0:
            raise SpawnError(
                "the sandbox needs root (mount and PID namespaces, cgroups, "
                "setuid to the function's user): run Shoal as root"
            )
        lock = self._starting.setdefault(runtime, asyncio.Lock())
        async with lock:
            zyg = self._zygotes.get(runtime)
            if zyg is not None and zyg.alive:
                return zyg
            if zyg is not None:
                log.warning("fork server for %s died; restarting it", runtime)
                await zyg.stop()
            zyg = ZygoteProcess(runtime, interpreter, self._base)
            await zyg.start(ZYGOTE_START_TIMEOUT_S)
            self._zygotes[runtime] = zyg
            return zyg

    async def check(self) -> dict[str, bool]:
        """Health check: ping every zygote; one that does not answer is stopped (and will be
        restarted by the next spawn). Returns runtime -> healthy."""
        health: dict[str, bool] = {}
        for runtime, zyg in list(self._zygotes.items()):
            health[runtime] = await zyg.ping()
            if not health[runtime]:
                await zyg.stop()
        return health

    def _check_spec(self, spec: EnvironmentSpec) -> None:
        if self._closed:
            raise SpawnError("the sandbox factory is closed")
        validate_spec(spec)
        if spec.env_id in self._envs:
            raise SpawnError(f"environment {spec.env_id} already exists")
        if not os.path.isdir(spec.code_dir):
            raise SpawnError(f"code directory {spec.code_dir} does not exist")
        for m in spec.mounts:
            if not os.path.exists(m.source):
                raise SpawnError(f"mount source {m.source} does not exist")

    async def spawn(
        self, spec: EnvironmentSpec, on_output: OutputCallback
    ) -> ForkServerEnvironment:
        env, _ = await self._spawn(spec, on_output, template=False)
        return env

    async def _spawn(
        self, spec: EnvironmentSpec, on_output: OutputCallback, template: bool
    ) -> tuple[ForkServerEnvironment, socket.socket | None]:
        """A new environment from the zygote, and for a template its fork channel's end."""
        self._check_spec(spec)
        zyg = await self.zygote(spec.runtime)
        network = await self.network.take()
        try:
            return await self._spawn_in(zyg, network, spec, on_output, template)
        except BaseException:
            # Idempotent: an environment destroyed during its start has given it back already.
            self.network.release(network.address)
            raise
        finally:
            os.close(network.fd)  # the zygote received its own copy

    async def _spawn_in(
        self,
        zyg: ZygoteProcess,
        network: Prepared,
        spec: EnvironmentSpec,
        on_output: OutputCallback,
        template: bool,
    ) -> tuple[ForkServerEnvironment, socket.socket | None]:
        cgroup = self._cgroups.create(spec.env_id, spec.memory_mb)
        request: dict[str, Any] = {
            "env_id": spec.env_id,
            "code_dir": os.path.realpath(spec.code_dir),
            "environment": dict(spec.environment),
            "ephemeral_mb": spec.ephemeral_mb,
            "uid": spec.uid,
            "gid": spec.gid,
            "groups": list(spec.groups),
            # Not realpath'd: the runtime opens each source without following symlinks, so a
            # symlink planted in a file system fails the mount instead of redirecting it.
            "mounts": [[os.path.abspath(m.source), m.target, m.readonly] for m in spec.mounts],
            "cgroup_procs": cgroup.procs_paths if cgroup else [],
            "rlimit_as": None if cgroup else spec.memory_mb * MIB,
            "template": template,
            "netns": True,
        }
        try:
            reply, fds = await zyg.request(
                {"op": "spawn", "spec": request}, self._spawn_timeout, [network.fd]
            )
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        if reply.get("op") != "spawned":
            if cgroup is not None:
                cgroup.remove()
            raise SpawnError(f"environment {spec.env_id}: {reply.get('error', reply)}")
        pid = int(reply["pid"])
        control = socket.socket(fileno=fds[0])
        channel = socket.socket(fileno=fds[2]) if len(fds) > 2 else None
        env = ForkServerEnvironment(
            spec,
            pid,
            fds[1],
            cgroup,
            zyg.exit_future(pid),
            on_output,
            lambda: self._forget(spec.env_id, zyg, pid),
            self.network,
            network.address,
        )
        self._envs[spec.env_id] = env
        try:
            await env.attach(control, self._spawn_timeout)
        except BaseException:
            if channel is not None:
                channel.close()
            raise
        return env, channel

    # -- snapshot starts -------------------------------------------------------------------

    async def snapshot(self, spec: EnvironmentSpec, on_output: OutputCallback) -> SnapshotTemplate:
        """A snapshot template made from ``spec``: spawned, its init run once, its
        before-snapshot hooks run. Raises SnapshotFailed (init or hook error; nothing is left
        running) or SpawnError."""
        env, sock = await self._spawn(spec, on_output, template=True)
        assert sock is not None  # a template spawn always carries its fork channel
        channel = ForkChannel(f"snapshot template {spec.env_id}")
        channel.open(sock)
        try:
            init = await env.init()
            error = init.error if init.error is not None else await env.snapshot()
        except BaseException:
            channel.close()
            await env.destroy()
            raise
        if error is not None:
            channel.close()
            await env.destroy()
            raise SnapshotFailed(error, init)
        template = SnapshotTemplate(env, channel, init, self._cgroups, self._spawn_timeout)
        self._templates.add(template)
        return template

    async def spawn_from(
        self, template: SnapshotTemplate, spec: EnvironmentSpec, on_output: OutputCallback
    ) -> ForkServerEnvironment:
        """A new environment forked from ``template`` (a snapshot start), ready for ``init``,
        which runs the after-restore hooks instead of the function's init."""
        self._check_spec(spec)
        env = await template.restore(spec, on_output, lambda: self._forget_restored(spec.env_id))
        self._envs[spec.env_id] = env
        return env

    async def spawn_snapshot(
        self,
        key: str,
        spec: EnvironmentSpec,
        on_output: OutputCallback,
        template_spec: EnvironmentSpec | None = None,
    ) -> ForkServerEnvironment:
        """A new environment forked from the template cached under ``key`` (made from
        ``template_spec``, else ``spec``, by the first call); see
        :class:`~shoal.sandbox.snapshots.SnapshotCache`."""
        return await self.snapshots.spawn(key, spec, on_output, template_spec)

    def drop_snapshot(self, key: str) -> None:
        """Retire the template under ``key``: it goes once its environments are gone."""
        self.snapshots.drop(key)

    async def destroy_template(self, template: SnapshotTemplate) -> None:
        self._templates.discard(template)
        await template.destroy()

    def _forget_restored(self, env_id: str) -> None:
        self._envs.pop(env_id, None)

    def _forget(self, env_id: str, zyg: ZygoteProcess, pid: int) -> None:
        self._envs.pop(env_id, None)
        zyg.forget(pid)

    async def close(self) -> None:
        """Destroy every environment, then stop every zygote. Nothing is left running."""
        self._closed = True
        self.snapshots.close()
        results = await asyncio.gather(
            *(env.destroy() for env in list(self._envs.values())), return_exceptions=True
        )
        results += await asyncio.gather(
            *(t.destroy() for t in list(self._templates)), return_exceptions=True
        )
        self._templates.clear()
        for result in results:
            if isinstance(result, BaseException):
                log.error("destroying an environment at close failed: %s", result)
        await asyncio.gather(*(zyg.stop() for zyg in self._zygotes.values()))
        self._zygotes.clear()
        await self.network.close()
