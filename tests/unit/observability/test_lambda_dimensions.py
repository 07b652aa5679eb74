"""The AWS/Lambda series one invocation makes: Lambda's dimension sets and units."""

from __future__ import annotations

from collections import deque
from typing import Any

from shoal.observability.lambda_metrics import LambdaMetrics

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:f"


def series(event_calls: Any) -> set[tuple[str, tuple[tuple[str, str], ...], str, float]]:
    events: deque[tuple[Any, ...]] = deque()
    hooks = LambdaMetrics(events, lambda: 100.0)
    event_calls(hooks)
    out = set()
    for event in events:
        ident, ts, values = hooks.values(event)
        assert ts == 100.0
        for name, value, unit, which in values:
            for region, ns, dims in hooks.series(ident, which, "x"):
                assert (region, ns) == ("eu-west-1", "AWS/Lambda")
                out.add((name, dims, unit, value))
    return out


def test_an_alias_invocation() -> None:
    got = series(lambda h: h.invocation(ARN, "live", "3", 12.5, True, 2, 5, 4))
    fn = (("FunctionName", "f"),)
    res = (("FunctionName", "f"), ("Resource", "f:live"))
    ver = (("ExecutedVersion", "3"), ("FunctionName", "f"), ("Resource", "f:live"))
    for dims in ((), fn, res, ver):
        assert ("Invocations", dims, "Count", 1.0) in got
        assert ("Errors", dims, "Count", 1.0) in got
        assert ("Duration", dims, "Milliseconds", 12.5) in got
    assert ("ConcurrentExecutions", (), "Count", 5.0) in got  # the account's
    assert ("ConcurrentExecutions", fn, "Count", 2.0) in got  # the function's
    assert ("UnreservedConcurrentExecutions", (), "Count", 4.0) in got
    assert not any(name == "UnreservedConcurrentExecutions" and dims for name, dims, _, _ in got)


def test_unqualified_version_and_provisioned() -> None:
    got = series(lambda h: h.invocation(ARN, None, "$LATEST", 1.0, False, 1, 1, None,
                                        (True, 1, 2)))  # fmt: skip
    dims = {d for name, d, _, _ in got if name == "Invocations"}
    assert dims == {(), (("FunctionName", "f"),), (("FunctionName", "f"), ("Resource", "f"))}
    assert ("ProvisionedConcurrencyInvocations", (("FunctionName", "f"),), "Count", 1.0) in got
    assert ("ProvisionedConcurrencyUtilization", (), "None", 0.5) in got
    assert not any(name == "UnreservedConcurrentExecutions" for name, _, _, _ in got)
    spill = series(lambda h: h.invocation(ARN, "2", "2", 1.0, False, 1, 1, None, (False, 2, 2)))
    assert ("ProvisionedConcurrencySpilloverInvocations", (("FunctionName", "f"),
            ("Resource", "f:2")), "Count", 1.0) in spill  # fmt: skip
    assert not any(d and d[0][0] == "ExecutedVersion" for _, d, _, _ in spill)


def test_throttles_and_async_counts() -> None:
    def calls(h: LambdaMetrics) -> None:
        h.throttle(ARN, None, "$LATEST")
        h.count(ARN, None, "$LATEST", "AsyncEventAge", 250.0, "Milliseconds")

    got = series(calls)
    assert ("Throttles", (("FunctionName", "f"),), "Count", 1.0) in got
    assert ("AsyncEventAge", (), "Milliseconds", 250.0) in got
    assert not any(name == "Invocations" for name, _, _, _ in got)
