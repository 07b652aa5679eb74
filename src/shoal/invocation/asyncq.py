"""Asynchronous (``Event``) invocations: a durable queue in the store, drained by workers.

Guarantees, and their limits:

- An event is committed to SQLite (``synchronous=FULL``) before Invoke answers 202, and removed
  (acked) only after its last attempt, so a Shoal killed right after the 202 runs it after
  restart: no event is lost.
- Before each attempt starts, its number is written to the store (kind ``async-attempt``, keyed
  by the queue sequence number). An attempt interrupted by a crash is run again once after the
  restart, under the same number (it may have run completely: the crash may fall between the
  end of the run and the ack). Apart from that, no event runs twice except by a retry.
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

log = logging.getLogger("shoal.async")

TOPIC = "async-invoke"
ATTEMPT_KIND = "async-attempt"
DRAIN_S = 30.0


@dataclass(eq=False)
class _Event:
    """One pending event (owned by the queue). ``doc`` is what the store holds."""

    seq: int
    doc: dict[str, Any]  # function, version, qualifier, payload, request_id, enqueued, attempt
    resume: bool = False  # replayed after a crash mid-attempt: rerun that attempt
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
            started = int(attempts.get(str(seq), {}).get("attempt", 0))
            doc["attempt"] = started
            self._ready.put_nowait(_Event(seq, doc, resume=started > 0))
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
        self, fn: FunctionVersion, payload: bytes, request_id: str, qualifier: str | None = None
    ) -> None:
        """Store an event durably (the caller answers 202 after this returns)."""
        doc = {
            "function": fn.function_arn,  # per region: the ARN (a name before regions)
            "version": fn.version,
            "qualifier": qualifier or fn.version,  # whose EventInvokeConfig applies
            "payload": payload.decode("utf-8", errors="replace"),
            "request_id": request_id,
            "enqueued": time.time(),
            "attempt": 0,
        }
        seq = await asyncio.to_thread(self.shoal.store.enqueue, TOPIC, doc)
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
        number = doc["attempt"] if event.resume else doc["attempt"] + 1

        async def persist_attempt() -> None:
            # Runs once the concurrency lease is held: a throttled try is not an attempt.
            doc["attempt"] = number
            event.resume = False
            await asyncio.to_thread(
                self.shoal.store.put, ATTEMPT_KIND, str(event.seq), {"attempt": number}
            )

        try:
            result = await self.shoal.invoker.run(
                fn,
                doc["payload"].encode(),
                request_id=doc["request_id"],
                on_lease=persist_attempt,
            )
        except AwsError as e:
            if e.code == "TooManyRequestsException":
                event.throttles += 1
                self._later(event, min(self.throttle_cap, 0.05 * 2 ** min(event.throttles, 10)))
                return
            if doc["attempt"] != number:  # failed before it started (nothing ran): retry
                self._later(event, self.throttle_cap)
                return
            result = _error_result(fn, doc["request_id"], e)
        if result.function_error is None:
            await self._finish(event, fn, config, "Success", result)
        elif number < 1 + config.retries:
            self._later(event, self.retry_base_delay_s * number)
        else:
            await self._finish(event, fn, config, "RetriesExhausted", result)

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
            log.warning(
                "async event %s of %s: %s after %d attempt(s)",
                event.doc["request_id"],
                fn.qualified_arn,
                condition,
                event.doc["attempt"],
            )
        if destination:
            record = invocation_record(fn, event.doc, condition, result)
            try:
                target = self.shoal.functions.resolve_for_invoke(destination)
                await self.submit(target, json.dumps(record).encode(), str(uuid.uuid4()))
            except AwsError as e:
                log.warning("destination %s of %s: %s", destination, fn.qualified_arn, e.message)
        await self._ack(event)

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
            "approximateInvokeCount": doc["attempt"],
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
