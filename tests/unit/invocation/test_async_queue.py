"""The async queue's policy with a real store and a scripted invoker (no processes)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from test_pool import FN

from shoal.errors import AwsError
from shoal.invocation.asyncq import ATTEMPT_KIND, TOPIC, AsyncQueue
from shoal.invocation.eventconfig import EventInvokeConfig
from shoal.invocation.invoker import InvocationResult
from shoal.invocation.leases import throttled
from shoal.store.sqlite import Store

DEST = replace(FN, name="dest", function_arn="arn:aws:lambda:us-east-1:1:function:dest")


@dataclass
class Settings:
    async_retry_base_delay_s: float = 0.0
    region: str = "us-east-1"
    account_id: str = "1"


class Functions:
    def subscribe(self, callback: Any) -> None:
        pass

    def resolve(self, name: str, qualifier: str | None = None) -> Any:
        name = name.rsplit(":", 1)[-1]  # a name or an ARN (the queue keeps ARNs)
        if name == "gone":
            raise AwsError("ResourceNotFoundException", "Function not found")
        return DEST if name == "dest" else FN

    def resolve_for_invoke(self, arn: str, qualifier: str | None = None) -> Any:
        return DEST


TRACE = "Root=1-5e6722a7-cc56a0b246db7ae02d4da47e;Parent=53995c3f42cd8ad8;Sampled=0"


class Invoker:
    """Plays a script of outcomes for function f; records every run of every function."""

    def __init__(self, script: list[str]) -> None:
        self.script = script
        self.runs: list[tuple[str, bytes]] = []
        self.traces: list[str | None] = []  # the trace_id of every run, in order
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()  # a run of f began
        self.done = asyncio.Event()  # a destination ran

    async def run(
        self, fn: Any, payload: bytes, *, request_id: str, on_lease: Any, trace_id: str | None,
        qualifier: str | None = None,
    ) -> Any:  # fmt: skip
        self.traces.append(trace_id)
        outcome = self.script.pop(0) if fn.name == FN.name and self.script else "ok"
        if outcome == "throttle":
            raise throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
        await on_lease()
        self.runs.append((fn.name, payload))
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if fn.name == DEST.name:
            self.done.set()
        if outcome == "error":
            body = json.dumps({"errorMessage": "boom", "errorType": "RuntimeError"}).encode()
            return InvocationResult(request_id, 200, body, fn.version, "Unhandled", "RuntimeError")
        return InvocationResult(request_id, 200, b'{"ok": true}', fn.version)


class FakeShoal:
    def __init__(self, tmp_path: Path, script: list[str]) -> None:
        self.settings = Settings()
        self.store = Store(tmp_path / "shoal.db")
        self.functions = Functions()
        self.invoker = Invoker(script)


def with_destination(queue: AsyncQueue, **changes: Any) -> None:
    config = EventInvokeConfig(FN.function_arn, "$LATEST", on_success="dest", on_failure="dest")
    queue.configs.configs[config.key] = replace(config, **changes)


def record_of(shoal: FakeShoal) -> dict[str, Any]:
    (payload,) = [p for name, p in shoal.invoker.runs if name == DEST.name]
    record: dict[str, Any] = json.loads(payload)
    return record


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_throttles_are_not_attempts_and_retries_count(tmp_path: Path) -> None:
    async def scenario() -> FakeShoal:
        shoal = FakeShoal(tmp_path, ["throttle", "throttle", "error", "throttle", "ok"])
        queue = AsyncQueue(shoal, workers=2)  # type: ignore[arg-type]
        await queue.start()
        with_destination(queue)
        await queue.submit(FN, b'{"n": 1}', "req-1")
        await shoal.invoker.done.wait()
        await queue.stop()
        return shoal

    shoal = run(scenario())
    assert [name for name, _ in shoal.invoker.runs] == ["f", "f", "dest"]
    record = record_of(shoal)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == {"n": 1}
    assert list(shoal.store.pending(TOPIC)) == []
    assert shoal.store.load(ATTEMPT_KIND) == {}


def test_retries_exhausted_after_max_retry_attempts(tmp_path: Path) -> None:
    async def scenario() -> FakeShoal:
        shoal = FakeShoal(tmp_path, ["error"] * 5)
        queue = AsyncQueue(shoal, workers=1)  # type: ignore[arg-type]
        await queue.start()
        with_destination(queue, max_retries=1)
        await queue.submit(FN, b"{}", "req-2", trace_id=TRACE)
        await shoal.invoker.done.wait()
        await queue.stop()
        return shoal

    shoal = run(scenario())
    assert [name for name, _ in shoal.invoker.runs] == ["f", "f", "dest"]
    # Every attempt, and the destination's invocation, run under the trace it was queued with.
    assert shoal.invoker.traces == [TRACE, TRACE, TRACE]
    record = record_of(shoal)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"] == {"errorMessage": "boom", "errorType": "RuntimeError"}


def test_an_old_event_is_not_run(tmp_path: Path) -> None:
    async def scenario() -> FakeShoal:
        shoal = FakeShoal(tmp_path, [])
        doc = {
            "function": "f",
            "version": "$LATEST",
            "qualifier": "$LATEST",
            "payload": "{}",
            "request_id": "old",
            "enqueued": time.time() - 120,
            "attempt": 0,
        }
        shoal.store.enqueue(TOPIC, doc)
        queue = AsyncQueue(shoal, workers=1)  # type: ignore[arg-type]
        with_destination(queue, max_age_s=60)
        await queue.start()
        with_destination(queue, max_age_s=60)  # start() loaded the (empty) stored configs
        await shoal.invoker.done.wait()
        await queue.stop()
        return shoal

    shoal = run(scenario())
    assert [name for name, _ in shoal.invoker.runs] == ["dest"]
    record = record_of(shoal)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in record


def test_an_attempt_interrupted_by_a_crash_runs_again_under_its_number(tmp_path: Path) -> None:
    async def scenario() -> FakeShoal:
        shoal = FakeShoal(tmp_path, ["error", "error", "error", "error"])
        doc = {
            "function": "f",
            "version": "$LATEST",
            "qualifier": "$LATEST",
            "payload": "{}",
            "request_id": "crashed",
            "enqueued": time.time(),
            "attempt": 0,
        }
        seq = shoal.store.enqueue(TOPIC, doc)
        shoal.store.put(ATTEMPT_KIND, str(seq), {"attempt": 2})  # attempt 2 was running
        queue = AsyncQueue(shoal, workers=1)  # type: ignore[arg-type]
        await queue.start()
        with_destination(queue)
        await shoal.invoker.done.wait()
        await queue.stop()
        return shoal

    shoal = run(scenario())
    # Attempt 2 again, then attempt 3 (the last of 1 + 2 retries); the record counts all four
    # executions, the cut-off one included.
    assert [name for name, _ in shoal.invoker.runs] == ["f", "f", "dest"]
    assert record_of(shoal)["requestContext"]["approximateInvokeCount"] == 4


def _replay(tmp_path: Path, progress: dict[str, Any], script: list[str]) -> FakeShoal:
    """Start a queue on a store holding one event with ``progress``; run it to its record."""

    async def scenario() -> FakeShoal:
        shoal = FakeShoal(tmp_path, script)
        doc = {"function": "f", "version": "$LATEST", "qualifier": "$LATEST", "payload": "{}",
               "request_id": "crashed", "enqueued": time.time(), "attempt": 0}  # fmt: skip
        seq = shoal.store.enqueue(TOPIC, doc)
        shoal.store.put(ATTEMPT_KIND, str(seq), progress)
        queue = AsyncQueue(shoal, workers=1)  # type: ignore[arg-type]
        await queue.start()
        with_destination(queue)
        await shoal.invoker.done.wait()
        await queue.stop()
        return shoal

    return run(scenario())  # type: ignore[no-any-return]


def test_an_event_waiting_for_its_retry_goes_on_with_the_next_attempt(tmp_path: Path) -> None:
    """Attempt 1 had failed and the crash fell during the retry delay: not a re-run."""
    progress = {"attempt": 1, "runs": 1, "ended": True, "retry_at": time.time() + 0.05}
    shoal = _replay(tmp_path, progress, ["error", "error", "error"])
    assert [name for name, _ in shoal.invoker.runs] == ["f", "f", "dest"]  # attempts 2 and 3
    record = record_of(shoal)["requestContext"]
    assert (record["condition"], record["approximateInvokeCount"]) == ("RetriesExhausted", 3)


def test_a_cut_off_attempt_is_rerun_once_per_event(tmp_path: Path) -> None:
    """Attempt 2 was cut off after attempt 1's re-run: it counts as failed, attempt 3 runs."""
    shoal = _replay(tmp_path, {"attempt": 2, "runs": 3}, ["error", "error"])
    assert [name for name, _ in shoal.invoker.runs] == ["f", "dest"]
    assert record_of(shoal)["requestContext"]["approximateInvokeCount"] == 4


def test_a_cut_off_last_attempt_after_a_rerun_exhausts_the_retries(tmp_path: Path) -> None:
    shoal = _replay(tmp_path, {"attempt": 3, "runs": 4}, ["error"])
    assert [name for name, _ in shoal.invoker.runs] == ["dest"]
    record = record_of(shoal)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 4
    assert "responseContext" not in record  # the outcome of the cut-off run is unknown


def test_a_failed_attempt_is_stored_as_ended_before_its_retry(tmp_path: Path) -> None:
    async def scenario() -> dict[str, Any]:
        shoal = FakeShoal(tmp_path, ["error"])
        shoal.settings.async_retry_base_delay_s = 30.0
        queue = AsyncQueue(shoal, workers=1)  # type: ignore[arg-type]
        waiting = asyncio.Event()
        later = queue._later

        def observed(event: Any, delay: float) -> None:
            later(event, delay)
            waiting.set()

        queue._later = observed  # type: ignore[method-assign]
        await queue.start()
        await queue.submit(FN, b"{}", "req-5")
        await waiting.wait()  # the retry is scheduled: what a crash now would find
        (stored,) = shoal.store.load(ATTEMPT_KIND).values()
        await queue.stop()
        return stored

    stored = run(scenario())
    assert (stored["attempt"], stored["runs"], stored["ended"]) == (1, 1, True)
    assert stored["retry_at"] > time.time() + 20


def test_the_attempt_number_is_stored_before_the_run(tmp_path: Path) -> None:
    async def scenario() -> tuple[FakeShoal, dict[str, Any]]:
        shoal = FakeShoal(tmp_path, ["ok"])
        shoal.invoker.gate = asyncio.Event()
        queue = AsyncQueue(shoal, workers=1)  # type: ignore[arg-type]
        queue.drain_s = 0.01
        await queue.start()
        await queue.submit(FN, b"{}", "req-3")
        await shoal.invoker.started.wait()
        stored = shoal.store.load(ATTEMPT_KIND)
        await queue.stop()  # the run outlives the drain: cancelled, not acked
        return shoal, stored

    shoal, stored = run(scenario())
    assert list(stored.values()) == [{"attempt": 1, "runs": 1}]
    pending = list(shoal.store.pending(TOPIC))
    assert [doc["request_id"] for _, doc in pending] == ["req-3"]


def test_an_event_of_a_deleted_function_is_dropped(tmp_path: Path) -> None:
    async def scenario() -> FakeShoal:
        shoal = FakeShoal(tmp_path, [])
        gone = replace(FN, name="gone", function_arn="arn:aws:lambda:us-east-1:1:function:gone")
        queue = AsyncQueue(shoal, workers=1)  # type: ignore[arg-type]
        acked = asyncio.Event()
        ack = queue._ack

        async def observed(event: Any) -> None:
            await ack(event)
            acked.set()

        queue._ack = observed  # type: ignore[method-assign]
        await queue.start()
        await queue.submit(gone, b"{}", "req-4")
        await acked.wait()
        assert list(shoal.store.pending(TOPIC)) == []
        await queue.stop()
        return shoal

    shoal = run(scenario())
    assert shoal.invoker.runs == []


@pytest.mark.parametrize("retries", [0, 2])
def test_config_defaults(retries: int) -> None:
    config = EventInvokeConfig("f", "$LATEST", max_retries=retries if retries == 0 else None)
    assert config.retries == retries and config.max_age == 21600
