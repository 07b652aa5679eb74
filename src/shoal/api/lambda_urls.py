"""Lambda function URL handlers: Create/Get/Update/Delete/ListFunctionUrlConfig(s).

A function URL is served by Shoal at ``{how the client reached Shoal}/lambda-url/{urlId}/``.
``AuthType`` ``NONE`` is public; ``AWS_IAM`` serves only requests signed with SigV4 whose
principal IAM allows ``lambda:InvokeFunctionUrl`` (:mod:`shoal.gateway.url_auth`).
"""

from __future__ import annotations

from typing import Any

from shoal.api.dispatch import Call, lambda_api
from shoal.errors import AwsError
from shoal.gateway.models import FunctionUrl
from shoal.gateway.service import GatewayService


def _gateway(call: Call) -> GatewayService:
    gateway: GatewayService = call.shoal.gateway
    return gateway


def _function(call: Call) -> tuple[str, str, str | None]:
    """(name, unqualified ARN, qualifier) of the call's function, which must exist."""
    name_or_arn: str = call.params["FunctionName"]
    qualifier: str | None = call.params.get("Qualifier")
    parts = name_or_arn.split(":")
    # A qualified ARN (arn:aws:lambda:R:A:function:NAME:QUALIFIER) or NAME:QUALIFIER.
    embedded = parts[-1] if len(parts) in (2, 4, 8) else None
    if embedded is not None:
        if qualifier is not None and qualifier != embedded:
            raise AwsError(
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the "
                "specified qualifier.",
            )
        qualifier = embedded
        name_or_arn = ":".join(parts[:-1])
    if qualifier == "$LATEST" or (qualifier is not None and qualifier.isdigit()):
        raise AwsError(
            "InvalidParameterValueException",
            "Function URLs can only be configured for an alias or the unqualified "
            "function, not a version",
        )
    version = call.shoal.functions.resolve(name_or_arn, qualifier)
    return version.name, version.function_arn, qualifier


def _config(url: FunctionUrl, call: Call, *, modified: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "FunctionUrl": _gateway(call).function_url(call.base_url, url.url_id),
        "FunctionArn": url.qualified_arn,
        "AuthType": url.auth_type,
        "Cors": url.cors,
        "CreationTime": _iso(url.created),
        "InvokeMode": url.invoke_mode,
    }
    if modified:
        out["LastModifiedTime"] = _iso(url.modified)
    return out


def _iso(value: Any) -> str:
    # Lambda's timestamps are strings ("2024-01-01T00:00:00.000000Z" for function URLs).
    return str(value.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


@lambda_api.handles("CreateFunctionUrlConfig")
async def create_function_url_config(call: Call) -> dict[str, Any]:
    name, arn, qualifier = _function(call)
    p = call.params
    url = _gateway(call).urls.create(
        name, arn, qualifier, p["AuthType"], p.get("Cors"), p.get("InvokeMode")
    )
    return _config(url, call, modified=False)


@lambda_api.handles("GetFunctionUrlConfig")
async def get_function_url_config(call: Call) -> dict[str, Any]:
    _, arn, qualifier = _function(call)
    return _config(_gateway(call).urls.get(arn, qualifier), call)


@lambda_api.handles("UpdateFunctionUrlConfig")
async def update_function_url_config(call: Call) -> dict[str, Any]:
    _, arn, qualifier = _function(call)
    p = call.params
    url = _gateway(call).urls.update(
        arn, qualifier, p.get("AuthType"), p.get("Cors"), p.get("InvokeMode")
    )
    return _config(url, call)


@lambda_api.handles("DeleteFunctionUrlConfig")
async def delete_function_url_config(call: Call) -> None:
    _, arn, qualifier = _function(call)
    _gateway(call).urls.delete(arn, qualifier)


@lambda_api.handles("ListFunctionUrlConfigs")
async def list_function_url_configs(call: Call) -> dict[str, Any]:
    _, arn, _ = _function(call)
    urls = _gateway(call).urls.list(arn)
    try:
        start = int(call.params.get("Marker") or 0)
    except ValueError:
        raise AwsError("InvalidParameterValueException", "Invalid Marker") from None
    size = min(int(call.params.get("MaxItems") or 50), 50)
    out: dict[str, Any] = {
        "FunctionUrlConfigs": [_config(u, call) for u in urls[start : start + size]]
    }
    if start + size < len(urls):
        out["NextMarker"] = str(start + size)
    return out
