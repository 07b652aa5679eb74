"""The server's reading of an environment's log pipe: raw output, with the runtime's framed
records (:mod:`shoal.runtime.logs`) taken out of it, in the order they were written.

A record is ``token + RECORD(level index, length) + text``; the token is the environment's own
(16 bytes, the first one NUL so that text output never holds even its first byte, the rest
random), given to the runtime at init. Before it is set everything is raw output. A chunk may
end inside a token or a record: what may be the start of one is held back until the next
chunk, or until :meth:`LogPipe.flush` (the runtime's reply: it wrote everything before it). A
record announcing more than the runtime's limit is no record: its token is passed on as output.
"""

from __future__ import annotations

import secrets

from ..runtime.logs import LEVELS, RECORD, RECORD_LIMIT
from .types import LogRecord

TOKEN_SIZE = 16


def new_token() -> bytes:
    return b"\0" + secrets.token_bytes(TOKEN_SIZE - 1)


class LogPipe:
    """Incremental decoder: ``feed`` chunks as read, get back raw bytes and records."""

    def __init__(self) -> None:
        self.token = b""
        self._held = b""  # the end of the last chunk: maybe the start of a token
        self._level = ""  # inside a record: its level, its text so far, what is still due
        self._body = bytearray()
        self._due = 0

    def feed(self, data: bytes) -> list[bytes | LogRecord]:
        token = self.token
        if not token:
            return [data]
        if self._held:
            data, self._held = self._held + data, b""
        out: list[bytes | LogRecord] = []
        pos, size = 0, len(data)
        head = len(token) + RECORD.size
        while pos < size:
            if self._due:
                take = data[pos : pos + self._due]
                self._body += take
                self._due -= len(take)
                pos += len(take)
                if not self._due:
                    out.append(LogRecord(self._level, self._body.decode("utf-8", "replace")))
                    self._body = bytearray()
                continue
            found = data.find(token, pos)
            if found < 0:
                keep = _token_prefix(data, pos, token)
                if size - keep > pos:
                    out.append(data[pos : size - keep])
                self._held = data[size - keep :]
                break
            if found > pos:
                out.append(data[pos:found])
            if size - found < head:
                self._held = data[found:]
                break
            index, length = RECORD.unpack_from(data, found + len(token))
            if index >= len(LEVELS) or length > RECORD_LIMIT:
                out.append(token)  # not a record of the runtime's
                pos = found + len(token)
                continue
            self._level, self._due, pos = LEVELS[index], length, found + head
            if not length:
                out.append(LogRecord(self._level, ""))
        return out

    def flush(self) -> list[bytes | LogRecord]:
        """What was held back as maybe the start of a record, as output (nothing is due)."""
        if self._due or not self._held:
            return []
        held, self._held = self._held, b""
        return [held]


def _token_prefix(data: bytes, pos: int, token: bytes) -> int:
    """How many bytes at the end of ``data[pos:]`` are the start of ``token``."""
    start = max(pos, len(data) - len(token) + 1)
    first = data.find(token[:1], start)
    while first >= 0:
        if token.startswith(data[first:]):
            return len(data) - first
        first = data.find(token[:1], first + 1)
    return 0
