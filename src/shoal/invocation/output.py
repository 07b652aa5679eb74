"""Where an environment's output goes: its log stream, and the running invocation's tail.

Three kinds, in the order the environment wrote them (:mod:`shoal.sandbox.logpipe`): printed
bytes (one event per line), the runtime's log records (one event each) and the platform's lines
(the invoker's START/END/REPORT..., stored as platform events). ApplicationLogLevel applies to
records by their level and, for a JSON-format function, to printed lines by theirs (a JSON
object's ``"level"``, else INFO, as the developer guide says). The tail (``LogResult``) is what
was kept, each event ending its line: output left without its newline ends before END.

Output beyond :data:`OUTPUT_LIMIT` per invocation is dropped (a flood must not fill the disk),
with one event saying so. Event loop only, as the invoker.
"""

from __future__ import annotations

from shoal.functions.logging_config import output_level
from shoal.invocation.states import ManagedEnvironment
from shoal.sandbox.types import LogRecord

TAIL_BYTES = 4096  # LogResult: the last 4 KB of the invocation's log
OUTPUT_LIMIT = 16 * 1024 * 1024


def watch(env: ManagedEnvironment) -> None:
    """Set up a new environment's stream: a JSON-format function's lines are filtered."""
    if env.log is not None and env.logging.json:
        env.log.line_filter = lambda line: _json_line(env, line)


def route(env: ManagedEnvironment, chunk: bytes | LogRecord) -> None:
    """Output from the environment: printed bytes or a record of its runtime."""
    assert env.log is not None
    if isinstance(chunk, LogRecord):
        if not env.logging.keeps_application(chunk.level) or _over_limit(env, len(chunk.text)):
            return
        env.log.event(chunk.text)
        if env.tail is not None:
            _to_tail(env.tail, chunk.text.encode("utf-8", "replace") + b"\n")
        return
    if _over_limit(env, len(chunk)):
        return
    env.log.write(chunk.decode("utf-8", errors="replace"))
    if env.tail is not None and not env.logging.json:  # JSON: the lines kept (_json_line)
        env.tail += chunk
        if len(env.tail) > 4 * TAIL_BYTES:
            del env.tail[:-TAIL_BYTES]


def platform(env: ManagedEnvironment, lines: list[str]) -> None:
    """The platform's lines, as platform events written together."""
    assert env.log is not None
    if not lines:
        return
    env.log.events(lines, platform=True)
    if env.tail is not None:
        _to_tail(env.tail, "".join([line + "\n" for line in lines]).encode())


def tail_of(env: ManagedEnvironment) -> bytes:
    assert env.tail is not None
    return bytes(env.tail[-TAIL_BYTES:])


def _over_limit(env: ManagedEnvironment, size: int) -> bool:
    assert env.log is not None
    env.output_bytes += size
    if env.output_bytes <= OUTPUT_LIMIT:
        return False
    if env.output_bytes - size <= OUTPUT_LIMIT:
        env.log.event(f"[shoal] output over {OUTPUT_LIMIT} bytes dropped")
    return True


def _json_line(env: ManagedEnvironment, line: str) -> bool:
    """Whether a line a JSON-format function printed is kept; a kept line goes to the tail."""
    if not env.logging.keeps_application(output_level(line)):
        return False
    if env.tail is not None:
        _to_tail(env.tail, line.encode("utf-8", "replace") + b"\n")
    return True


def _to_tail(tail: bytearray, data: bytes) -> None:
    """Unterminated output ends its line before what comes next (as in Lambda's LogResult)."""
    if tail and tail[-1:] != b"\n":
        tail += b"\n"
    tail += data
    if len(tail) > 4 * TAIL_BYTES:
        del tail[:-TAIL_BYTES]
