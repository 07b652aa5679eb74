"""Lambda's function-management operations: functions, versions, aliases, tags, account.

Each handler translates the decoded input into a call on ``shoal.functions`` and renders the
result in the model's output shape (FunctionConfiguration, AliasConfiguration...). Invoke lives
in ``lambda_invoke``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from shoal.api.dispatch import Call, lambda_api
from shoal.api.lambda_roles import check_execution_role
from shoal.errors import invalid_parameter
from shoal.functions.models import LATEST, Alias, FunctionVersion, VpcConfig
from shoal.functions.service import FunctionService

T = TypeVar("T")

# ListFunctions answers at most 50 items, whatever MaxItems says (as Lambda).
LIST_FUNCTIONS_MAX = 50
LIST_DEFAULT = 50


def _service(call: Call) -> FunctionService:
    service: FunctionService = call.shoal.functions
    return service


def configuration(fv: FunctionVersion, qualified: bool = False) -> dict[str, Any]:
    """A FunctionConfiguration. ``$LATEST`` shows its unqualified ARN unless ``qualified``."""
    published = fv.version != LATEST
    out: dict[str, Any] = {
        "FunctionName": fv.name,
        "FunctionArn": fv.qualified_arn if (published or qualified) else fv.function_arn,
        "Runtime": fv.runtime,
        "Role": fv.role,
        "Handler": fv.handler,
        "CodeSize": fv.code_size,
        "Description": fv.description,
        "Timeout": fv.timeout,
        "MemorySize": fv.memory_size,
        "LastModified": fv.last_modified,
        "CodeSha256": fv.code_sha256,
        "Version": fv.version,
        "TracingConfig": {"Mode": fv.tracing_mode},
        "RevisionId": fv.revision_id,
        "State": fv.state,
        "StateReason": fv.state_reason,
        "StateReasonCode": fv.state_reason_code,
        "PackageType": "Zip",
        "Architectures": list(fv.architectures),
        "EphemeralStorage": {"Size": fv.ephemeral_storage},
        "SnapStart": {
            "ApplyOn": "PublishedVersions" if fv.snapshot_start else "None",
            "OptimizationStatus": "On" if fv.snapshot_start else "Off",
        },
        "LoggingConfig": fv.logging.to_wire(fv.default_log_group),
    }
    if fv.environment:
        out["Environment"] = {"Variables": dict(fv.environment)}
    if fv.vpc_config is not None:
        out["VpcConfig"] = _vpc_config(fv.vpc_config)
    if fv.file_system_configs:
        out["FileSystemConfigs"] = [
            {"Arn": c.arn, "LocalMountPath": c.local_mount_path} for c in fv.file_system_configs
        ]
    if fv.layers:
        out["Layers"] = [{"Arn": r.arn, "CodeSize": r.code_size} for r in fv.layers]
    # A function being created has no update status yet; published versions never have one.
    if fv.state != "Pending" and not published:
        out["LastUpdateStatus"] = fv.last_update_status
        out["LastUpdateStatusReason"] = fv.last_update_status_reason
        out["LastUpdateStatusReasonCode"] = fv.last_update_status_reason_code
    return out


def _vpc_config(vpc: VpcConfig) -> dict[str, Any]:
    return {
        "SubnetIds": list(vpc.subnet_ids),
        "SecurityGroupIds": list(vpc.security_group_ids),
        "VpcId": vpc.vpc_id,
        "Ipv6AllowedForDualStack": vpc.ipv6_allowed_for_dual_stack,
    }


def _checked_vpc(call: Call) -> dict[str, Any]:
    """The input with its VpcConfig checked against the EC2 model and its VpcId filled in."""
    params = call.params
    vpc = getattr(call.shoal, "vpc", None)
    if "VpcConfig" in params and vpc is not None:
        from shoal.vpc.interfaces import lambda_vpc_config

        config = lambda_vpc_config(vpc, call.region, params["VpcConfig"])
        params = {**params, "VpcConfig": config}
    return params


def alias_configuration(alias: Alias) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AliasArn": alias.alias_arn,
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    }
    if alias.routing:
        out["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.routing)}
    return out


def paginate(
    items: Sequence[T], key: Callable[[T], list[Any]], marker: str | None, limit: int
) -> tuple[list[T], str | None]:
    """A page after ``marker`` and the marker of the next page (None on the last).

    A marker is the opaque key of the last item returned, so a page stays right even when
    items are added or deleted between calls.
    """
    start = 0
    if marker:
        try:
            after = json.loads(base64.urlsafe_b64decode(marker.encode()))
        except (ValueError, RecursionError, binascii.Error):
            raise invalid_parameter(f"Invalid marker: {marker}") from None
        while start < len(items) and key(items[start]) <= after:
            start += 1
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    next_marker = None
    if more and page:
        next_marker = base64.urlsafe_b64encode(json.dumps(key(page[-1])).encode()).decode()
    return page, next_marker


def _version_key(fv: FunctionVersion) -> list[Any]:
    return [fv.name, -1 if fv.version == LATEST else int(fv.version)]


# ---------------------------------------------------------------------------------- functions


@lambda_api.handles("CreateFunction")
async def create_function(call: Call) -> dict[str, Any]:
    signing = call.params.get("CodeSigningConfigArn")
    if signing:
        call.shoal.code_signing.check_exists(signing)
    check_execution_role(call)
    fv = await _service(call).create(_checked_vpc(call))
    if signing:
        _link_code_signing(call, fv.function_arn, signing)
    return configuration(fv)


def _link_code_signing(call: Call, function_arn: str, arn: str) -> None:
    """CreateFunction's CodeSigningConfigArn: linked once the function exists. The config was
    checked before; if it was deleted while the package was saved, the function goes too, so a
    failed create leaves nothing behind."""
    try:
        call.shoal.code_signing.link(function_arn, arn)
    except Exception:
        _service(call).delete(function_arn, None)
        raise


@lambda_api.handles("GetFunction")
async def get_function(call: Call) -> dict[str, Any]:
    service = _service(call)
    qualifier = call.params.get("Qualifier")
    fv = service.resolve(call.params["FunctionName"], qualifier)
    out: dict[str, Any] = {
        "Configuration": configuration(fv, qualified=qualifier == LATEST),
        "Code": {
            "RepositoryType": "S3",
            "Location": call.shoal.root.presign(
                f"{call.base_url}/shoal/code/{fv.code_dir.rsplit('/', 1)[-1]}.zip", call.region
            ),
        },
    }
    tags = service.tags(fv.function_arn)
    if tags:
        out["Tags"] = tags
    # Reserved concurrency is another component's (see FunctionService); shown when it exists.
    reserved = getattr(service, "reserved_concurrency", None)
    if callable(reserved):
        value = reserved(fv.function_arn)
        if value is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": value}
    return out


@lambda_api.handles("GetFunctionConfiguration")
async def get_function_configuration(call: Call) -> dict[str, Any]:
    qualifier = call.params.get("Qualifier")
    fv = _service(call).resolve(call.params["FunctionName"], qualifier)
    return configuration(fv, qualified=qualifier == LATEST)


@lambda_api.handles("ListFunctions")
async def list_functions(call: Call) -> dict[str, Any]:
    service = _service(call)
    everything = call.params.get("FunctionVersion") == "ALL"
    items: list[FunctionVersion] = []
    for name in service.names(call.region):
        items.extend(service.versions(name) if everything else [service.resolve(name)])
    limit = min(call.params.get("MaxItems", LIST_DEFAULT), LIST_FUNCTIONS_MAX)
    page, marker = paginate(items, _version_key, call.params.get("Marker"), limit)
    return {
        "Functions": [configuration(fv, qualified=everything) for fv in page],
        "NextMarker": marker,
    }


@lambda_api.handles("UpdateFunctionCode")
async def update_function_code(call: Call) -> dict[str, Any]:
    return configuration(await _service(call).update_code(call.params))


@lambda_api.handles("UpdateFunctionConfiguration")
async def update_function_configuration(call: Call) -> dict[str, Any]:
    check_execution_role(call)
    return configuration(await _service(call).update_configuration(_checked_vpc(call)))


@lambda_api.handles("DeleteFunction")
async def delete_function(call: Call) -> None:
    _service(call).delete(call.params["FunctionName"], call.params.get("Qualifier"))


# ---------------------------------------------------------------------------------- versions


@lambda_api.handles("PublishVersion")
async def publish_version(call: Call) -> dict[str, Any]:
    p = call.params
    version = _service(call).publish(
        p["FunctionName"], p.get("CodeSha256"), p.get("Description"), p.get("RevisionId")
    )
    return configuration(version)


@lambda_api.handles("ListVersionsByFunction")
async def list_versions_by_function(call: Call) -> dict[str, Any]:
    versions = _service(call).versions(call.params["FunctionName"])
    limit = call.params.get("MaxItems", LIST_DEFAULT)
    page, marker = paginate(versions, _version_key, call.params.get("Marker"), limit)
    return {"Versions": [configuration(v, qualified=True) for v in page], "NextMarker": marker}


# ---------------------------------------------------------------------------------- aliases


@lambda_api.handles("CreateAlias")
async def create_alias(call: Call) -> dict[str, Any]:
    p = call.params
    alias = _service(call).create_alias(
        p["FunctionName"],
        p["Name"],
        p["FunctionVersion"],
        p.get("Description"),
        (p.get("RoutingConfig") or {}).get("AdditionalVersionWeights"),
    )
    return alias_configuration(alias)


@lambda_api.handles("GetAlias")
async def get_alias(call: Call) -> dict[str, Any]:
    alias = _service(call).alias(call.params["FunctionName"], call.params["Name"])
    return alias_configuration(alias)


@lambda_api.handles("UpdateAlias")
async def update_alias(call: Call) -> dict[str, Any]:
    p = call.params
    return alias_configuration(_service(call).update_alias(p["FunctionName"], p["Name"], p))


@lambda_api.handles("DeleteAlias")
async def delete_alias(call: Call) -> None:
    _service(call).delete_alias(call.params["FunctionName"], call.params["Name"])


@lambda_api.handles("ListAliases")
async def list_aliases(call: Call) -> dict[str, Any]:
    aliases = _service(call).aliases(call.params["FunctionName"])
    version = call.params.get("FunctionVersion")
    if version:
        aliases = [a for a in aliases if a.function_version == version]
    limit = call.params.get("MaxItems", LIST_DEFAULT)
    page, marker = paginate(aliases, lambda a: [a.name], call.params.get("Marker"), limit)
    return {"Aliases": [alias_configuration(a) for a in page], "NextMarker": marker}


# ---------------------------------------------------------------------------------- tags


@lambda_api.handles("TagResource")
async def tag_resource(call: Call) -> None:
    _service(call).tag(call.params["Resource"], call.params["Tags"])


@lambda_api.handles("UntagResource")
async def untag_resource(call: Call) -> None:
    _service(call).untag(call.params["Resource"], call.params["TagKeys"])


@lambda_api.handles("ListTags")
async def list_tags(call: Call) -> dict[str, Any]:
    return {"Tags": _service(call).tags(call.params["Resource"])}


# ---------------------------------------------------------------------------------- account

# Lambda's default quotas (bytes); Shoal enforces the unzipped one when unpacking.
TOTAL_CODE_SIZE = 80 * 1024**3
CODE_SIZE_UNZIPPED = 262_144_000
CODE_SIZE_ZIPPED = 52_428_800


@lambda_api.handles("GetAccountSettings")
async def get_account_settings(call: Call) -> dict[str, Any]:
    service = _service(call)
    settings = call.shoal.settings
    limiter = call.shoal.invoker.limiter  # per region, as the account's limits are
    # Each package counts once per version that uses it, as Lambda counts storage.
    total = sum(fv.code_size for fv in service.all_versions(call.region))
    return {
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": CODE_SIZE_UNZIPPED,
            "CodeSizeZipped": CODE_SIZE_ZIPPED,
            "ConcurrentExecutions": settings.account_concurrency,
            "UnreservedConcurrentExecutions": limiter.unreserved_available(region=call.region),
        },
        "AccountUsage": {"TotalCodeSize": total, "FunctionCount": len(service.names(call.region))},
    }
