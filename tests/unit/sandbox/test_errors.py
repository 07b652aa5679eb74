from __future__ import annotations

import os
import signal

from shoal.runtime import errors
from shoal.runtime.errors import FaultException, error_from_exception, make_error
from shoal.sandbox.exits import describe_exit


def _raise_value_error() -> None:
    raise ValueError("bad input")


def test_error_constants_are_aws_names() -> None:
    assert errors.IMPORT_MODULE_ERROR == "Runtime.ImportModuleError"
    assert errors.HANDLER_NOT_FOUND == "Runtime.HandlerNotFound"
    assert errors.USER_CODE_SYNTAX_ERROR == "Runtime.UserCodeSyntaxError"
    assert errors.MALFORMED_HANDLER_NAME == "Runtime.MalformedHandlerName"
    assert errors.MARSHAL_ERROR == "Runtime.MarshalError"


def test_make_error_shape() -> None:
    assert make_error("m", "T", None, "rid") == {
        "errorMessage": "m",
        "errorType": "T",
        "requestId": "rid",
        "stackTrace": [],
    }
    assert "requestId" not in make_error("m", "T", [])


def test_exception_document_has_formatted_frames() -> None:
    try:
        _raise_value_error()
    except ValueError as e:
        doc = error_from_exception(e, "rid")
    assert doc["errorMessage"] == "bad input"
    assert doc["errorType"] == "ValueError"
    assert doc["requestId"] == "rid"
    last = doc["stackTrace"][-1]
    assert last.startswith('  File "') and "in _raise_value_error" in last
    assert 'raise ValueError("bad input")' in last


def test_fault_exception_document() -> None:
    doc = error_from_exception(FaultException(errors.MARSHAL_ERROR, "Unable to marshal"))
    assert doc == {
        "errorMessage": "Unable to marshal",
        "errorType": "Runtime.MarshalError",
        "stackTrace": [],
    }


def test_exit_descriptions_use_lambda_words() -> None:
    assert describe_exit(None) == "signal: killed"
    assert describe_exit(signal.SIGKILL) == "signal: killed"  # raw status: killed by signal 9
    assert describe_exit(3 << 8) == "exit status 3"
    assert describe_exit((128 + signal.SIGSEGV) << 8) == "signal: segmentation fault"
    assert os.WIFEXITED(0) and describe_exit(0) == "exit status 0"
