from __future__ import annotations

import decimal
import json
import logging
import socket
import threading
import time

import pytest

from shoal.runtime import bootstrap, frames, logs
from shoal.runtime.context import LambdaContext
from shoal.runtime.errors import RESPONSE_LIMIT, FaultException
from shoal.sandbox.logpipe import LogPipe, new_token
from shoal.sandbox.types import LogRecord


def test_empty_payload_is_empty_dict() -> None:
    assert bootstrap.parse_event(b"") == {}
    assert bootstrap.parse_event(b"  \n") == {}
    assert bootstrap.parse_event(b'{"a": [1]}') == {"a": [1]}


def test_bad_payload_is_unmarshal_error() -> None:
    with pytest.raises(FaultException) as info:
        bootstrap.parse_event(b"{nope")
    assert info.value.error_type == "Runtime.UnmarshalError"


def test_to_json_marshal_error_and_decimals() -> None:
    assert json.loads(bootstrap.to_json({"d": decimal.Decimal("1.5"), "n": None})) == {
        "d": 1.5,
        "n": None,
    }
    with pytest.raises(FaultException) as info:
        bootstrap.to_json({1, 2})
    assert info.value.error_type == "Runtime.MarshalError"
    assert info.value.message == (
        "Unable to marshal response: Object of type set is not JSON serializable"
    )


def test_context_fields_and_remaining_time() -> None:
    ctx = LambdaContext(
        "rid",
        int(time.time() * 1000) + 5000,
        "arn:fn",
        "fn",
        "$LATEST",
        256,
        "/aws/lambda/fn",
        "stream",
        '{"custom": {"k": "v"}}',
    )
    assert 4000 < ctx.get_remaining_time_in_millis() <= 5000
    assert ctx.client_context is not None and ctx.client_context.custom == {"k": "v"}
    assert ctx.identity.cognito_identity_id is None
    expired = LambdaContext("rid", 0, "a", "f", "1", 128, "g", "s")
    assert expired.get_remaining_time_in_millis() == 0 and expired.client_context is None


def test_log_format_is_lambdas() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("w",), None)
    record.created = 0.0
    record.msecs = 5
    record.aws_request_id = "rid-1"
    line = logs.TextFormatter().format(record)
    assert line == "[WARNING]\t1970-01-01T00:00:00.005Z\trid-1\thello w"
    doc = json.loads(logs.JsonFormatter().format(record))
    assert doc == {
        "timestamp": "1970-01-01T00:00:00.000Z",
        "level": "WARN",
        "message": "hello w",
        "logger": "x",
        "requestId": "rid-1",
    }


def test_error_records_are_awslambdarics(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    sink = logs.LogSink()
    sink.record("INFO", "no token yet: dropped")
    pipe = LogPipe()
    sink.token = pipe.token = new_token()
    trace = ['  File "/var/task/app.py", line 2, in handler\n    return 1 / 0\n']
    logs.log_error(sink, {"errorMessage": "division by zero", "errorType": "ZeroDivisionError",
                          "requestId": "r", "stackTrace": trace})  # fmt: skip
    logs.log_error(sink, {"errorMessage": "", "errorType": "Runtime.X", "stackTrace": []})
    sink.record("DEBUG", "x" * (logs.RECORD_LIMIT + 10))
    got = pipe.feed(capfdbinary.readouterr().out)
    assert got == [
        LogRecord(
            "ERROR",
            "[ERROR] ZeroDivisionError: division by zero\nTraceback (most recent call last):\n"
            '\u00a0\u00a0File "/var/task/app.py", line 2, in handler\n'
            "\u00a0\u00a0\u00a0\u00a0return 1 / 0",
        ),
        LogRecord("ERROR", "[ERROR] Runtime.X\nTraceback (most recent call last):"),
        LogRecord("DEBUG", "x" * logs.RECORD_LIMIT),
    ]


def test_the_log_pipe_takes_records_out_of_output_cut_anywhere() -> None:
    token = new_token()
    record = token + logs.RECORD.pack(3, 9) + "caf\u00e9\nok!".encode()
    stream = b"printed\n" + record + b"partial" + token[:5] + b"\n" + record + b"\0end"
    expected = [b"printed\n", LogRecord("WARN", "caf\u00e9\nok!"), b"partial" + token[:5] + b"\n",
                LogRecord("WARN", "caf\u00e9\nok!"), b"\0end"]  # fmt: skip
    for cut in range(1, len(stream)):
        pipe = LogPipe()
        pipe.token = token
        items = pipe.feed(stream[:cut]) + pipe.feed(stream[cut:]) + pipe.flush()
        merged: list[bytes | LogRecord] = []
        for item in items:
            if isinstance(item, bytes) and merged and isinstance(merged[-1], bytes):
                merged[-1] += item
            else:
                merged.append(item)
        assert merged == expected, cut
    forged = LogPipe()
    forged.token = token
    big = token + logs.RECORD.pack(1, logs.RECORD_LIMIT + 1)
    assert b"".join(x for x in forged.feed(big + b"rest") if isinstance(x, bytes)) == big + b"rest"


def test_a_response_over_lambdas_limit_is_lambdas_error_and_the_loop_goes_on() -> None:
    server, env = socket.socketpair()
    runtime = bootstrap.Runtime(env)
    runtime.init_frame = {"function_name": "fn"}
    runtime.handler = lambda event, context: "a" * (event["n"] - 2)
    try:
        reader = frames.FrameReader(server)
        loop = threading.Thread(target=runtime.serve)
        loop.start()
        assert reader.recv() == ({"op": "ready"}, b"")
        replies = []
        for n in (RESPONSE_LIMIT, RESPONSE_LIMIT + 1, 2):
            payload = json.dumps({"n": n}).encode()
            head = {"op": "invoke", "request_id": "r", "deadline_ms": 2**41}
            frames.send_frame(server, head, payload)
            replies.append(reader.recv())
        server.shutdown(socket.SHUT_WR)
        loop.join(10)
    finally:
        server.close()
        env.close()
    (ok, body), (too, error), (after, small) = replies
    assert ok["ok"] is True and len(body) == RESPONSE_LIMIT
    assert too["ok"] is False and json.loads(error) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    assert after["ok"] is True and small == b'""'
