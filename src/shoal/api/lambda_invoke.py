"""Invoke: the Lambda operation on the hot path (sync, Event, DryRun)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoal.api.dispatch import Call, lambda_api
from shoal.errors import AwsError
from shoal.invocation.tracing import trace_header

# What Lambda sends with an answer that has a payload (the function's result or its error
# document, both JSON). The 202 of an Event has no body, no type and no executed version
# (recorded from Lambda: Date, Content-Length 0, x-amzn-RequestId, x-amzn-Remapped-Content-Length,
# X-Amzn-Trace-Id); the 204 of a DryRun is answered the same way.
_JSON = (("Content-Type", "application/json"),)
INVOKE_ASYNC_LIMIT = 256 * 1024  # the deprecated InvokeAsync's payload limit, as documented


@lambda_api.handles("Invoke")
async def invoke(call: Call) -> Mapping[str, Any]:
    """The invocation runs under the API request's id: the one in x-amzn-RequestId is the
    one in the START/END/REPORT lines and the context's ``aws_request_id``, as on Lambda."""
    p = call.params
    result = await call.shoal.invoker.invoke(
        p["FunctionName"],
        p.get("Qualifier"),
        p.get("Payload", b""),
        invocation_type=p.get("InvocationType", "RequestResponse"),
        log_type=p.get("LogType", "None"),
        client_context=p.get("ClientContext"),
        request_id=call.request_id,
        # A caller's X-Amzn-Trace-Id carries its trace into the function (_X_AMZN_TRACE_ID).
        trace_id=trace_header(call.headers.get("x-amzn-trace-id")),
    )
    ran = result.status_code == 200
    if ran:
        call.response_headers = _JSON
    return {
        "StatusCode": result.status_code,
        "FunctionError": result.function_error,
        "LogResult": result.log_result,
        "ExecutedVersion": result.executed_version if ran else None,
        "Payload": result.payload,
    }


@lambda_api.handles("InvokeAsync")
async def invoke_async(call: Call) -> Mapping[str, Any]:
    """The deprecated asynchronous invoke: an Event invocation (durably queued, retried like
    any other), answered 202 with ``Status: 202``."""
    p = call.params
    args = p.get("InvokeArgs", b"")
    if len(args) > INVOKE_ASYNC_LIMIT:
        raise AwsError(
            "RequestTooLargeException",
            f"Request must be smaller than {INVOKE_ASYNC_LIMIT} bytes for the InvokeAsync "
            "operation",
        )
    result = await call.shoal.invoker.invoke(
        p["FunctionName"],
        None,
        args,
        invocation_type="Event",
        request_id=call.request_id,
        trace_id=trace_header(call.headers.get("x-amzn-trace-id")),
    )
    return {"Status": result.status_code}
