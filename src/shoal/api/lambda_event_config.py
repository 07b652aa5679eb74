"""Lambda's asynchronous-invocation settings: Put/Get/Update/Delete/ListFunctionEventInvokeConfig.

The rules live in ``shoal.async_queue.configs`` (:mod:`shoal.invocation.eventconfig`); this
module only maps shapes."""

from __future__ import annotations

from typing import Any

from shoal.api.dispatch import Call, lambda_api
from shoal.api.lambda_functions import paginate
from shoal.invocation.eventconfig import EventInvokeConfigs

LIST_DEFAULT = 50


def _configs(call: Call) -> EventInvokeConfigs:
    configs: EventInvokeConfigs = call.shoal.async_queue.configs
    return configs


@lambda_api.handles("PutFunctionEventInvokeConfig")
async def put_function_event_invoke_config(call: Call) -> dict[str, Any]:
    p = call.params
    configs = _configs(call)
    return configs.render(configs.put(p["FunctionName"], p.get("Qualifier"), p, merge=False))


@lambda_api.handles("UpdateFunctionEventInvokeConfig")
async def update_function_event_invoke_config(call: Call) -> dict[str, Any]:
    p = call.params
    configs = _configs(call)
    return configs.render(configs.put(p["FunctionName"], p.get("Qualifier"), p, merge=True))


@lambda_api.handles("GetFunctionEventInvokeConfig")
async def get_function_event_invoke_config(call: Call) -> dict[str, Any]:
    configs = _configs(call)
    return configs.render(configs.get(call.params["FunctionName"], call.params.get("Qualifier")))


@lambda_api.handles("DeleteFunctionEventInvokeConfig")
async def delete_function_event_invoke_config(call: Call) -> None:
    _configs(call).delete(call.params["FunctionName"], call.params.get("Qualifier"))


@lambda_api.handles("ListFunctionEventInvokeConfigs")
async def list_function_event_invoke_configs(call: Call) -> dict[str, Any]:
    configs = _configs(call)
    found = configs.list(call.params["FunctionName"])
    limit = call.params.get("MaxItems", LIST_DEFAULT)
    page, marker = paginate(found, lambda c: [c.qualifier], call.params.get("Marker"), limit)
    return {
        "FunctionEventInvokeConfigs": [configs.render(c) for c in page],
        "NextMarker": marker,
    }
