"""The lines Lambda's platform writes to a function's log, in its LoggingConfig's format.

Text (as Lambda writes them): ``START RequestId: ID Version: V``, ``END RequestId: ID``,
``REPORT RequestId: ID\\tDuration: ...`` and ``INIT_REPORT ...`` on a failed init. JSON (the
developer guide's system-log shapes): ``{"time", "type": "platform.start", "record":
{"requestId", "version"}}``, ``{"time", "type": "platform.report", "record": {"requestId",
"metrics": {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"[,
"initDurationMs" | "restoreDurationMs"]}, "status"[, "errorType"]}}`` (the telemetry API's
names; ``status`` is ``success``, ``error`` or ``timeout``, with the error's type) and
``platform.initReport``, kept or dropped by SystemLogLevel (all of them are INFO events). JSON
has no END: Lambda writes none.

The invoker stores them as platform events (``LogStream.events(..., platform=True)``): a
function cannot write one, whatever it prints.
"""

from __future__ import annotations

import json
import time
from typing import Any

from shoal.functions.models import FunctionVersion
from shoal.sandbox.types import InvokeResult

SNAP_START = "snap-start"  # AWS_LAMBDA_INITIALIZATION_TYPE of snapshot-started environments
# InvokeResult.kind -> platform.report's status
_STATUS = {"success": "success", "error": "error", "timeout": "timeout"}


def _time() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def _json(kind: str, record: dict[str, Any]) -> str:
    return json.dumps({"time": _time(), "type": kind, "record": record})


def _billed(ms: float) -> int:
    return max(1, int(ms + 0.999))


def start(fn: FunctionVersion, request_id: str) -> list[str]:
    if not fn.logging.json:
        return [f"START RequestId: {request_id} Version: {fn.version}"]
    if not fn.logging.keeps_system("INFO"):
        return []
    return [_json("platform.start", {"requestId": request_id, "version": fn.version})]


def failure(fn: FunctionVersion, request_id: str, payload: bytes) -> list[str]:
    """The line of an invocation the environment did not survive (timeout, crash, OOM): Text
    only; in JSON the report's status and errorType say it."""
    if fn.logging.json:
        return []
    return [f"{_now()} {request_id} " + payload.decode(errors="replace")]


def end(
    fn: FunctionVersion,
    request_id: str,
    result: InvokeResult,
    init_duration_ms: float | None,
    init_type: str,
    error_type: str | None,
) -> list[str]:
    """END and REPORT (Text), or platform.report (JSON)."""
    duration = result.duration_ms
    if not fn.logging.json:
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {_billed(duration)} ms\t"
            f"Memory Size: {fn.memory_size} MB\tMax Memory Used: {result.max_memory_used_mb} MB"
        )
        if init_duration_ms is not None:
            if init_type == SNAP_START:
                # A restored environment did not init: Lambda reports the restore instead.
                report += (
                    f"\tRestore Duration: {init_duration_ms:.2f} ms\t"
                    f"Billed Restore Duration: {_billed(init_duration_ms)} ms"
                )
            else:
                report += f"\tInit Duration: {init_duration_ms:.2f} ms"
        return [f"END RequestId: {request_id}", report + "\t"]
    if not fn.logging.keeps_system("INFO"):
        return []
    metrics: dict[str, Any] = {
        "durationMs": round(duration, 2),
        "billedDurationMs": _billed(duration),
        "memorySizeMB": fn.memory_size,
        "maxMemoryUsedMB": result.max_memory_used_mb,
    }
    if init_duration_ms is not None:
        if init_type == SNAP_START:
            metrics["restoreDurationMs"] = round(init_duration_ms, 2)
        else:
            metrics["initDurationMs"] = round(init_duration_ms, 2)
    record: dict[str, Any] = {
        "requestId": request_id,
        "metrics": metrics,
        "status": _STATUS.get(result.kind, "error"),
    }
    if result.kind != "success" and error_type:
        record["errorType"] = error_type
    return [_json("platform.report", record)]


def init_failed(
    fn: FunctionVersion, duration_ms: float, init_type: str, error: dict[str, Any]
) -> list[str]:
    error_type = error.get("errorType")
    if not fn.logging.json:
        return [
            f"INIT_REPORT Init Duration: {duration_ms:.2f} ms\tPhase: init\t"
            f"Status: error\tError Type: {error_type}"
        ]
    if not fn.logging.keeps_system("INFO"):
        return []
    record = {
        "initializationType": init_type,
        "phase": "init",
        "status": "error",
        "errorType": error_type,
        "metrics": {"durationMs": round(duration_ms, 2)},
    }
    return [_json("platform.initReport", record)]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"
