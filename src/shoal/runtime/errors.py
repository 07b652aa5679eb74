"""AWS Lambda's runtime error types and the error document, as awslambdaric words them.

Init failures (``Runtime.ImportModuleError``...) are reported by ``init``; invoke failures by
``invoke``; the server adds the ones that only the outside can see (timeout, exit, OOM).
"""

from __future__ import annotations

import os
import traceback
from types import TracebackType
from typing import Any

# Raised by the runtime (inside the environment).
MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"
BEFORE_SNAPSHOT_ERROR = "Runtime.BeforeSnapshotError"  # a before-snapshot hook raised
AFTER_RESTORE_ERROR = "Runtime.AfterRestoreError"  # an after-restore hook raised

# Lambda's limit on a function's response (6 MiB and 100 bytes: its error message names the
# number), and what it answers instead of a bigger one: this document exactly, no stack trace.
RESPONSE_LIMIT = 6 * 1024 * 1024 + 100
RESPONSE_SIZE_TOO_LARGE = "Function.ResponseSizeTooLarge"


def response_too_large() -> dict[str, Any]:
    return {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        f"({RESPONSE_LIMIT} bytes).",
        "errorType": RESPONSE_SIZE_TOO_LARGE,
    }


# Decided by the server (outside the environment).
EXIT_ERROR = "Runtime.ExitError"
OUT_OF_MEMORY = "Runtime.OutOfMemory"
TIMEOUT = "Sandbox.Timedout"

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))


class FaultException(Exception):
    """A failure with an AWS error type, raised by the runtime itself (not by user code)."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace if trace is not None else []


def make_error(
    message: str, error_type: str, stack_trace: list[str] | None, request_id: str | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {"errorMessage": message, "errorType": error_type}
    if request_id is not None:
        doc["requestId"] = request_id
    doc["stackTrace"] = stack_trace if stack_trace is not None else []
    return doc


def user_stack_trace(tb: TracebackType | None) -> list[str]:
    """``traceback.format_list`` of the frames, without the runtime's own leading frames.

    Formatted from (file, line, name, text) tuples, as awslambdaric does: no column markers
    (``~~^~~``, Python 3.11+), which Lambda's stack traces never show."""
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, frame in enumerate(frames):
        if not frame[0].startswith(_RUNTIME_DIR + os.sep):
            return traceback.format_list(frames[i:])  # type: ignore[arg-type]
    return []


def error_from_exception(exc: BaseException, request_id: str | None = None) -> dict[str, Any]:
    """The document Lambda returns for an exception raised by the handler or at import."""
    if isinstance(exc, FaultException):
        return make_error(exc.message, exc.error_type, exc.trace, request_id)
    return make_error(str(exc), type(exc).__name__, user_stack_trace(exc.__traceback__), request_id)
