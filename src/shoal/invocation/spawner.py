"""The spawner: a function version's execution environments started and destroyed.

:meth:`EnvironmentSpawner.spawn` makes a :class:`~shoal.invocation.states.ManagedEnvironment`
ready to invoke: its log stream, role credentials, the sandbox's spec (mounts of file systems
and layers, identity, variables), a sandbox (forked from the revision's snapshot template when
SnapStart is on) and its init. :meth:`~EnvironmentSpawner.destroy` ends one. The spawner knows
every live environment by id, to route its output to its log stream (:mod:`.output`).

Used by the invoker (:mod:`shoal.invocation.invoker`), whose pools call ``spawn`` and
``destroy``; all on the event loop.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from shoal.errors import AwsError
from shoal.functions.models import FunctionVersion
from shoal.invocation import output, platform_log
from shoal.invocation.credentials import CredentialIssuer, RoleCredentials
from shoal.invocation.environ import environment_variables
from shoal.invocation.pool import PROVISIONED
from shoal.invocation.states import EnvState, ManagedEnvironment
from shoal.sandbox.types import EnvironmentSpec, LogRecord, Mount, SpawnError

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.invocation")

SNAP_START = platform_log.SNAP_START


class InitError(Exception):
    """A new environment's init failed; ``error`` is the runtime's error document."""

    def __init__(self, error: dict[str, object]) -> None:
        super().__init__(error.get("errorMessage"))
        self.error = error


class EnvironmentSpawner:
    def __init__(self, shoal: Shoal, credentials: CredentialIssuer) -> None:
        self.shoal = shoal
        self.settings = shoal.settings
        self.credentials = credentials
        # env_id -> environment, for routing output chunks to their log stream.
        self.environments: dict[str, ManagedEnvironment] = {}

    async def spawn(self, fn: FunctionVersion, init_type: str) -> ManagedEnvironment:
        if fn.snapshot_start and init_type == "on-demand":
            init_type = SNAP_START
        env_id = uuid.uuid4().hex
        stream = self.shoal.logs.open_stream(
            fn.region, fn.name, fn.version, env_id, group=fn.log_group
        )
        env = ManagedEnvironment(env_id, log=stream, init_type=init_type, logging=fn.logging)
        output.watch(env)
        self.environments[env_id] = env
        try:
            credentials = self.credentials.issue(fn)
            env.renew_credentials_at = credentials.renew_at
            spec = self.spec(fn, env_id, stream.name, init_type, credentials)
            if fn.snapshot_start:
                # Snapshot starts: forked from the revision's template, whose init ran once;
                # init() then runs the after-restore hooks. The template has credentials of
                # its own (short-lived: see shoal.invocation.credentials), never this one's.
                template = self.spec(
                    fn, env_id, stream.name, init_type, self.credentials.issue(fn, template=True)
                )
                env.sandbox = await self.shoal.sandbox.factory.spawn_snapshot(
                    snapshot_key(fn), spec, self.on_output, template
                )
            else:
                env.sandbox = await self.shoal.sandbox.spawn(spec, self.on_output)
            init = await env.sandbox.init()
        except SpawnError as e:
            await self.destroy(env)
            log.error("environment %s of %s: %s", env_id, fn.qualified_arn, e)
            raise AwsError(
                "ServiceException", f"Could not start an execution environment: {e}", status=500
            ) from None
        except BaseException:
            await self.destroy(env)
            raise
        # Lambda reports no Init Duration on invocations of provisioned environments: their
        # init ran ahead, outside any invocation.
        env.init_duration_ms = None if init_type == PROVISIONED else init.duration_ms
        if init.error is not None:
            # The runtime logged the error itself ([ERROR] Type: message + its traceback).
            lines = platform_log.init_failed(fn, init.duration_ms, init_type, init.error)
            stream.events(lines, platform=True)
            await self.destroy(env)
            raise InitError(init.error)
        return env

    def spec(
        self,
        fn: FunctionVersion,
        env_id: str,
        stream: str,
        init_type: str,
        credentials: RoleCredentials,
    ) -> EnvironmentSpec:
        uid, gid, groups = self.settings.sandbox_uid, self.settings.sandbox_gid, ()
        mounts: tuple[Mount, ...] = ()
        if fn.file_system_configs:
            identity = self.shoal.filesystems.mounts_for(fn)
            mounts = identity.mounts
            if identity.uid is not None:
                uid, gid, groups = identity.uid, identity.gid, tuple(identity.groups)
        if fn.layers:  # its layers, merged once, read-only at /opt
            opt = self.shoal.layers.opt_dir(fn.layers)
            mounts = (*mounts, Mount(source=str(opt), target="/opt", readonly=True))
        return EnvironmentSpec(
            env_id=env_id,
            runtime=fn.runtime,
            code_dir=fn.code_dir,
            handler=fn.handler,
            environment=environment_variables(
                fn,
                self.settings,
                stream,
                init_type,
                self.shoal.sandbox.api_endpoint,
                credentials.variables,
            ),
            memory_mb=fn.memory_size,
            ephemeral_mb=fn.ephemeral_storage,
            timeout_s=float(fn.timeout),
            uid=uid,
            gid=gid,
            groups=groups,
            mounts=mounts,
        )

    async def destroy(self, env: ManagedEnvironment) -> None:
        if env.state is not EnvState.DEAD:
            env.transition(EnvState.DEAD)
        try:
            if env.sandbox is not None:
                await env.sandbox.destroy()
        finally:
            self.environments.pop(env.env_id, None)
            if env.log is not None:
                env.log.close()

    def on_output(self, env_id: str, chunk: bytes | LogRecord) -> None:
        env = self.environments.get(env_id)
        if env is not None and env.log is not None:
            output.route(env, chunk)


def snapshot_key(fn: FunctionVersion) -> str:
    """The sandbox's key for a version's snapshot template: one per revision."""
    return f"{fn.qualified_arn}@{fn.revision_id}"
