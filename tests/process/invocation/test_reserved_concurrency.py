"""Reserved concurrency through boto3 against a real server: the API, its rules, throttling."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError
from invocation_helpers import environments, error_of

from conftest import create_function

SLEEPER = """
import time

def handler(event, context):
    start = time.time()
    time.sleep(event.get("sleep", 0))
    return {"start": start, "end": time.time()}
"""


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_put_get_delete_and_get_function(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=SLEEPER)
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(
        FunctionName=name
    )
    put = lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=7)
    assert put["ReservedConcurrentExecutions"] == 7
    assert (
        lambda_client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"]
        == 7
    )
    got = lambda_client.get_function(FunctionName=name)
    assert got["Concurrency"] == {"ReservedConcurrentExecutions": 7}
    lambda_client.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(
        FunctionName=name
    )
    assert "Concurrency" not in lambda_client.get_function(FunctionName=name)


def test_unreserved_minimum_and_account_settings(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=SLEEPER)
    before = lambda_client.get_account_settings()["AccountLimit"]
    assert before["ConcurrentExecutions"] == 1000
    free = before["UnreservedConcurrentExecutions"]
    with pytest.raises(ClientError) as e:
        lambda_client.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=free - 100 + 1
        )
    assert error_of(e) == (
        "InvalidParameterValueException",
        400,
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100].",
    )
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=25)
    after = lambda_client.get_account_settings()["AccountLimit"]
    assert after["UnreservedConcurrentExecutions"] == free - 25
    # Changing a reservation does not count the old value against the new one.
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=30)
    assert (
        lambda_client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
        == free - 30
    )
    lambda_client.delete_function(FunctionName=name)  # the reservation goes with the function
    assert (
        lambda_client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
        == free
    )


def test_unknown_function(lambda_client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as e:
        lambda_client.put_function_concurrency(
            FunctionName="no-such-function", ReservedConcurrentExecutions=1
        )
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_zero_throttles_every_invocation(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=SLEEPER)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    for _ in range(3):
        with pytest.raises(ClientError) as e:
            lambda_client.invoke(FunctionName=name, Payload=b"{}")
        code, status, message = error_of(e)
        assert (code, status, message) == ("TooManyRequestsException", 429, "Rate Exceeded.")
        assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lambda_client.delete_function_concurrency(FunctionName=name)
    assert lambda_client.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200


def test_burst_is_throttled_exactly(server, lambda_client) -> None:  # type: ignore[no-untyped-def]
    """Reserved 3, 20 callers at once: never more than 3 run, each caller gets 200 or 429."""
    name = create_function(lambda_client, code=SLEEPER, Timeout=30)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    barrier = threading.Barrier(20)

    def call(_: int) -> tuple[str, object]:
        barrier.wait()
        try:
            r = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"sleep": 1.5}))
        except ClientError as e:
            return "throttled", e.response
        return "ok", json.loads(r["Payload"].read())

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(call, range(20)))
    ok = [body for kind, body in results if kind == "ok"]
    throttled = [body for kind, body in results if kind == "throttled"]
    assert len(ok) + len(throttled) == 20  # none lost
    assert len(ok) >= 3 and throttled  # the burst fills the reservation, the rest is refused
    for body in throttled:
        assert body["Error"]["Code"] == "TooManyRequestsException"  # type: ignore[index]
        assert body["ResponseMetadata"]["HTTPStatusCode"] == 429  # type: ignore[index]
        assert body["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"  # type: ignore[index]
    intervals = [(b["start"], b["end"]) for b in ok]  # type: ignore[index]
    assert max_overlap(intervals) <= 3
    # A throttled call never started an environment.
    assert len(environments(server.endpoint, name)) <= 3
