"""Asynchronous invocation settings (FunctionEventInvokeConfig), per function qualifier.

A config applies to events invoked with that qualifier: an unqualified invoke uses the
``$LATEST`` config, an invoke of alias ``live`` the ``live`` config (whatever version the alias
points to), as Lambda. Unset members take Lambda's defaults: 2 retries, 6 hours of event age.

Destinations: only Lambda function ARNs are delivered by Shoal (it has no SQS, SNS or
EventBridge); other ARNs are refused when the config is written, so a record is never dropped
silently. Configs are documents of kind ``event-invoke-config`` keyed ``NAME:QUALIFIER``; the
configs of a deleted function, version or alias go with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError, invalid_parameter, not_found
from shoal.functions import arns
from shoal.functions.models import LATEST

if TYPE_CHECKING:
    from shoal.core import Shoal

KIND = "event-invoke-config"
DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE_S = 21600


@dataclass(frozen=True)
class EventInvokeConfig:
    function: str  # the function's unqualified ARN (functions are per region)
    qualifier: str  # $LATEST, a version or an alias
    max_retries: int | None = None
    max_age_s: int | None = None
    on_success: str | None = None  # destination function ARN
    on_failure: str | None = None
    last_modified: float = 0.0  # epoch seconds

    @property
    def key(self) -> str:
        return f"{self.function}:{self.qualifier}"

    @property
    def retries(self) -> int:
        return DEFAULT_RETRIES if self.max_retries is None else self.max_retries

    @property
    def max_age(self) -> int:
        return DEFAULT_MAX_AGE_S if self.max_age_s is None else self.max_age_s


class EventInvokeConfigs:
    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.configs: dict[str, EventInvokeConfig] = {}

    def load(self) -> None:
        for key, doc in self.shoal.store.load(KIND).items():
            config = EventInvokeConfig(**doc)
            if config.function != self._arn(config.function):  # saved before regions
                config = replace(config, function=self._arn(config.function))
                with self.shoal.store.transaction():
                    self.shoal.store.put(KIND, config.key, config.__dict__)
                    self.shoal.store.delete(KIND, key)
            self.configs[config.key] = config

    def _arn(self, function: str) -> str:
        """A function's unqualified ARN; a bare name (before regions) is the default region's."""
        settings = self.shoal.settings
        return arns.in_default_region(function, settings.region, settings.account_id)

    def effective(self, function: str, qualifier: str) -> EventInvokeConfig:
        """The config events invoked as ``function:qualifier`` follow (defaults if none)."""
        function = self._arn(function)
        return self.configs.get(f"{function}:{qualifier}") or EventInvokeConfig(function, qualifier)

    # ------------------------------------------------------------------ the API's operations

    def _target(self, name_or_arn: str, qualifier: str | None, must_exist: bool) -> str:
        ref = arns.parse(name_or_arn)
        q = arns.merge_qualifier(ref, qualifier) or LATEST
        try:
            name, _ = self.shoal.functions.function(name_or_arn)
            self.shoal.functions.resolve(name, q)
        except AwsError:
            if must_exist:
                raise AwsError("ResourceNotFoundException", "The function doesn't exist.") from None
            raise self._missing(name_or_arn, q) from None
        return f"{name}:{q}"

    def _missing(self, function: str, qualifier: str) -> AwsError:
        ref = arns.parse(function)
        region = ref.region or self.shoal.settings.region
        arn = arns.function_arn(region, self.shoal.settings.account_id, ref.name, qualifier)
        return not_found(f"The function {arn} doesn't have an EventInvokeConfig")

    def put(
        self, name_or_arn: str, qualifier: str | None, params: dict[str, Any], merge: bool
    ) -> EventInvokeConfig:
        """Put (replace; ``merge`` False) or Update (change the given members only)."""
        if not any(
            k in params
            for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
        ):
            raise invalid_parameter(
                "You must specify at least one of error handling or destination setting."
            )
        key = self._target(name_or_arn, qualifier, must_exist=True)
        name, _, q = key.rpartition(":")
        current = self.configs.get(key)
        if merge and current is None:
            raise self._missing(name, q)
        config = current if (merge and current) else EventInvokeConfig(name, q)
        changes: dict[str, Any] = {"last_modified": time.time()}
        if "MaximumRetryAttempts" in params:
            changes["max_retries"] = params["MaximumRetryAttempts"]
        if "MaximumEventAgeInSeconds" in params:
            changes["max_age_s"] = params["MaximumEventAgeInSeconds"]
        if "DestinationConfig" in params:
            destinations = params["DestinationConfig"] or {}
            success = (destinations.get("OnSuccess") or {}).get("Destination") or None
            failure = (destinations.get("OnFailure") or {}).get("Destination") or None
            self._check_destinations(name, success, failure)
            if "OnSuccess" in destinations or not merge:
                changes["on_success"] = success
            if "OnFailure" in destinations or not merge:
                changes["on_failure"] = failure
        config = replace(config, **changes)
        self.shoal.store.put(KIND, key, config.__dict__)  # first: a failed write changes nothing
        self.configs[key] = config
        return config

    def _check_destinations(self, name: str, success: str | None, failure: str | None) -> None:
        bad = False
        for arn in (success, failure):
            if arn is None:
                continue
            if arn.split(":")[2:3] != ["lambda"]:
                raise invalid_parameter(
                    f"Shoal delivers asynchronous invocation records only to Lambda functions; "
                    f"the destination {arn} is not a function ARN."
                )
            try:
                target, _ = self.shoal.functions.function(arn)
            except AwsError:
                bad = True
                continue
            if target == name:
                raise invalid_parameter(
                    "You can't specify the function as a destination for itself."
                )
        if bad:
            on_success = f"OnSuccess(destination={success})" if success else "null"
            on_failure = f"OnFailure(destination={failure})" if failure else "null"
            raise invalid_parameter(
                f"The provided destination config DestinationConfig(onSuccess={on_success}, "
                f"onFailure={on_failure}) is invalid."
            )

    def get(self, name_or_arn: str, qualifier: str | None) -> EventInvokeConfig:
        key = self._target(name_or_arn, qualifier, must_exist=False)
        config = self.configs.get(key)
        if config is None:
            name, _, q = key.rpartition(":")
            raise self._missing(name, q)
        return config

    def delete(self, name_or_arn: str, qualifier: str | None) -> None:
        self.get(name_or_arn, qualifier)
        key = self._target(name_or_arn, qualifier, must_exist=False)
        self.shoal.store.delete(KIND, key)
        del self.configs[key]

    def list(self, name_or_arn: str) -> list[EventInvokeConfig]:
        try:
            name, _ = self.shoal.functions.function(name_or_arn)
        except AwsError:
            raise AwsError("ResourceNotFoundException", "The function doesn't exist.") from None
        return sorted(
            (c for c in self.configs.values() if c.function == name), key=lambda c: c.qualifier
        )

    def function_changed(self, name: str) -> None:
        """Drop the configs of a deleted function, version or alias."""
        for key, config in list(self.configs.items()):
            if config.function != name:
                continue
            try:
                self.shoal.functions.resolve(name, config.qualifier)
            except AwsError:
                self.shoal.store.delete(KIND, key)
                del self.configs[key]

    def render(self, config: EventInvokeConfig) -> dict[str, Any]:
        out: dict[str, Any] = {
            "LastModified": config.last_modified,
            "FunctionArn": f"{config.function}:{config.qualifier}",
            "MaximumRetryAttempts": config.max_retries,
            "MaximumEventAgeInSeconds": config.max_age_s,
            "DestinationConfig": {
                "OnSuccess": {"Destination": config.on_success} if config.on_success else {},
                "OnFailure": {"Destination": config.on_failure} if config.on_failure else {},
            },
        }
        return {k: v for k, v in out.items() if v is not None}
