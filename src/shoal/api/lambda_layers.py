"""Lambda's layer operations: publish, read, list, delete layer versions, and their policies.

The rules live in :mod:`shoal.functions.layers`; this module maps shapes. ``Content.Location``
is where Shoal serves the package (``/shoal/layers/<sha256>.zip``, presigned by the root user
for 10 minutes, as Lambda presigns its S3 URLs), as GetFunction's
``Code.Location`` is for function code.
"""

from __future__ import annotations

from typing import Any

from shoal.api.dispatch import Call, lambda_api
from shoal.api.lambda_functions import paginate
from shoal.functions.layers import LayerService, LayerVersion

LIST_DEFAULT = 50


def _layers(call: Call) -> LayerService:
    service: LayerService = call.shoal.layers
    return service


def list_item(lv: LayerVersion) -> dict[str, Any]:
    """A LayerVersionsListItem."""
    out: dict[str, Any] = {
        "LayerVersionArn": lv.arn,
        "Version": lv.version,
        "Description": lv.description,
        "CreatedDate": lv.created_date,
        "CompatibleRuntimes": list(lv.compatible_runtimes),
        "CompatibleArchitectures": list(lv.compatible_architectures),
    }
    if lv.license_info is not None:
        out["LicenseInfo"] = lv.license_info
    return out


def layer_version(call: Call, lv: LayerVersion) -> dict[str, Any]:
    """Publish/GetLayerVersion's output."""
    out = list_item(lv)
    out["LayerArn"] = lv.layer_arn
    out["Content"] = {
        "Location": call.shoal.root.presign(f"{call.base_url}/shoal/layers/{lv.hex}.zip",
                                            call.region),  # fmt: skip
        "CodeSha256": lv.code_sha256,
        "CodeSize": lv.code_size,
    }
    return out


@lambda_api.handles("PublishLayerVersion")
async def publish_layer_version(call: Call) -> dict[str, Any]:
    return layer_version(call, await _layers(call).publish(call.region, call.params))


@lambda_api.handles("GetLayerVersion")
async def get_layer_version(call: Call) -> dict[str, Any]:
    p = call.params
    return layer_version(call, _layers(call).get(call.region, p["LayerName"], p["VersionNumber"]))


@lambda_api.handles("GetLayerVersionByArn")
async def get_layer_version_by_arn(call: Call) -> dict[str, Any]:
    return layer_version(call, _layers(call).get_by_arn(call.region, call.params["Arn"]))


@lambda_api.handles("ListLayerVersions")
async def list_layer_versions(call: Call) -> dict[str, Any]:
    p = call.params
    versions = _layers(call).versions(
        call.region, p["LayerName"], p.get("CompatibleRuntime"), p.get("CompatibleArchitecture")
    )
    limit = p.get("MaxItems", LIST_DEFAULT)
    page, marker = paginate(versions, lambda v: [-v.version], p.get("Marker"), limit)
    return {"LayerVersions": [list_item(v) for v in page], "NextMarker": marker}


@lambda_api.handles("ListLayers")
async def list_layers(call: Call) -> dict[str, Any]:
    p = call.params
    latest = _layers(call).latest(
        call.region, p.get("CompatibleRuntime"), p.get("CompatibleArchitecture")
    )
    limit = p.get("MaxItems", LIST_DEFAULT)
    page, marker = paginate(latest, lambda v: [v.name], p.get("Marker"), limit)
    return {
        "Layers": [
            {"LayerName": v.name, "LayerArn": v.layer_arn, "LatestMatchingVersion": list_item(v)}
            for v in page
        ],
        "NextMarker": marker,
    }


@lambda_api.handles("DeleteLayerVersion")
async def delete_layer_version(call: Call) -> None:
    _layers(call).delete(call.region, call.params["LayerName"], call.params["VersionNumber"])


@lambda_api.handles("AddLayerVersionPermission")
async def add_layer_version_permission(call: Call) -> dict[str, Any]:
    p = call.params
    statement, revision = _layers(call).add_permission(
        call.region, p["LayerName"], p["VersionNumber"], p
    )
    return {"Statement": statement, "RevisionId": revision}


@lambda_api.handles("RemoveLayerVersionPermission")
async def remove_layer_version_permission(call: Call) -> None:
    p = call.params
    _layers(call).remove_permission(
        call.region, p["LayerName"], p["VersionNumber"], p["StatementId"], p.get("RevisionId")
    )


@lambda_api.handles("GetLayerVersionPolicy")
async def get_layer_version_policy(call: Call) -> dict[str, Any]:
    p = call.params
    policy, revision = _layers(call).policy(call.region, p["LayerName"], p["VersionNumber"])
    return {"Policy": policy, "RevisionId": revision}
