"""Asynchronous (``Event``) invocations: a durable queue in the store, drained by workers.

An event is committed to SQLite before Invoke answers 202 and removed only after it ran (or
failed its last retry), so a Shoal killed right after the 202 runs it after restart. Workers
take leases like any invocation; a throttled event waits and tries again. A failed invocation is
retried ``max_retries`` times (2, as Lambda) with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError
from shoal.functions.models import FunctionVersion

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.async")

TOPIC = "async-invoke"


class AsyncQueue:
    def __init__(self, shoal: Shoal, workers: int = 8) -> None:
        self.shoal = shoal
        self.workers = workers
        self.retry_delays = (1.0, 2.0)
        self._queue: asyncio.Queue[tuple[int, dict[str, Any]]] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        for seq, doc in self.shoal.store.pending(TOPIC):
            self._queue.put_nowait((seq, doc))
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work()) for _ in range(self.workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def submit(self, fn: FunctionVersion, payload: bytes, request_id: str) -> None:
        doc = {
            "function": fn.name,
            "qualifier": fn.version,
            "payload": payload.decode("utf-8"),
            "request_id": request_id,
            "attempt": 0,
        }
        seq = await asyncio.to_thread(self.shoal.store.enqueue, TOPIC, doc)
        assert self._queue is not None
        self._queue.put_nowait((seq, doc))

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            seq, doc = await self._queue.get()
            try:
                await self._deliver(doc)
            except Exception:
                log.exception("async event %s failed", doc.get("request_id"))
            self.shoal.store.ack(seq)

    async def _deliver(self, doc: dict[str, Any]) -> None:
        attempts = 1 + len(self.retry_delays)
        for attempt in range(attempts):
            try:
                fn = self.shoal.functions.resolve(doc["function"], doc["qualifier"])
            except AwsError:
                log.warning("async event %s: function is gone", doc["request_id"])
                return
            try:
                result = await self.shoal.invoker.run(
                    fn, doc["payload"].encode(), request_id=doc["request_id"]
                )
            except AwsError as e:
                if e.code != "TooManyRequestsException":
                    raise
                await asyncio.sleep(0.5)  # throttled: wait for capacity, not a retry
                continue
            if result.function_error is None or attempt == attempts - 1:
                return
            await asyncio.sleep(self.retry_delays[attempt])
