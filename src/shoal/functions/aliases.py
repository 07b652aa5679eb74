"""Aliases: named pointers to a version, optionally routing a share of invocations to another.

Lambda's rules for AdditionalVersionWeights: at most one other version, never with $LATEST as
the primary, never the primary itself. Operations on a :class:`FunctionRecord` without I/O; the
service persists the record and notifies its subscribers.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from shoal.errors import conflict, invalid_parameter, not_found
from shoal.functions.models import LATEST, Alias
from shoal.functions.record import FunctionRecord, check_revision, new_revision


def get(fn: FunctionRecord, alias: str) -> Alias:
    found = fn.aliases.get(alias)
    if found is None:
        raise not_found(f"Cannot find alias arn: {fn.latest.function_arn}:{alias}")
    return found


def pick(alias: Alias) -> str:
    """The version one invocation of ``alias`` runs, drawn by the alias's routing weights."""
    target = alias.function_version
    draw = random.random()
    for version, weight in alias.routing.items():
        if draw < weight:
            target = version
            break
        draw -= weight
    return target


def check_routing(fn: FunctionRecord, primary: str, routing: Mapping[str, float]) -> None:
    fn.version(primary)
    if not routing:
        return
    if len(routing) > 1:
        raise invalid_parameter(
            "Number of items in AdditionalVersionWeights cannot be greater than 1"
        )
    if primary == LATEST:
        raise invalid_parameter(
            "$LATEST is not supported for an alias pointing to more than 1 version"
        )
    for version in routing:
        if version == primary:
            raise invalid_parameter(
                f"Invalid function version {version}. Function version "
                f"{version} is already included in routing configuration."
            )
        fn.version(version)


def create(
    fn: FunctionRecord,
    alias_arn: str,
    alias: str,
    version: str,
    description: str | None,
    routing: Mapping[str, float] | None,
) -> Alias:
    if alias in fn.aliases:
        raise conflict(f"Alias already exists: {alias_arn}")
    check_routing(fn, version, routing or {})
    created = Alias(
        name=alias,
        function_name=fn.latest.name,
        function_version=version,
        alias_arn=alias_arn,
        description=description or "",
        routing=dict(routing or {}),
        revision_id=new_revision(),
    )
    fn.aliases[alias] = created
    return created


def update(fn: FunctionRecord, alias: str, params: Mapping[str, Any]) -> Alias:
    """UpdateAlias; ``params`` are its input members."""
    current = get(fn, alias)
    check_revision(params.get("RevisionId"), current.revision_id)
    version = params.get("FunctionVersion", current.function_version)
    routing = current.routing
    if "RoutingConfig" in params:
        routing = dict(params["RoutingConfig"].get("AdditionalVersionWeights") or {})
    check_routing(fn, version, routing)
    updated = replace(
        current,
        function_version=version,
        routing=routing,
        description=params.get("Description", current.description),
        revision_id=new_revision(),
    )
    fn.aliases[alias] = updated
    return updated
