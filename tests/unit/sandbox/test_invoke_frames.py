"""The server's invoke frames are byte for byte what frames.encode makes of the header dict."""

from __future__ import annotations

import pytest

from shoal.runtime import frames
from shoal.sandbox.control import InvokeFrames
from shoal.sandbox.types import InvokeRequest


def header(req: InvokeRequest, deadline_ms: int) -> dict[str, object]:
    out: dict[str, object] = {
        "op": "invoke",
        "request_id": req.request_id,
        "arn": req.invoked_function_arn,
        "version": req.function_version,
        "deadline_ms": deadline_ms,
        "client_context": req.client_context,
        "trace_id": req.trace_id,
    }
    if req.environment:  # renewed credentials, only when there are some
        out["environment"] = dict(req.environment)
    return out


@pytest.mark.parametrize(
    "req",
    [
        InvokeRequest("7d3c0f3e-aaaa-4bbb-8ccc-123456789abc", b"{}", "arn:fn", "$LATEST", 1),
        InvokeRequest(
            "r", b"", "arn:aws:lambda:us-east-1:1:function:f:3", "3", 2, '{"a": "\\u00e9"}'
        ),
        InvokeRequest(
            'q"uote\\', b"\x00\xff" * 10, 'arn:"odd"\n', "v\u00e9", 3, "caf\u00e9 \U0001f600"
        ),
        InvokeRequest(
            "r",
            b"{}",
            "arn:fn",
            "$LATEST",
            4,
            trace_id="Root=1-5e6722a7-cc56a0b246db7ae02d4da47e;Parent=53995c3f42cd8ad8;Sampled=0",
        ),
        InvokeRequest(
            "r", b"{}", "arn:fn", "$LATEST", 5,
            environment={"AWS_ACCESS_KEY_ID": "ASIA\u00e9", "AWS_SESSION_TOKEN": 'a"b\\c'},
        ),  # fmt: skip
    ],
)
def test_same_bytes_as_the_generic_encoder(req: InvokeRequest) -> None:
    enc = InvokeFrames()
    for deadline in (0, 1_700_000_000_123):
        assert enc.encode(req, deadline) == frames.encode(header(req, deadline), req.payload)
    decoded = frames.FrameDecoder().feed(enc.encode(req, 5))
    assert decoded == [(header(req, 5), req.payload)]


def test_a_new_arn_or_version_is_encoded_anew() -> None:
    enc = InvokeFrames()
    a = InvokeRequest("r", b"{}", "arn:a", "1", 9)
    b = InvokeRequest("r", b"{}", "arn:b", "2", 9)
    for req in (a, b, a):
        assert enc.encode(req, 9) == frames.encode(header(req, 9), req.payload)


def test_renewed_variables_are_never_in_a_repr() -> None:
    req = InvokeRequest("r", b"{}", "arn:fn", "$LATEST", 1, environment={"K": "secret"})
    assert "secret" not in repr(req)
