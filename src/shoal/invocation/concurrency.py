"""Concurrency settings: reserved concurrency (per function) and provisioned concurrency (per
published version or alias), with Lambda's rules, persisted, and applied to the limiter and the
pools.

- Reserved concurrency is kept with the function (``FunctionService.set_reserved_concurrency``)
  so that it lives and dies with it; the invoker copies it into the limiter on every change.
- Provisioned concurrency configs are documents of kind ``provisioned-concurrency`` keyed
  ``NAME:QUALIFIER``. Each config asks the pool of the version it designates (an alias's primary
  version) for that many provisioned environments; :meth:`ConcurrencyControls.apply` recomputes
  every pool's target after any change (config, alias moved, version deleted, restart).

Status, as Lambda: IN_PROGRESS until all requested environments have run their init, then
READY (it stays READY while a dead environment is replaced); FAILED with the init error in
StatusReason. Allocated and Available count the provisioned environments that are up.

All methods run on the event loop; none awaits, so each change is atomic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError, invalid_parameter
from shoal.functions import arns
from shoal.functions.models import LATEST
from shoal.invocation.pool import EnvironmentPool

if TYPE_CHECKING:
    from shoal.core import Shoal
    from shoal.invocation.invoker import Invoker

KIND = "provisioned-concurrency"


@dataclass(frozen=True)
class ProvisionedConfig:
    function: str  # the function's unqualified ARN
    qualifier: str  # a version number or an alias name, never $LATEST
    requested: int
    last_modified: str  # ISO 8601, as Lambda shows it

    @property
    def key(self) -> str:
        return f"{self.function}:{self.qualifier}"


@dataclass(frozen=True)
class ProvisionedStatus:
    config: ProvisionedConfig
    function_arn: str
    allocated: int
    status: str  # IN_PROGRESS | READY | FAILED
    reason: str | None


def _now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}+0000"


class ConcurrencyControls:
    def __init__(self, shoal: Shoal, invoker: Invoker) -> None:
        self.shoal = shoal
        self.invoker = invoker
        self.limiter = invoker.limiter
        # key FUNCTION_ARN:QUALIFIER -> config. Functions are known by their unqualified ARN
        # (they are per region), and so are the limiter's reservations and counts.
        self.configs: dict[str, ProvisionedConfig] = {}
        self._ready: set[str] = set()  # keys whose config has been READY since its last put

    def load(self) -> None:
        """At start: reservations into the limiter, configs from the store, pools provisioned."""
        for name in self.shoal.functions.names():
            self.limiter.set_reserved(name, self.shoal.functions.reserved_concurrency(name))
        settings = self.shoal.settings
        for key, doc in self.shoal.store.load(KIND).items():
            config = ProvisionedConfig(**doc)
            if not config.function.startswith("arn:"):  # saved before regions: the default's
                function = arns.in_default_region(
                    config.function, settings.region, settings.account_id
                )
                config = replace(config, function=function)
                with self.shoal.store.transaction():
                    self.shoal.store.put(KIND, config.key, config.__dict__)
                    self.shoal.store.delete(KIND, key)
            self.configs[config.key] = config
        for name in {c.function for c in self.configs.values()}:
            self.function_changed(name)
        self.apply()

    # ------------------------------------------------------------------ reserved

    def reserve(self, name_or_arn: str, value: int | None) -> str:
        """PutFunctionConcurrency (``value``) / DeleteFunctionConcurrency (None)."""
        name, _ = self.shoal.functions.function(name_or_arn)
        if value is not None:
            if not self.limiter.can_reserve(name, value):
                raise invalid_parameter(
                    "Specified ReservedConcurrentExecutions for function decreases account's "
                    "UnreservedConcurrentExecution below its minimum value of "
                    f"[{self.limiter.unreserved_minimum}]."
                )
            provisioned = self.limiter.provisioned.get(name, 0)
            if value < provisioned:
                raise invalid_parameter(
                    f"Specified ReservedConcurrentExecutions ({value}) for function is less than "
                    f"its total provisioned concurrency ({provisioned})."
                )
        # The function service persists it and notifies the invoker, which sets the limiter.
        self.shoal.functions.set_reserved_concurrency(name, value)
        return str(name)

    def reserved(self, name_or_arn: str) -> int | None:
        name, _ = self.shoal.functions.function(name_or_arn)
        return self.limiter.reserved.get(name)

    # ------------------------------------------------------------------ provisioned

    def _target(self, name_or_arn: str, qualifier: str) -> tuple[str, str]:
        """(function name, qualifier) of a Put/Get/Delete; refuses $LATEST as Lambda does."""
        ref = arns.parse(name_or_arn)
        q = arns.merge_qualifier(ref, qualifier)
        name, _ = self.shoal.functions.function(name_or_arn)
        if q == LATEST or q is None:
            raise invalid_parameter(
                "Provisioned Concurrency Configs cannot be applied to unpublished function "
                "versions."
            )
        return name, q

    def put(self, name_or_arn: str, qualifier: str, requested: int) -> ProvisionedStatus:
        name, q = self._target(name_or_arn, qualifier)
        functions = self.shoal.functions
        version = functions.resolve(name, q).version  # NotFound for an unknown qualifier
        if version == LATEST:  # an alias of $LATEST
            raise invalid_parameter(
                "Provisioned Concurrency Configs cannot be applied to unpublished function "
                "versions."
            )
        if not arns.is_version(q):
            if functions.alias(name, q).routing:
                raise invalid_parameter(
                    "Alias with weights can not be used with Provisioned Concurrency"
                )
            if f"{name}:{version}" in self.configs:
                raise AwsError(
                    "ResourceConflictException",
                    "Alias can't be used for Provisioned Concurrency configuration on an "
                    "already Provisioned version",
                )
        else:
            for alias in functions.aliases(name):
                if alias.function_version == q and f"{name}:{alias.name}" in self.configs:
                    raise AwsError(
                        "ResourceConflictException",
                        "Version is pointed by a Provisioned Concurrency alias",
                    )
        others = sum(
            c.requested for c in self.configs.values() if c.function == name and c.qualifier != q
        )
        reserved = self.limiter.reserved.get(name)
        if reserved is not None and others + requested > reserved:
            raise invalid_parameter(
                "Requested Provisioned Concurrency should not be greater than the "
                "reservedConcurrentExecution for function"
            )
        if reserved is None:
            available = self.limiter.unreserved_available(excluding=name) - others
            if available - requested < self.limiter.unreserved_minimum:
                raise invalid_parameter(
                    "Specified ConcurrentExecutions for function decreases account's "
                    "UnreservedConcurrentExecution below its minimum value of "
                    f"[{self.limiter.unreserved_minimum}]."
                )
        config = ProvisionedConfig(name, q, requested, _now_iso())
        # First: a failed write changes nothing.
        self.shoal.store.put(KIND, config.key, config.__dict__)
        self.configs[config.key] = config
        self._ready.discard(config.key)
        self.apply()
        return self.status(config)

    def get(self, name_or_arn: str, qualifier: str) -> ProvisionedStatus:
        name, q = self._target(name_or_arn, qualifier)
        self.shoal.functions.resolve(name, q)  # NotFound for an unknown qualifier
        config = self.configs.get(f"{name}:{q}")
        if config is None:
            raise AwsError(
                "ProvisionedConcurrencyConfigNotFoundException",
                "No Provisioned Concurrency Config found for this function",
            )
        return self.status(config)

    def delete(self, name_or_arn: str, qualifier: str) -> None:
        name, q = self._target(name_or_arn, qualifier)
        self.shoal.functions.resolve(name, q)  # NotFound for an unknown qualifier
        self._drop(f"{name}:{q}")
        self.apply()

    def list(self, name_or_arn: str) -> list[ProvisionedStatus]:
        name, _ = self.shoal.functions.function(name_or_arn)
        found = [c for c in self.configs.values() if c.function == name]
        return [self.status(c) for c in sorted(found, key=lambda c: c.qualifier)]

    def _drop(self, key: str) -> None:
        if key in self.configs:
            self.shoal.store.delete(KIND, key)
            del self.configs[key]
        self._ready.discard(key)

    # ------------------------------------------------------------------ applying

    def function_changed(self, name: str) -> None:
        """Drop what a change removed (the function, a version, an alias), then re-apply."""
        functions = self.shoal.functions
        self.limiter.set_reserved(name, functions.reserved_concurrency(name))
        for key, config in list(self.configs.items()):
            if config.function != name:
                continue
            try:
                functions.resolve(name, config.qualifier)
            except AwsError:
                self._drop(key)
        self.apply()

    def apply(self) -> None:
        """Give every pool its provisioned target from the configs (creating pools as needed)."""
        desired: dict[tuple[str, str], int] = {}
        totals: dict[str, int] = {}
        for config in self.configs.values():
            try:
                fv = self.shoal.functions.resolve(config.function, config.qualifier)
            except AwsError:
                continue
            key = (fv.function_arn, fv.version)
            desired[key] = desired.get(key, 0) + config.requested
            totals[fv.function_arn] = totals.get(fv.function_arn, 0) + config.requested
            pool = self.invoker.pool_for(fv)
            pool.on_provisioned = self._observe
        self.limiter.provisioned = totals
        for key, pool in list(self.invoker.pools.items()):
            pool.set_provisioned(desired.get(key, 0))

    def _observe(self, pool: EnvironmentPool) -> None:
        for config in self.configs.values():
            self.status(config)  # records READY once reached

    def status(self, config: ProvisionedConfig) -> ProvisionedStatus:
        functions = self.shoal.functions
        arn = f"{config.function}:{config.qualifier}"
        try:
            fv = functions.resolve(config.function, config.qualifier)
            pool = self.invoker.pools.get((fv.function_arn, fv.version))
        except AwsError:
            pool = None
        allocated = min(config.requested, pool.provisioned_count) if pool else 0
        if allocated >= config.requested:
            self._ready.add(config.key)
        if config.key in self._ready:
            return ProvisionedStatus(config, arn, allocated, "READY", None)
        if pool is not None and pool.provision_error is not None:
            return ProvisionedStatus(config, arn, allocated, "FAILED", pool.provision_error)
        return ProvisionedStatus(config, arn, allocated, "IN_PROGRESS", None)


def render(status: ProvisionedStatus, with_arn: bool = False) -> dict[str, Any]:
    """A GetProvisionedConcurrencyConfigResponse (a list item ``with_arn``)."""
    out: dict[str, Any] = {
        "RequestedProvisionedConcurrentExecutions": status.config.requested,
        "AvailableProvisionedConcurrentExecutions": status.allocated,
        "AllocatedProvisionedConcurrentExecutions": status.allocated,
        "Status": status.status,
        "LastModified": status.config.last_modified,
    }
    if status.reason:
        out["StatusReason"] = status.reason
    if with_arn:
        out["FunctionArn"] = status.function_arn
    return out


__all__ = ["ConcurrencyControls", "ProvisionedConfig", "ProvisionedStatus", "render"]
