"""Test doubles for the gateway: a Shoal container with only the gateway, a scripted invoker,
a function registry, an ASGI driver, and an in-process server (uvicorn in a thread)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

import shoal.api.apigatewayv2
import shoal.api.lambda_urls  # noqa: F401  (registers the handlers, as Shoal's API_MODULES do)
from conftest import wait_for
from shoal.api.asgi import ShoalApp
from shoal.config import Settings
from shoal.errors import AwsError
from shoal.functions.models import FunctionVersion
from shoal.gateway.service import GatewayService
from shoal.identity.root import RootCredentials
from shoal.store.sqlite import Store


@dataclass
class Result:
    """The invoker's InvocationResult contract."""

    request_id: str = "req-1"
    status_code: int = 200
    payload: bytes = b"null"
    function_error: str | None = None
    executed_version: str = "$LATEST"
    log_result: str | None = None
    error_type: str | None = None


Behaviour = Callable[[str, str | None, dict[str, Any]], Result]


def returns(value: Any) -> Behaviour:
    return lambda name, qualifier, event: Result(payload=json.dumps(value).encode())


@dataclass
class FakeInvoker:
    behaviour: Behaviour = field(default_factory=lambda: returns("ok"))
    calls: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)

    async def invoke(self, name: str, qualifier: str | None, payload: bytes, **_: Any) -> Result:
        event = json.loads(payload)
        self.calls.append((name, qualifier, event))
        return self.behaviour(name, qualifier, event)

    @property
    def last_event(self) -> dict[str, Any]:
        return self.calls[-1][2]


class FakeFunctions:
    """``shoal.functions``: names in ``self.names`` exist, aliases in ``self.aliases``."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.aliases: set[tuple[str, str]] = set()
        self.subscribers: list[Callable[[str], None]] = []

    def resolve(self, name_or_arn: str, qualifier: str | None) -> FunctionVersion:
        name = name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn
        name = name.split(":")[-1] if ":" in name else name
        if name not in self.names or (qualifier and (name, qualifier) not in self.aliases):
            raise AwsError("ResourceNotFoundException", f"Function not found: {name_or_arn}")
        return FunctionVersion(
            name=name,
            version="$LATEST",
            function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
            runtime="python3.11",
            handler="app.handler",
            role="arn:aws:iam::123456789012:role/r",
            code_dir="/nonexistent",
            code_sha256="",
            code_size=0,
        )

    def subscribe(self, callback: Callable[[str], None]) -> None:
        self.subscribers.append(callback)

    def remove(self, name: str) -> None:
        self.names.discard(name)
        for callback in self.subscribers:  # subscribers hear of a function by its ARN
            callback(f"arn:aws:lambda:us-east-1:123456789012:function:{name}")


class FakeShoal:
    def __init__(self, data_dir: Path, invoker: FakeInvoker | None = None) -> None:
        self.settings = Settings(data_dir=data_dir)
        self.root = RootCredentials("shoal", "shoal")  # what the tests' clients sign with
        data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.settings.db_path)
        self.http = ShoalApp(self)  # type: ignore[arg-type]
        self.invoker = invoker or FakeInvoker()
        self.functions = FakeFunctions()
        self.gateway = GatewayService(self)  # type: ignore[arg-type]

    async def start(self) -> None:
        await self.gateway.start()

    async def stop(self) -> None:
        await self.gateway.stop()


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


async def asgi_request(
    app: Any,
    method: str,
    path: str,
    *,
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    chunks: list[bytes] | None = None,
) -> Reply:
    """Drive an ASGI app with one HTTP request, as uvicorn would."""
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 9000),
    }
    parts = chunks if chunks is not None else [body]
    messages = [
        {"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
        for i, p in enumerate(parts)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    return Reply(
        start["status"],
        [(k.decode(), v.decode()) for k, v in start["headers"]],
        b"".join(m.get("body", b"") for m in sent[1:]),
    )


class InProcessServer:
    """uvicorn serving a FakeShoal's HTTP app on 127.0.0.1:<free port>, in a thread."""

    def __init__(self, shoal: FakeShoal) -> None:
        self.shoal = shoal
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.endpoint = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(shoal.http, lifespan="on", log_level="warning", loop="asyncio")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def __enter__(self) -> InProcessServer:
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), timeout=10)
        if not self.server.started:
            raise RuntimeError("in-process server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
