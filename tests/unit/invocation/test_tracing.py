"""Trace headers: a caller's root carried on, a new parent per hop, never sampled."""

from __future__ import annotations

import re
import time

import pytest

from shoal.invocation.tracing import root_of, trace_header

SHAPE = re.compile(r"Root=1-([0-9a-f]{8})-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0")


def test_a_new_header_has_lambdas_shape_and_the_time_in_its_root() -> None:
    header = trace_header()
    m = SHAPE.fullmatch(header)
    assert m is not None, header
    assert abs(int(m.group(1), 16) - time.time()) < 5
    assert trace_header() != header and root_of(trace_header()) != root_of(trace_header())


@pytest.mark.parametrize(
    "incoming",
    [
        "Root=1-5e6722a7-cc56a0b246db7ae02d4da47e",
        "Root=1-5e6722a7-cc56a0b246db7ae02d4da47e;Parent=53995c3f42cd8ad8;Sampled=1",
        "Self=1-67891233-12456789abcdef012345678;Root=1-5e6722a7-cc56a0b246db7ae02d4da47e",
        " root = 1-5E6722A7-CC56A0B246DB7AE02D4DA47E ; Sampled=1",
    ],
)
def test_a_callers_root_is_kept(incoming: str) -> None:
    header = trace_header(incoming)
    assert SHAPE.fullmatch(header), header
    assert header.startswith("Root=1-5e6722a7-cc56a0b246db7ae02d4da47e;Parent=")
    assert "53995c3f42cd8ad8" not in header  # this hop's parent is new


@pytest.mark.parametrize(
    "incoming",
    [None, "", "garbage", "Root=", "Root=1-xyz-abc", "Root=2-5e6722a7-cc56a0b246db7ae02d4da47e",
     "Root=1-5e6722a7-cc56a0b246db7ae02d4da47", "Parent=53995c3f42cd8ad8"],
)  # fmt: skip
def test_a_malformed_root_gets_a_new_trace(incoming: str | None) -> None:
    assert root_of(incoming) is None
    assert SHAPE.fullmatch(trace_header(incoming))
