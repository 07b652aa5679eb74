"""Helpers for the sandbox process tests: real fork servers and real sandboxes (needs root,
namespaces and cgroup v1)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from shoal.sandbox.forkserver import ForkServerFactory
from shoal.sandbox.types import EnvironmentSpec, InvokeRequest, LogRecord, Mount

T = TypeVar("T")
UID = 23456
GID = 23457
TEST_TIMEOUT_S = 60

# Handler-side helpers for isolation probes (source text, pasted into handlers; needs errno).
PROBE_HELPERS = """
def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def write(path):
    def go():
        with open(path, "w") as f:
            f.write("x")
    return go
"""


@dataclass
class Output:
    """What an environment wrote: raw output chunks and the runtime's log records, in order;
    ``text`` shows a record as a line of its own."""

    chunks: list[bytes | LogRecord] = field(default_factory=list)

    def __call__(self, env_id: str, chunk: bytes | LogRecord) -> None:
        self.chunks.append(chunk)

    @property
    def text(self) -> str:
        return "".join(
            c.text + "\n" if isinstance(c, LogRecord) else c.decode() for c in self.chunks
        )


def make_code(root: Path, source: str, name: str = "app.py", **files: str) -> Path:
    code = root / f"code-{uuid.uuid4().hex[:6]}"
    code.mkdir()
    code.chmod(0o755)
    for fname, text in {name: source, **files}.items():
        path = code / fname
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o755)
        path.write_text(text)
        path.chmod(0o644)
    return code


def make_spec(code: Path, **kw: Any) -> EnvironmentSpec:
    base: dict[str, Any] = dict(
        env_id=f"test-{uuid.uuid4().hex[:12]}",
        runtime="python3.11",
        code_dir=str(code),
        handler="app.handler",
        environment={"PATH": "/usr/bin:/bin", "TZ": ":UTC"},
        memory_mb=128,
        ephemeral_mb=16,
        timeout_s=3.0,
        uid=UID,
        gid=GID,
    )
    base.update(kw)
    return EnvironmentSpec(**base)


def request(
    payload: bytes = b"{}", request_id: str | None = None, timeout_s: float = 30
) -> InvokeRequest:
    return InvokeRequest(
        request_id or str(uuid.uuid4()),
        payload,
        "arn:aws:lambda:us-east-1:123456789012:function:fn",
        "$LATEST",
        int(time.time() * 1000 + timeout_s * 1000),
    )


def run(body: Callable[[ForkServerFactory], Awaitable[T]]) -> T:
    """Run ``body(factory)`` on a fresh loop; the factory is closed whatever happens."""

    async def main() -> T:
        factory = ForkServerFactory()
        try:
            return await asyncio.wait_for(body(factory), TEST_TIMEOUT_S)
        finally:
            await factory.close()

    return asyncio.run(main())


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


__all__ = ["Mount", "Output", "make_code", "make_spec", "request", "run", "pid_exists"]


async def wait_gone(pid: int) -> None:
    """Wait until ``pid`` has exited (a pidfd turns readable), without polling."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    gone = loop.create_future()
    loop.add_reader(pidfd, lambda: gone.done() or gone.set_result(None))
    try:
        await gone
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
