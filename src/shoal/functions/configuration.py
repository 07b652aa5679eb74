"""How CreateFunction's and UpdateFunctionConfiguration's members become a $LATEST.

Pure: the members are already validated (:mod:`shoal.functions.validation`), the package is
saved; the service does both before calling here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from shoal.errors import invalid_parameter
from shoal.functions.code import Package
from shoal.functions.logging_config import merged as merged_logging
from shoal.functions.models import LATEST, FileSystemConfig, FunctionVersion, VpcConfig
from shoal.functions.record import new_revision, now_iso

# Members copied as they are onto the FunctionVersion attribute of the same meaning.
_SIMPLE = {
    "Runtime": "runtime",
    "Handler": "handler",
    "Role": "role",
    "Description": "description",
    "Timeout": "timeout",
    "MemorySize": "memory_size",
}


def check_create(params: Mapping[str, Any]) -> None:
    """CreateFunction's rules beyond the configuration's: a .zip package, runtime, handler."""
    if params.get("PackageType", "Zip") != "Zip":
        raise invalid_parameter(
            "Shoal runs .zip packages only; PackageType Image is not supported."
        )
    if not params.get("Runtime") or not params.get("Handler"):
        raise invalid_parameter(
            "Runtime and Handler are mandatory parameters for functions "
            "created with deployment packages."
        )


def initial(
    name: str, arn: str, code_dir: str, package: Package, params: Mapping[str, Any]
) -> FunctionVersion:
    """A new function's $LATEST from CreateFunction's members (before its life cycle starts)."""
    return apply(
        FunctionVersion(
            name=name,
            version=LATEST,
            function_arn=arn,
            runtime=params["Runtime"],
            handler=params["Handler"],
            role=params["Role"],
            code_dir=code_dir,
            code_sha256=package.sha256,
            code_size=package.size,
        ),
        params,
    )


def apply(fv: FunctionVersion, params: Mapping[str, Any]) -> FunctionVersion:
    """``fv`` with the configuration members of ``params`` applied, a new revision."""
    changes: dict[str, Any] = {"last_modified": now_iso(), "revision_id": new_revision()}
    for member, attr in _SIMPLE.items():
        if member in params:
            changes[attr] = params[member]
    if "Environment" in params:
        changes["environment"] = dict(params["Environment"].get("Variables") or {})
    if "EphemeralStorage" in params:
        changes["ephemeral_storage"] = params["EphemeralStorage"]["Size"]
    if "FileSystemConfigs" in params:
        changes["file_system_configs"] = tuple(
            FileSystemConfig(arn=c["Arn"], local_mount_path=c["LocalMountPath"])
            for c in params["FileSystemConfigs"]
        )
    if params.get("Architectures"):
        changes["architectures"] = tuple(params["Architectures"])
    if "Layers" in params:  # resolved by the service into LayerRefs
        changes["layers"] = tuple(params["Layers"])
    if "TracingConfig" in params:
        changes["tracing_mode"] = params["TracingConfig"].get("Mode") or "PassThrough"
    if "VpcConfig" in params:
        changes["vpc_config"] = _vpc_config(params["VpcConfig"])
    if "LoggingConfig" in params:
        changes["logging"] = merged_logging(
            fv.logging, params["LoggingConfig"], fv.default_log_group
        )
    if "SnapStart" in params:
        # Lambda's SnapStart setting turns on Shoal's snapshot starts (published versions
        # and, beyond Lambda, $LATEST too).
        changes["snapshot_start"] = params["SnapStart"].get("ApplyOn") == "PublishedVersions"
    return replace(fv, **changes)


def _vpc_config(config: Mapping[str, Any]) -> VpcConfig:
    """VpcConfig as checked against EC2 (``VpcId`` filled in by the API layer's check)."""
    return VpcConfig(
        subnet_ids=tuple(config.get("SubnetIds") or ()),
        security_group_ids=tuple(config.get("SecurityGroupIds") or ()),
        vpc_id=config.get("VpcId", ""),
        ipv6_allowed_for_dual_stack=bool(config.get("Ipv6AllowedForDualStack", False)),
    )
