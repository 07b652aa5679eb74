"""The service container: every long-lived part of a running Shoal, started and stopped in order.

Components are named in :data:`COMPONENTS` (attribute name -> import path), in start order; each
is a class taking the :class:`Shoal` and having ``async start()`` and ``async stop()``. They are
stopped in reverse order. Later parts reach earlier ones through the container
(``shoal.functions``, ``shoal.invoker``...), never through globals.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from shoal import datadir
from shoal.config import Settings
from shoal.identity.root import RootCredentials
from shoal.store.integrity import open_store

log = logging.getLogger("shoal")

COMPONENTS: list[tuple[str, str]] = [
    # First: everything after it reaches the file systems' trees only through its nosuid mount.
    ("hosttree", "shoal.filesystems.hosttree:HostTree"),
    # Early: the authentication layer and Lambda's execution roles ask it for credentials.
    ("iam", "shoal.iam.service:IamService"),
    # Before the file systems, whose keys are KMS data keys.
    ("kms", "shoal.kms.service:KmsService"),
    ("logs", "shoal.observability.logs:LogService"),
    # Before everything that publishes metrics (the invoker's hooks are taken at its start).
    ("metrics", "shoal.observability.metrics:MetricService"),
    ("sandbox", "shoal.core:SandboxComponent"),
    ("layers", "shoal.functions.layers:LayerService"),
    ("functions", "shoal.functions.service:FunctionService"),
    ("filesystems", "shoal.filesystems.service:FileSystemService"),
    ("fs_settings", "shoal.filesystems.fs_settings:FileSystemSettings"),
    # Meters and throttles each file system's volume; stopped after the invoker, removing them.
    ("efs_io", "shoal.filesystems.io_metrics:IoMetrics"),
    ("code_signing", "shoal.functions.codesigning:CodeSigningService"),
    ("vpc", "shoal.vpc.service:VpcService"),
    ("permissions", "shoal.functions.permissions:PermissionService"),
    ("invoker", "shoal.invocation.invoker:Invoker"),
    ("async_queue", "shoal.invocation.asyncq:AsyncQueue"),
    ("gateway", "shoal.gateway.service:GatewayService"),
    ("efs_metrics", "shoal.filesystems.storage_metrics:StorageMetrics"),
]

# Modules whose import registers API handlers into shoal.api.dispatch's registries.
API_MODULES = [
    "shoal.api.lambda_scope",
    "shoal.api.lambda_functions",
    "shoal.api.lambda_invoke",
    "shoal.api.efs",
    "shoal.api.efs_scope",
    "shoal.api.apigatewayv2",
    "shoal.api.apigatewayv2_tags",
    "shoal.api.apigatewayv2_parts",
    "shoal.api.apigatewayv2_openapi",
    "shoal.api.apigatewayv2_authorizers",
    "shoal.api.apigatewayv2_domains",
    "shoal.api.apigatewayv2_websocket",
    "shoal.api.lambda_urls",
    "shoal.api.lambda_concurrency",
    "shoal.api.lambda_event_config",
    "shoal.api.lambda_layers",
    "shoal.api.lambda_event_sources",
    "shoal.api.lambda_code_signing",
    "shoal.api.ec2",
    "shoal.api.ec2_groups",
    "shoal.api.lambda_permissions",
    "shoal.api.iam_entities",
    "shoal.api.iam_access_keys",
    "shoal.api.iam_policies",
    "shoal.api.sts",
    "shoal.api.cloudwatch",
    "shoal.api.cloudwatch_data",
    "shoal.api.cloudwatch_alarms",
    "shoal.api.logs_groups",
    "shoal.api.logs_events",
    "shoal.api.logs_tags",
    "shoal.api.kms_keys",
    "shoal.api.kms_tags",
    "shoal.api.kms_aliases",
    "shoal.api.kms_crypto",
]


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class SandboxComponent:
    """The sandbox backend as a component: the fork-server factory knows nothing of Shoal."""

    def __init__(self, shoal: Shoal) -> None:
        from shoal.sandbox.forkserver import ForkServerFactory
        from shoal.sandbox.network import EnvironmentNetwork
        from shoal.sandbox.runtimes import sdk_dir
        from shoal.sandbox.zygote import BaseExtras

        settings = shoal.settings
        network = EnvironmentNetwork(settings.egress, api=(settings.host, settings.port))
        ca = str(settings.tls_ca) if settings.tls_ca is not None else None
        self.factory = ForkServerFactory(network=network, base=BaseExtras(sdk_dir(), ca))
        # Shoal's API as the environments reach it (AWS_ENDPOINT_URL), or None (no bridge).
        address = network.api_address
        self.api_endpoint = f"{settings.scheme}://{address[0]}:{address[1]}" if address else None
        if address is not None:
            shoal.http.allow_host(f"{address[0]}:{address[1]}")

    def runtimes(self) -> dict[str, str]:
        return self.factory.runtimes()

    async def spawn(self, spec: Any, on_output: Any) -> Any:
        return await self.factory.spawn(spec, on_output)

    async def start(self) -> None:
        await self.factory.network.start()  # a host that cannot give egress fails here

    async def stop(self) -> None:
        await self.factory.close()


class Shoal:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        datadir.prepare(settings)  # before anything opens a file there; DataDirError if unsafe
        # The account's root credentials: from the environment, or kept in the data directory.
        self.root = RootCredentials.load(settings.data_dir)
        # Refuses (CorruptStore) a damaged database, or an empty one beside code and trees.
        self.store = open_store(settings.db_path, (settings.code_dir, settings.fs_dir))
        # The HTTP application; components may mount ASGI apps on it (the gateway does).
        from shoal.api.asgi import ShoalApp

        self.http = ShoalApp(self)
        self._started: list[Any] = []
        self.components: dict[str, Any] = {}
        for name, path in COMPONENTS:
            try:
                cls = _load(path)
            except ModuleNotFoundError as e:
                if e.name and path.startswith(e.name):
                    log.debug("component %s not available (%s)", name, e)
                    continue
                raise
            component = cls(self)
            self.components[name] = component
            setattr(self, name, component)
        for module in API_MODULES:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as e:
                if e.name != module:
                    raise

    def __getattr__(self, name: str) -> Any:
        # Only reached for components that are not installed.
        raise AttributeError(f"Shoal has no component {name!r}")

    async def start(self) -> None:
        """Start every component in order; if one fails, stop those already started (uvicorn
        runs no shutdown after a failed startup) and raise."""
        try:
            for name, component in self.components.items():
                log.debug("starting %s", name)
                await component.start()
                self._started.append(component)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        while self._started:
            component = self._started.pop()
            try:
                await component.stop()
            except Exception:
                log.exception("error stopping %s", type(component).__name__)
        self.store.close()
