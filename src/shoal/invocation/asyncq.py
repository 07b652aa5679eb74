"""Asynchronous (``Event``) invocations: a durable queue in the store, drained by workers.

Guarantees, and their limits:

- An event is committed to SQLite (``synchronous=FULL``) before Invoke answers 202, and removed
  (acked) only after its last attempt, so a Shoal killed right after the 202 runs it after
  restart: no event is lost.
- The store keeps each event's progress (kind ``async-attempt``, keyed by the queue sequence
  number): ``attempt``, the number of the last attempt begun, and ``runs``, the executions
  begun, both written before the run starts; then ``ended`` and ``retry_at`` once that attempt
  has failed and waits for its retry. At a restart an event whose attempt had ended waits out
  the rest of its retry delay and goes on with the next attempt; an attempt the crash cut off
  (begun, not ended) runs again under the same number. That re-run happens once per event: an
  event cut off again counts the attempt as failed. So an event runs at most
  1 + MaximumRetryAttempts times, plus one re-run of a cut-off attempt (which may itself have
  run completely: the crash may fall between the end of the run and its record), and the
  destination record's ``approximateInvokeCount`` is ``runs``, every execution begun.
  Lambda's own guarantee is the same: at least once.
- Concurrency limits apply: a throttled event is not an attempt; it waits (backoff up to
  ``throttle_cap``) and tries again, until MaximumEventAgeInSeconds.
- A function error is retried MaximumRetryAttempts times (default 2), the n-th retry
  ``retry_base_delay_s * n`` after the failure (Lambda: 1 then 2 minutes).
- The final outcome goes to the qualifier's OnSuccess / OnFailure destination function, as
  Lambda's invocation record, itself enqueued durably before the original event is acked
  (a crash between the two can deliver the record twice).
- Shutdown: stop taking events, let running attempts finish within ``drain_s``; what is left
  stays in the store and is replayed at the next start.

Workers never sleep on a waiting event: waits are timers that put the event back on the ready
queue, so a throttled function cannot starve the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError
from shoal.functions.models import FunctionVersion
from shoal.invocation.eventconfig import EventInvokeConfig, EventInvokeConfigs

if TYPE_CHECKING:
    from shoal.core import Shoal
    from shoal.invocation.invoker import InvocationResult

MS = "Milliseconds"
log = logging.getLogger("shoal.async")

TOPIC = "async-invoke"
ATTEMPT_KIND = "async-attempt"
DRAIN_S = 30.0


@dataclass(eq=False)
class _Event:
    """One pending event (owned by the queue). ``doc`` is what the store holds."""

    seq: int
    # function, version, qualifier, payload, request_id, enqueued; attempt and runs (see above);
    # trace_id (absent in events queued before traces were kept)
    doc: dict[str, Any]
    resume: bool = False  # replayed after a crash cut its attempt off: rerun that attempt
    throttles: int = 0


class AsyncQueue:
    def __init__(self, shoal: Shoal, workers: int = 64) -> None:
        self.shoal = shoal
        self.workers = workers
        self.configs = EventInvokeConfigs(shoal)
        base = float(getattr(shoal.settings, "async_retry_base_delay_s", 60.0))
        self.retry_base_delay_s = base
        self.throttle_cap = min(5.0, max(base, 0.01))
        self.drain_s = DRAIN_S
        self.closing = False
        self._ready: asyncio.Queue[_Event] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Task[None]] = set()  # workers running an attempt
        self._timers: set[asyncio.TimerHandle] = set()

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        self.configs.load()
        self.shoal.functions.subscribe(self.configs.function_changed)
        self._ready = asyncio.Queue()
        attempts = self.shoal.store.load(ATTEMPT_KIND)
        pending = set()
        for seq, doc in self.shoal.store.pending(TOPIC):
            pending.add(str(seq))
            state = attempts.get(str(seq), {})
            doc["attempt"] = int(state.get("attempt", 0))
            doc["runs"] = int(state.get("runs", doc["attempt"]))  # older stores: no re-run yet
            if state.get("ended"):  # failed, waiting for its retry: not cut off
                wait = float(state.get("retry_at", 0.0)) - time.time()
                self._later(_Event(seq, doc), max(0.0, wait))
            else:
                self._ready.put_nowait(_Event(seq, doc, resume=doc["attempt"] > 0))
        for key in attempts.keys() - pending:  # acked, crashed before the cleanup
            self.shoal.store.delete(ATTEMPT_KIND, key)
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._work()) for _ in range(self.workers)]

    async def stop(self) -> None:
        """Stop taking events; let running attempts finish within ``drain_s``."""
        self.closing = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        busy = set(self._busy)
        for task in self._workers:
            if task not in busy:
                task.cancel()
        if busy:
            _, late = await asyncio.wait(busy, timeout=self.drain_s)
            for task in late:
                task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def submit(
        self,
        fn: FunctionVersion,
        payload: bytes,
        request_id: str,
        qualifier: str | None = None,
        trace_id: str | None = None,
    ) -> None:
        """Store an event durably (the caller answers 202 after this returns). ``trace_id``:
        the ``_X_AMZN_TRACE_ID`` every attempt runs under (None: each attempt a new trace)."""
        doc = {
            "function": fn.function_arn,  # per region: the ARN (a name before regions)
            "version": fn.version,
            "qualifier": qualifier or fn.version,  # whose EventInvokeConfig applies
            "payload": payload.decode("utf-8", errors="replace"),
            "request_id": request_id,
            "enqueued": time.time(),
            "attempt": 0,
            "trace_id": trace_id,
            "runs": 0,
        }
        seq = await asyncio.to_thread(self.shoal.store.enqueue, TOPIC, doc)
        self._metric(doc, "AsyncEventsReceived")
        if self._ready is not None and not self.closing:
            self._ready.put_nowait(_Event(seq, doc))

    @property
    def pending(self) -> int:
        return (self._ready.qsize() if self._ready else 0) + len(self._timers) + len(self._busy)

    # ------------------------------------------------------------------ workers

    async def _work(self) -> None:
        assert self._ready is not None
        me = asyncio.current_task()
        assert me is not None
        while not self.closing:
            event = await self._ready.get()
            if self.closing:
                return  # not acked: replayed at the next start
            self._busy.add(me)
            try:
                await self._attempt(event)
            except Exception:
                # A bug, not a function error: keep the event (it is retried, never lost).
                log.exception("async event %s", event.doc.get("request_id"))
                self._later(event, self.throttle_cap)
            finally:
                self._busy.discard(me)

    def _later(self, event: _Event, delay: float) -> None:
        if self.closing:
            return
        assert self._ready is not None
        ready = self._ready

        def fire() -> None:
            self._timers.discard(handle)
            if not self.closing:
                ready.put_nowait(event)

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

    async def _attempt(self, event: _Event) -> None:
        doc = event.doc
        config = self.configs.effective(doc["function"], doc["qualifier"])
        try:
            fn = self.shoal.functions.resolve(doc["function"], doc["version"])
        except AwsError:
            log.warning(
                "async event %s: %s:%s is gone; dropped",
                doc["request_id"],
                doc["function"],
                doc["version"],
            )
            await self._ack(event)
            return
        if time.time() - doc["enqueued"] > config.max_age:
            await self._finish(event, fn, config, "EventAgeExceeded", None)
            return
        number = self._next_number(event, config)
        if number is None:  # the last attempt was cut off after the event's one re-run
            await self._finish(event, fn, config, "RetriesExhausted", None)
            return
        started = False

        async def persist_attempt() -> None:
            # Runs once the concurrency lease is held: a throttled try is not an attempt.
            nonlocal started
            progress = {"attempt": number, "runs": doc["runs"] + 1}
            await asyncio.to_thread(self.shoal.store.put, ATTEMPT_KIND, str(event.seq), progress)
            doc.update(progress)
            event.resume = False
            started = True
            self._metric(doc, "AsyncEventAge", (time.time() - doc["enqueued"]) * 1000, MS)

        try:
            result = await self.shoal.invoker.run(
                fn,
                doc["payload"].encode(),
                request_id=doc["request_id"],
                on_lease=persist_attempt,
                trace_id=doc.get("trace_id"),
                qualifier=doc["qualifier"],  # the metrics' Resource
            )
        except AwsError as e:
            if e.code == "TooManyRequestsException":
                event.throttles += 1
                self._later(event, min(self.throttle_cap, 0.05 * 2 ** min(event.throttles, 10)))
                return
            if not started:  # failed before it started (nothing ran): retry
                self._later(event, self.throttle_cap)
                return
            result = _error_result(fn, doc["request_id"], e)
        if result.function_error is None:
            await self._finish(event, fn, config, "Success", result)
        elif number < 1 + config.retries:
            await self._retry_later(event, self.retry_base_delay_s * number)
        else:
            await self._finish(event, fn, config, "RetriesExhausted", result)

    def _next_number(self, event: _Event, config: EventInvokeConfig) -> int | None:
        """The number of the attempt to run now, or None if no attempt is left.

        An attempt a crash cut off runs again under its number, once per event: cut off again
        after that re-run (``runs`` is past ``attempt``), it counts as failed, outcome unknown.
        """
        doc = event.doc
        if event.resume and doc["runs"] > doc["attempt"]:
            event.resume = False
        if event.resume:
            return int(doc["attempt"])
        number = int(doc["attempt"]) + 1
        return number if number <= 1 + config.retries else None

    async def _retry_later(self, event: _Event, delay: float) -> None:
        """The attempt ended (failed): store that before waiting, so that a restart meanwhile
        goes on with the next attempt rather than re-running this one."""
        progress = {
            "attempt": event.doc["attempt"],
            "runs": event.doc["runs"],
            "ended": True,
            "retry_at": time.time() + delay,
        }
        await asyncio.to_thread(self.shoal.store.put, ATTEMPT_KIND, str(event.seq), progress)
        self._later(event, delay)

    async def _finish(
        self,
        event: _Event,
        fn: FunctionVersion,
        config: EventInvokeConfig,
        condition: str,
        result: InvocationResult | None,
    ) -> None:
        destination = config.on_success if condition == "Success" else config.on_failure
        if condition != "Success":
            self._metric(event.doc, "AsyncEventsDropped")
            log.warning(
                "async event %s of %s: %s after %d attempt(s), %d run(s)",
                event.doc["request_id"],
                fn.qualified_arn,
                condition,
                event.doc["attempt"],
                event.doc.get("runs", event.doc["attempt"]),
            )
        if destination:
            record = invocation_record(fn, event.doc, condition, result)
            try:
                target = self.shoal.functions.resolve_for_invoke(destination)
                # The destination's invocation continues the event's trace, as on Lambda.
                await self.submit(
                    target,
                    json.dumps(record).encode(),
                    str(uuid.uuid4()),
                    trace_id=event.doc.get("trace_id"),
                )
            except AwsError as e:
                self._metric(event.doc, "DestinationDeliveryFailures")
                log.warning("destination %s of %s: %s", destination, fn.qualified_arn, e.message)
        await self._ack(event)

    def _metric(self, doc: dict[str, Any], name: str, value: float = 1.0,
                unit: str = "Count") -> None:  # fmt: skip
        """One AWS/Lambda metric of the event's function (shoal.observability.lambda_metrics)."""
        metrics = getattr(self.shoal, "metrics", None)
        if metrics is not None:
            qualifier = doc["qualifier"] if doc["qualifier"] != doc["version"] else None
            metrics.lambda_hooks.count(
                doc["function"], qualifier, doc["version"], name, value, unit
            )

    async def _ack(self, event: _Event) -> None:
        def ack() -> None:
            self.shoal.store.ack(event.seq)
            self.shoal.store.delete(ATTEMPT_KIND, str(event.seq))

        await asyncio.to_thread(ack)


def _error_result(fn: FunctionVersion, request_id: str, error: AwsError) -> InvocationResult:
    """An attempt that failed in Shoal after it started (EFS mount refused, sandbox failure)."""
    from shoal.invocation.invoker import InvocationResult

    body = {"errorMessage": error.message, "errorType": error.code}
    return InvocationResult(
        request_id,
        error.status or 500,
        json.dumps(body).encode(),
        fn.version,
        "Unhandled",
        error.code,
    )


def _json_or_text(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace") if isinstance(data, bytes) else data


def invocation_record(
    fn: FunctionVersion,
    doc: dict[str, Any],
    condition: str,
    result: InvocationResult | None,
) -> dict[str, Any]:
    """Lambda's destination record for an asynchronous invocation."""
    t = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": stamp,
        "requestContext": {
            "requestId": doc["request_id"],
            "functionArn": fn.qualified_arn,
            "condition": condition,
            "approximateInvokeCount": doc.get("runs", doc["attempt"]),  # executions begun
        },
        "requestPayload": _json_or_text(doc["payload"]) if doc["payload"] else None,
    }
    if result is not None:
        response: dict[str, Any] = {
            "statusCode": result.status_code,
            "executedVersion": result.executed_version,
        }
        if result.function_error:
            response["functionError"] = result.function_error
        record["responseContext"] = response
        record["responsePayload"] = _json_or_text(result.payload) if result.payload else None
    return record
