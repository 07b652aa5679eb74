"""Lambda's code signing operations: configurations, and a function's link to one.

The rules (Warn only, links dropped with their function) are in
:mod:`shoal.functions.codesigning`; this module maps shapes. A function without a configuration
answers ``GetFunctionCodeSigningConfig`` with 200 and an empty body, as Lambda does (Terraform
reads it on every refresh and destroy).
"""

from __future__ import annotations

from typing import Any

from shoal.api.dispatch import Call, lambda_api
from shoal.api.lambda_functions import paginate
from shoal.functions.codesigning import CodeSigningConfig, CodeSigningService

LIST_DEFAULT = 50


def _svc(call: Call) -> CodeSigningService:
    service: CodeSigningService = call.shoal.code_signing
    return service


def _render(config: CodeSigningConfig) -> dict[str, Any]:
    return {
        "CodeSigningConfigId": config.id,
        "CodeSigningConfigArn": config.arn,
        "Description": config.description,
        "AllowedPublishers": {"SigningProfileVersionArns": list(config.publishers)},
        "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": config.policy},
        "LastModified": config.last_modified,
    }


def _function_arn(call: Call) -> str:
    arn: str = call.shoal.functions.function(call.params["FunctionName"])[0]
    return arn


def _name(function_arn: str) -> str:
    return function_arn.rsplit(":", 1)[-1]


@lambda_api.handles("CreateCodeSigningConfig")
async def create_code_signing_config(call: Call) -> dict[str, Any]:
    return {"CodeSigningConfig": _render(_svc(call).create(call.region, call.params))}


@lambda_api.handles("GetCodeSigningConfig")
async def get_code_signing_config(call: Call) -> dict[str, Any]:
    return {
        "CodeSigningConfig": _render(
            _svc(call).get(call.params["CodeSigningConfigArn"], call.region)
        )
    }


@lambda_api.handles("UpdateCodeSigningConfig")
async def update_code_signing_config(call: Call) -> dict[str, Any]:
    _svc(call).get(call.params["CodeSigningConfigArn"], call.region)
    config = _svc(call).update(call.params["CodeSigningConfigArn"], call.params)
    return {"CodeSigningConfig": _render(config)}


@lambda_api.handles("DeleteCodeSigningConfig")
async def delete_code_signing_config(call: Call) -> None:
    _svc(call).get(call.params["CodeSigningConfigArn"], call.region)
    _svc(call).delete(call.params["CodeSigningConfigArn"])


@lambda_api.handles("ListCodeSigningConfigs")
async def list_code_signing_configs(call: Call) -> dict[str, Any]:
    limit = call.params.get("MaxItems", LIST_DEFAULT)
    page, marker = paginate(
        _svc(call).all(call.region), lambda c: [c.id], call.params.get("Marker"), limit
    )
    return {"CodeSigningConfigs": [_render(c) for c in page], "NextMarker": marker}


@lambda_api.handles("ListFunctionsByCodeSigningConfig")
async def list_functions_by_code_signing_config(call: Call) -> dict[str, Any]:
    svc = _svc(call)
    arn = call.params["CodeSigningConfigArn"]
    svc.get(arn, call.region)
    arns = svc.functions_using(arn)
    limit = call.params.get("MaxItems", LIST_DEFAULT)
    page, marker = paginate(arns, lambda a: [a], call.params.get("Marker"), limit)
    return {"FunctionArns": page, "NextMarker": marker}


@lambda_api.handles("PutFunctionCodeSigningConfig")
async def put_function_code_signing_config(call: Call) -> dict[str, Any]:
    svc = _svc(call)
    arn = call.params["CodeSigningConfigArn"]
    svc.check_exists(arn)
    function = _function_arn(call)
    svc.link(function, arn)
    return {"CodeSigningConfigArn": arn, "FunctionName": _name(function)}


@lambda_api.handles("GetFunctionCodeSigningConfig")
async def get_function_code_signing_config(call: Call) -> dict[str, Any]:
    function = _function_arn(call)
    arn = _svc(call).config_of(function)
    return {"CodeSigningConfigArn": arn, "FunctionName": _name(function)} if arn else {}


@lambda_api.handles("DeleteFunctionCodeSigningConfig")
async def delete_function_code_signing_config(call: Call) -> None:
    _svc(call).link(_function_arn(call), None)
