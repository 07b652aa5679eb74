"""Lambda's concurrency operations: reserved (per function) and provisioned (per version or
alias). The rules live in ``shoal.invoker.concurrency`` (:mod:`shoal.invocation.concurrency`);
this module only maps shapes."""

from __future__ import annotations

from typing import Any

from shoal.api.dispatch import Call, lambda_api
from shoal.api.lambda_functions import paginate
from shoal.invocation.concurrency import ConcurrencyControls, render

LIST_DEFAULT = 50


def _controls(call: Call) -> ConcurrencyControls:
    controls: ConcurrencyControls = call.shoal.invoker.concurrency
    return controls


@lambda_api.handles("PutFunctionConcurrency")
async def put_function_concurrency(call: Call) -> dict[str, Any]:
    value = call.params["ReservedConcurrentExecutions"]
    _controls(call).reserve(call.params["FunctionName"], value)
    return {"ReservedConcurrentExecutions": value}


@lambda_api.handles("GetFunctionConcurrency")
async def get_function_concurrency(call: Call) -> dict[str, Any]:
    return {"ReservedConcurrentExecutions": _controls(call).reserved(call.params["FunctionName"])}


@lambda_api.handles("DeleteFunctionConcurrency")
async def delete_function_concurrency(call: Call) -> None:
    _controls(call).reserve(call.params["FunctionName"], None)


@lambda_api.handles("PutProvisionedConcurrencyConfig")
async def put_provisioned_concurrency_config(call: Call) -> dict[str, Any]:
    p = call.params
    status = _controls(call).put(
        p["FunctionName"], p["Qualifier"], p["ProvisionedConcurrentExecutions"]
    )
    return render(status)


@lambda_api.handles("GetProvisionedConcurrencyConfig")
async def get_provisioned_concurrency_config(call: Call) -> dict[str, Any]:
    return render(_controls(call).get(call.params["FunctionName"], call.params["Qualifier"]))


@lambda_api.handles("DeleteProvisionedConcurrencyConfig")
async def delete_provisioned_concurrency_config(call: Call) -> None:
    _controls(call).delete(call.params["FunctionName"], call.params["Qualifier"])


@lambda_api.handles("ListProvisionedConcurrencyConfigs")
async def list_provisioned_concurrency_configs(call: Call) -> dict[str, Any]:
    statuses = _controls(call).list(call.params["FunctionName"])
    limit = call.params.get("MaxItems", LIST_DEFAULT)
    page, marker = paginate(
        statuses, lambda s: [s.config.qualifier], call.params.get("Marker"), limit
    )
    return {
        "ProvisionedConcurrencyConfigs": [render(s, with_arn=True) for s in page],
        "NextMarker": marker,
    }
