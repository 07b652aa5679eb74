"""Invoke: the Lambda operation on the hot path (sync, Event, DryRun)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoal.api.dispatch import Call, lambda_api
from shoal.invocation.tracing import trace_header


@lambda_api.handles("Invoke")
async def invoke(call: Call) -> Mapping[str, Any]:
    p = call.params
    result = await call.shoal.invoker.invoke(
        p["FunctionName"],
        p.get("Qualifier"),
        p.get("Payload", b""),
        invocation_type=p.get("InvocationType", "RequestResponse"),
        log_type=p.get("LogType", "None"),
        client_context=p.get("ClientContext"),
        # A caller's X-Amzn-Trace-Id carries its trace into the function (_X_AMZN_TRACE_ID).
        trace_id=trace_header(call.headers.get("x-amzn-trace-id")),
    )
    return {
        "StatusCode": result.status_code,
        "FunctionError": result.function_error,
        "LogResult": result.log_result,
        "ExecutedVersion": result.executed_version,
        "Payload": result.payload,
    }


@lambda_api.handles("InvokeAsync")
async def invoke_async(call: Call) -> Mapping[str, Any]:
    """The deprecated asynchronous invoke: an Event invocation (durably queued, retried like
    any other), answered 202 with ``Status: 202``."""
    p = call.params
    result = await call.shoal.invoker.invoke(
        p["FunctionName"],
        None,
        p.get("InvokeArgs", b""),
        invocation_type="Event",
        trace_id=trace_header(call.headers.get("x-amzn-trace-id")),
    )
    return {"Status": result.status_code}
