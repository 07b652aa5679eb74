"""The runtime loop inside an environment (the part awslambdaric plays in Lambda).

Runs as the environment's unprivileged user, after the sandbox is built. Protocol on the
control socket (frames from :mod:`.frames`), strictly one request at a time:

    env -> server  {"op": "ready"}                          once, when the sandbox is up
    server -> env  {"op": "init", "handler", "memory_mb", "function_name",
                    "log_group_name", "log_stream_name", "log_token"}
    env -> server  {"op": "init_done", "error": null | {errorType, errorMessage, stackTrace}}
    server -> env  {"op": "invoke", "request_id", "arn", "version", "deadline_ms",
                    "client_context", "trace_id"[, "environment"]} + payload
    env -> server  {"op": "result", "ok": bool, "output": bool} + JSON result or JSON error
                   document ("output": the log pipe may hold output the server has not read),
                   never more than RESPONSE_LIMIT bytes: a bigger one is replaced by Lambda's
                   Function.ResponseSizeTooLarge error (the server cuts off a bigger frame)

Snapshot starts (see :mod:`.template` and :mod:`.restore`) add one request, valid once, after
a successful init, in an environment spawned as a template:

    server -> env  {"op": "snapshot"}
    env -> server  {"op": "snapshot_done", "error": null | {errorType, ...}}

after which ``serve`` returns and the worker serves fork requests instead. In an environment
forked from a template, ``init`` runs the after-restore hooks instead of importing the handler
(the handler is already loaded: it was imported once, in the template).

``environment``, when present, holds variables to put in ``os.environ`` before the handler runs:
the execution role's renewed credentials (:mod:`shoal.invocation.credentials`), for this and
every later invocation.

``trace_id`` is the invocation's ``_X_AMZN_TRACE_ID``: set in ``os.environ`` before the handler
runs and left there until the next invoke replaces it, as Lambda's runtime interface client
does (libraries read it from the environment: Powertools' Logger, the X-Ray SDK).

stdout and stderr are flushed *before* each reply, so that everything the handler printed is
already in the log pipe when the server reads the reply.

``log_token`` (hex, the server's secret for this environment; a restored environment's init
brings its own) marks the log records that the runtime writes into the same pipe, in order with
what the function prints (:mod:`.logs`).
"""

from __future__ import annotations

import decimal
import fcntl
import gc
import importlib
import io
import json
import logging
import os
import sys
import termios
import time
from collections.abc import Mapping
from typing import Any

from . import frames
from . import snapshot_restore_py as hooks
from .context import LambdaContext
from .errors import (
    AFTER_RESTORE_ERROR,
    BEFORE_SNAPSHOT_ERROR,
    MARSHAL_ERROR,
    RESPONSE_LIMIT,
    UNMARSHAL_ERROR,
    FaultException,
    error_from_exception,
    make_error,
    response_too_large,
)
from .handler import Handler, load_handler
from .logs import LAMBDA_WARNING, LogSink, RequestIdFilter, configure_logging, log_error


def apply_environment(environment: Mapping[str, str], stdlib_path: list[str]) -> None:
    """Make ``os.environ`` exactly ``environment`` and rebuild ``sys.path`` the way a fresh
    interpreter would have: /var/task, then $PYTHONPATH (the interpreter is already running,
    so the variable must be applied by hand), then the standard library. Layers' directories
    come right after /var/task, as on Lambda's Python runtimes: the site directory
    /opt/python/lib/python3.N/site-packages, then /opt/python. The runtime's bundled AWS SDK
    comes after $PYTHONPATH, so that a function's or a layer's own boto3 wins, as on Lambda."""
    os.environ.clear()
    os.environ.update(environment)
    extra = [p for p in environment.get("PYTHONPATH", "").split(os.pathsep) if p]
    path = []
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    layers = [f"/opt/python/lib/{version}/site-packages", "/opt/python"]
    sdk = [f"/var/lang/lib/{version}/site-packages"]  # the bundled boto3 (rootfs.sdk_site)
    for entry in ["/var/task"] + layers + extra + sdk + list(stdlib_path):
        if entry not in path:
            path.append(entry)
    sys.path[:] = path
    importlib.invalidate_caches()
    if "TZ" in environment and hasattr(time, "tzset"):
        time.tzset()


def reopen_std_streams() -> None:
    """Fresh text streams on fds 1 and 2 (now the log pipe), line-buffered like a terminal so
    that output interleaves in order; nothing buffered in the zygote can leak into them."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = io.TextIOWrapper(
            io.FileIO(fd, "w", closefd=False),
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdin = stdin
    sys.__stdin__ = stdin  # type: ignore[misc]


def _json_default(o: Any) -> Any:
    if isinstance(o, decimal.Decimal):
        return float(o) if o % 1 else int(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def to_json(value: Any) -> bytes:
    try:
        return json.dumps(value, default=_json_default).encode()
    except (TypeError, ValueError, OverflowError, RecursionError) as e:
        raise FaultException(MARSHAL_ERROR, f"Unable to marshal response: {e}") from None


def parse_event(payload: bytes) -> Any:
    if not payload.strip():
        return {}  # Lambda hands the handler {} when the invoke had no payload
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as e:
        raise FaultException(UNMARSHAL_ERROR, f"Unable to unmarshal input: {e}") from None


def flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # the user closed or broke the stream; the reply must still go out


# The invoke reply's headers, encoded once: (ok, output) -> header.
_RESULT_HEADS = {
    (ok, output): frames.encode_header({"op": "result", "ok": ok, "output": output})
    for ok in (True, False)
    for output in (True, False)
}
_PENDING = bytearray(4)  # FIONREAD's answer
_TOO_LARGE = json.dumps(response_too_large()).encode()


def output_pending(fds: tuple[int, ...] = (1, 2)) -> bool:
    """Whether the log pipe (fds 1 and 2) holds bytes the server has not read yet. Sent with
    the reply, so that the server reads the pipe before the reply's REPORT only when there is
    something to read (most invocations print nothing). True when unsure."""
    for fd in fds:
        try:
            fcntl.ioctl(fd, termios.FIONREAD, _PENDING)
        except OSError:
            return True  # closed or not a pipe any more: let the server look
        if _PENDING != b"\0\0\0\0":
            return True
    return False


class Runtime:
    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.handler: Handler | None = None
        self.init_frame: dict[str, Any] = {}
        self.request_filter: RequestIdFilter | None = None
        self.init_error: dict[str, Any] | None = None
        self.template = False  # the snapshot was taken: this worker now only forks
        self.restored = False  # this worker was forked from a template
        self.log_sink = LogSink()

    def serve(self) -> None:
        frames.send_frame(self.sock, {"op": "ready"})
        reader = frames.FrameReader(self.sock)
        while True:
            frame = reader.recv()
            if frame is None:
                return
            header, body = frame
            op = header.get("op")
            if op == "invoke":
                ok, result = self.invoke(header, body)
                if len(result) > RESPONSE_LIMIT:
                    # Lambda's answer; the environment goes on serving, as Lambda's does.
                    ok, result = False, _TOO_LARGE
                flush_std_streams()
                head = _RESULT_HEADS[ok, output_pending()]
                self.sock.sendall(frames.pack(head, result))
            elif op == "init":
                error = self.init(header)
                flush_std_streams()
                frames.send_frame(self.sock, {"op": "init_done", "error": error})
            elif op == "snapshot":
                error = self.snapshot()
                flush_std_streams()
                frames.send_frame(self.sock, {"op": "snapshot_done", "error": error})
                if error is None:
                    self.template = True
                    return
            else:
                frames.send_frame(self.sock, {"op": "error", "message": f"unknown op {op!r}"})

    def init(self, header: dict[str, Any]) -> dict[str, Any] | None:
        if self.restored:
            return self.restore(header)
        self.init_frame = header
        self.log_sink.token = bytes.fromhex(str(header.get("log_token", "")))
        self.request_filter = configure_logging(self.log_sink)
        # User code imports the hooks as ``snapshot_restore_py``: make that name this module.
        sys.modules.setdefault("snapshot_restore_py", hooks)
        try:
            self.handler = load_handler(str(header["handler"]))
        except Exception as e:  # any exception at import is an init error, as in Lambda
            self.init_error = error_from_exception(e)
            logging.warning(LAMBDA_WARNING)  # what Lambda's runtime logs first
            self.log_error(self.init_error)
        return self.init_error

    def log_error(self, doc: dict[str, Any]) -> None:
        """Lambda's ``[ERROR]`` record of an unhandled exception."""
        log_error(self.log_sink, doc)

    def snapshot(self) -> dict[str, Any] | None:
        """Before-snapshot hooks, then freeze the heap for the forks to come."""
        if self.handler is None or self.template or self.restored:
            return make_error("a snapshot needs a successful init, once", BEFORE_SNAPSHOT_ERROR, [])
        try:
            hooks.run_before_snapshot()
        except Exception as e:
            error = _hook_error(e, BEFORE_SNAPSHOT_ERROR)
            self.log_error(error)
            return error
        # Every object created so far moves to the permanent generation: the collector never
        # touches them again, so their pages stay shared with the template after each fork.
        gc.collect()
        gc.freeze()
        return None

    def restore(self, header: dict[str, Any]) -> dict[str, Any] | None:
        """The init of a restored environment: its own names (log stream...), then the
        after-restore hooks."""
        self.init_frame = dict(self.init_frame, **header)
        self.log_sink.token = bytes.fromhex(str(header.get("log_token", "")))  # its own pipe's
        try:
            hooks.run_after_restore()
        except Exception as e:
            error = _hook_error(e, AFTER_RESTORE_ERROR)
            self.log_error(error)
            return error
        return None

    def invoke(self, header: dict[str, Any], body: bytes) -> tuple[bool, bytes]:
        request_id = str(header["request_id"])
        if self.request_filter is not None:
            self.request_filter.request_id = request_id
        if self.handler is None:
            # Lambda answers every invoke of an environment whose init failed with that error.
            doc = dict(self.init_error or make_error("init was not run", "Runtime.Unknown", []))
            doc["requestId"] = request_id
            return False, json.dumps(doc).encode()
        renewed = header.get("environment")
        if renewed:
            os.environ.update(renewed)
        trace = header.get("trace_id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        init = self.init_frame
        context = LambdaContext(
            aws_request_id=request_id,
            deadline_ms=int(header["deadline_ms"]),
            invoked_function_arn=str(header.get("arn", "")),
            function_name=str(init.get("function_name", "")),
            function_version=str(header.get("version", "$LATEST")),
            memory_limit_in_mb=int(init.get("memory_mb", 128)),
            log_group_name=str(init.get("log_group_name", "")),
            log_stream_name=str(init.get("log_stream_name", "")),
            client_context=header.get("client_context"),
        )
        try:
            event = parse_event(body)
            return True, to_json(self.handler(event, context))
        except Exception as e:
            doc = error_from_exception(e, request_id)
            self.log_error(doc)
            return False, json.dumps(doc).encode()


def _hook_error(exc: Exception, error_type: str) -> dict[str, Any]:
    """Lambda reports a failed hook under its own error type, naming the exception."""
    doc = error_from_exception(exc)
    doc["errorMessage"] = f"{type(exc).__name__}: {exc}"
    doc["errorType"] = error_type
    return doc
