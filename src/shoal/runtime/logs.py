"""Function logs as Lambda's Python runtime writes them (awslambdaric's formats).

Two kinds of output share an environment's log pipe (fds 1 and 2):

* what the function writes (``print``, C libraries, subprocesses) as raw bytes; the server makes
  one event of each line, as Lambda does for stdout;
* records of the runtime's log sink — ``logging`` records of the root logger's handler, and the
  runtime's own ``[ERROR]`` report of an unhandled exception — each written as one frame
  (:data:`RECORD`: the environment's log token, its level, its length, its UTF-8 text), as
  Lambda's runtime frames them on its telemetry fd: one record is one event, newlines included.

One pipe, so that records and printed lines keep the order they were written in. The token is a
random secret the server gives the runtime at init: bytes printed by chance never make a record
(a function that reads the token out of the runtime's memory can write records, which are its
own application logs; no platform line ever comes from the pipe). A record is written in one
``write`` under a lock: it is not cut by the runtime's other threads; a pipe write over
``PIPE_BUF`` (4 KiB) may still be interleaved with another process's writes.

Formats, with ``AWS_LAMBDA_LOG_FORMAT`` (``Text`` unless ``JSON``) and ``AWS_LAMBDA_LOG_LEVEL``
(the function's ApplicationLogLevel; ``TRACE`` is ``DEBUG``, ``FATAL`` is ``CRITICAL``, as
``logging`` has no such levels), as Lambda sets them:

* Text: ``[LEVEL]\\t2024-01-02T03:04:05.678Z\\t<request id>\\t<message>``, and an error as
  ``[ERROR] Type: message`` then ``Traceback (most recent call last):`` and the frames, their
  leading spaces made no-break spaces (U+00A0) as awslambdaric does.
* JSON: ``{"timestamp", "level", "message", "logger", "requestId"}`` (+ ``stackTrace``,
  ``errorType``, ``errorMessage``, ``location`` with an exception, + the record's extra
  fields), and an error as ``{"timestamp", "level": "ERROR", "errorMessage", "errorType",
  "requestId", "stackTrace"}``.

The root logger's level is left as Python makes it (WARNING) unless ``AWS_LAMBDA_LOG_LEVEL``
says otherwise, as on Lambda: a Text function's ``logging.info`` is shown once the function
sets its logger's level. Since the root logger has a handler, ``logging.basicConfig`` does
nothing, as on Lambda.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import sys
import threading
import time
import traceback
from typing import Any, Optional  # noqa: UP035 (evaluated on 3.8)

LAMBDA_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function "
    "code. However, in rare cases, a Lambda runtime update can cause unexpected function "
    "behavior. For functions using managed runtimes, runtime updates can be triggered by a "
    "function change, or can be applied automatically. To determine if the runtime has been "
    "updated, check the runtime version in the INIT_START log entry. If this error correlates "
    "with a change in the runtime version, you may be able to mitigate this error by "
    "temporarily rolling back to the previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)

FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
DATEFMT = "%Y-%m-%dT%H:%M:%S"
NBSP = "\u00a0"
# A CloudWatch Logs event holds at most 256 KiB: a bigger record is cut there (and a frame
# over the server's limit would end the environment).
RECORD_LIMIT = 256 * 1024

# A record's frame after the token: its level's index in LEVELS, the text's length.
RECORD = struct.Struct(">BI")
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_LEVEL_INDEX = {name: i for i, name in enumerate(LEVELS)}
# logging's level number (rounded down to a multiple of 10) -> Lambda's level name.
_LAMBDA_LEVEL = {0: "INFO", 10: "DEBUG", 20: "INFO", 30: "WARN", 40: "ERROR", 50: "FATAL"}


class LogSink:
    """Writes records into the log pipe (fd 1), framed with the environment's token (set at
    init; until then, and without one, records are dropped: nothing could tell them from
    printed bytes)."""

    def __init__(self) -> None:
        self.token = b""
        # One record at a time, whole. Reentrant: a signal handler that logs while a record is
        # written must not deadlock; new in a forked child (the fork may have come while
        # another thread held it).
        self._lock = threading.RLock()
        os.register_at_fork(after_in_child=self._new_lock)

    def _new_lock(self) -> None:
        self._lock = threading.RLock()

    def record(self, level: str, text: str) -> None:
        if not self.token:
            return
        body = text.encode("utf-8", "backslashreplace")[:RECORD_LIMIT]
        data = self.token + RECORD.pack(_LEVEL_INDEX.get(level, 2), len(body)) + body
        with self._lock:
            _flush(sys.stdout)  # what was printed before the record goes before it
            _flush(sys.stderr)
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(1, view) :]
            except OSError:
                pass  # the pipe is closed: the server is gone


def _flush(stream: Any) -> None:
    try:
        stream.flush()
    except (OSError, ValueError, AttributeError):
        pass  # the user closed or replaced the stream


def lambda_level(levelno: int) -> str:
    return _LAMBDA_LEVEL[min(50, max(0, levelno)) // 10 * 10]


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the invocation in progress (one at a time)."""

    def __init__(self) -> None:
        super().__init__()
        self.request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class TextFormatter(logging.Formatter):
    converter = staticmethod(time.gmtime)

    def __init__(self) -> None:
        super().__init__(FORMAT, DATEFMT)


# LogRecord attributes that are not a record's extra fields in the JSON format.
_RESERVED = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"aws_request_id", "message", "asctime", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """Lambda's JSON shape of a ``logging`` record; None-valued fields are left out."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "timestamp": _iso_ms(record.created),
            "level": lambda_level(record.levelno),
            "message": record.getMessage(),
            "logger": record.name,
        }
        exc = record.exc_info
        if exc and exc[0] is not None:
            doc["stackTrace"] = traceback.format_tb(exc[2])
            doc["errorType"] = exc[0].__name__
            doc["errorMessage"] = str(exc[1])
        doc["requestId"] = getattr(record, "aws_request_id", None)
        if exc and exc[0] is not None:
            doc["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in doc:
                doc[key] = value
        return json.dumps(
            {k: v for k, v in doc.items() if v is not None}, ensure_ascii=False, default=str
        )


def _iso_ms(t: float) -> str:
    return time.strftime(DATEFMT, time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


class LambdaHandler(logging.Handler):
    """The root logger's handler: each record, formatted, is one record of the sink."""

    def __init__(self, sink: LogSink) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - logging's contract: report, never raise
            self.handleError(record)
            return
        self.sink.record(lambda_level(record.levelno), text)


def json_format() -> bool:
    return os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


def configure_logging(sink: LogSink) -> RequestIdFilter:
    """Replace the root logger's handlers with one that sends Lambda's format to ``sink``."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = LambdaHandler(sink)
    handler.setFormatter(JsonFormatter() if json_format() else TextFormatter())
    request_filter = RequestIdFilter()
    handler.addFilter(request_filter)
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = {"TRACE": "DEBUG", "FATAL": "CRITICAL"}.get(level, level)
    if level in ("DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)
    return request_filter


def log_error(sink: Optional[LogSink], doc: dict[str, Any]) -> None:  # noqa: UP045
    """The runtime's report of an unhandled exception (at init or in the handler)."""
    if sink is None:
        return
    if json_format():
        stamp = time.strftime(DATEFMT, time.gmtime())  # awslambdaric's: seconds, no zone
        body = {"timestamp": stamp, "level": "ERROR", **doc}
        body.setdefault("requestId", "")
        sink.record("ERROR", json.dumps(body))
        return
    head = "[ERROR]"
    if doc.get("errorType"):
        head += " " + str(doc["errorType"])
    if doc.get("errorMessage"):
        head += (":" if doc.get("errorType") else "") + " " + str(doc["errorMessage"])
    lines = [head]
    trace = doc.get("stackTrace")
    if trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in trace:
            for line in str(element).splitlines() or [""]:
                stripped = line.lstrip(" ")
                lines.append(NBSP * (len(line) - len(stripped)) + stripped)
    sink.record("ERROR", "\n".join(lines))


__all__ = ["LogSink", "RequestIdFilter", "configure_logging", "log_error"]
