"""The open WebSocket connections: who is connected to which API and stage, and a way to them.

A :class:`Connection` is made when a client's ``$connect`` is accepted and registered under its
id until the connection ends, however it ends (the client closes, the idle or maximum
duration runs out, ``DeleteConnection``). Only accepted connections are registered, so the
``@connections`` API answers ``GoneException`` for a connection still in its ``$connect`` as
for one that is gone, as API Gateway does.

Connections live in memory only: a WebSocket does not outlive the server process that holds
its TCP connection. The registry and every connection are the event loop's: nothing here
locks, and nothing awaits while changing the map.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# API Gateway's message payload quota: the largest message either way.
MAX_MESSAGE = 128 * 1024


def new_connection_id() -> str:
    """An id shaped as API Gateway's (16 characters of base64 ending in ``=``), URL-safe so
    that it needs no escaping in ``@connections/{connectionId}`` beyond the ``=``."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


@dataclass
class Connection:
    """One accepted connection; ``send_text``/``send_bytes``/``close`` reach the client."""

    connection_id: str
    api_id: str
    stage: str
    region: str
    source_ip: str
    user_agent: str
    connected_at_ms: int
    # The ASGI send of the client's socket (the WebSocket app's), and an event set once the
    # server wants the connection closed (with close_code/close_reason).
    send: Callable[[dict[str, Any]], Awaitable[None]]
    last_active: float = field(default_factory=time.time)  # the client's last message
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int = 1000
    close_reason: str = ""
    authorizer: dict[str, Any] | None = None  # requestContext.authorizer of its events
    identity: dict[str, Any] | None = None  # requestContext.identity of an AWS_IAM caller's
    client_closed: bool = False  # the client sent its close (the server need not)

    async def send_message(self, data: bytes) -> None:
        """Send ``data`` to the client: a text frame when it is UTF-8, else a binary one."""
        try:
            await self.send({"type": "websocket.send", "text": data.decode()})
        except UnicodeDecodeError:
            await self.send({"type": "websocket.send", "bytes": data})

    def request_close(self, code: int, reason: str) -> None:
        """Ask the connection's own task to close it (idempotent: the first reason stays)."""
        if not self.closing.is_set():
            self.close_code, self.close_reason = code, reason
            self.closing.set()

    @property
    def connected_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.connected_at_ms / 1000, dt.UTC)

    @property
    def last_active_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.last_active, dt.UTC)

    @property
    def arn_prefix(self) -> str:
        """``API_ID/STAGE``: what its ``execute-api`` ARNs start with after the account."""
        return f"{self.api_id}/{self.stage}"


class ConnectionRegistry:
    """connection id -> Connection, for the connections accepted and not yet ended."""

    def __init__(self) -> None:
        self._by_id: dict[str, Connection] = {}

    def add(self, connection: Connection) -> None:
        self._by_id[connection.connection_id] = connection

    def remove(self, connection_id: str) -> None:
        self._by_id.pop(connection_id, None)

    def get(self, connection_id: str) -> Connection | None:
        return self._by_id.get(connection_id)

    def of_api(self, api_id: str) -> Iterator[Connection]:
        return (c for c in list(self._by_id.values()) if c.api_id == api_id)

    def __len__(self) -> int:
        return len(self._by_id)
