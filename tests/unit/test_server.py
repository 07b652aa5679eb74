"""The server's corked transport: the writes of one loop iteration leave as one write."""

from __future__ import annotations

import asyncio
from typing import Any

from shoal.server import CORK_MAX, CorkedTransport


class Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


async def one_iteration() -> None:
    await asyncio.sleep(0)


def corked() -> tuple[CorkedTransport, Recorder]:
    real = Recorder()
    return CorkedTransport(real, asyncio.get_running_loop()), real


def test_writes_of_one_iteration_leave_together_in_order() -> None:
    async def main() -> None:
        t, real = corked()
        t.write(b"HTTP/1.1 200 OK\r\n\r\n")
        t.write(memoryview(b"body"))
        assert real.writes == [] and t.get_write_buffer_size() == 23
        await one_iteration()
        assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        t.write(b"next")
        await one_iteration()
        assert real.writes[1:] == [b"next"]

    asyncio.run(main())


def test_close_sends_what_is_held_and_abort_drops_it() -> None:
    async def main() -> None:
        t, real = corked()
        t.write(b"last words")
        t.close()
        assert real.writes == [b"last words"] and real.closed
        await one_iteration()  # the scheduled flush finds nothing left
        assert real.writes == [b"last words"]
        t, real = corked()
        t.write(b"dropped")
        t.abort()
        await one_iteration()
        assert real.writes == [] and real.aborted

    asyncio.run(main())


def test_a_big_write_goes_out_at_once_after_what_is_held() -> None:
    async def main() -> None:
        t, real = corked()
        big = b"x" * (CORK_MAX + 1)
        t.write(b"head")
        t.write(big)
        assert real.writes == [b"head", big]

    asyncio.run(main())
