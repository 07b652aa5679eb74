"""``shoal serve``: the HTTP server around a :class:`shoal.core.Shoal`.

Shutdown on SIGINT/SIGTERM is uvicorn's graceful drain: stop accepting, let in-flight requests
(and so invocations) finish within ``drain_s``, then the lifespan shutdown stops every component
in reverse order; the invoker kills every environment and the sandbox stops its fork servers, so
nothing is left running.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import sys
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shoal import datadir, tls
from shoal.config import Settings
from shoal.core import Shoal
from shoal.gateway import websocket_frames


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    # Not inheritable: uvloop's subprocesses ignore close_fds, so every process Shoal starts
    # with asyncio (NFS-Ganesha's, for one) would otherwise hold the API's listening socket.
    return sock


CORK_MAX = 1 << 16  # bigger writes go out at once


class CorkedTransport(asyncio.Transport):
    """A TCP transport that sends what is written to it during one event-loop iteration with one
    write, at the end of the iteration.

    uvicorn writes a response's status line and headers, then its body, with two ``write``
    calls: uvloop makes them two ``send`` syscalls and two TCP segments, and the client wakes
    for each. Both writes happen in one iteration (neither ASGI ``send`` waits, unless the
    client is not reading, and then the flow control pauses the writer anyway), so corking
    them costs a scheduled callback and saves a syscall and a wake-up per response. Order is
    kept; ``close`` sends what is held first, ``abort`` drops it (as a real abort drops the
    buffer). Everything else is the real transport's.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []  # written this iteration, sent by _flush

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if len(data) > CORK_MAX:
            # A big body: a syscall more is nothing next to copying it once more.
            self._flush()
            self._transport.write(data)
            return
        if not self._held:
            self._loop.call_soon(self._flush)
        self._held.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _flush(self) -> None:
        held, self._held = self._held, []
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = []
        self._transport.abort()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing each response with one ``send``
    (:class:`CorkedTransport`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, self.loop))


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _tls(settings: Settings, shoal: Shoal, auto: bool) -> tls.TlsFiles | None:
    """The certificate to serve (``--tls auto``'s made or reused now, naming the address the
    environments reach the API by too), or None for plain HTTP."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    if not auto:
        return tls.TlsFiles(settings.tls_cert, settings.tls_key, settings.tls_ca)
    extra = []
    endpoint = getattr(shoal, "sandbox", None) and shoal.sandbox.api_endpoint
    if endpoint:
        extra.append(endpoint.split("://", 1)[1].rpartition(":")[0])
    extra.append(settings.nfs_address)  # mount targets' TLS terminators present it too
    names = tls.server_names(settings.host, settings.allowed_hosts, extra)
    files = tls.auto(settings.tls_cert.parent, names)
    print(
        f"Shoal TLS: clients trust the CA {files.ca} (AWS_CA_BUNDLE={files.ca}, "
        f"aws --ca-bundle {files.ca}, NODE_EXTRA_CA_CERTS={files.ca})",
        flush=True,
    )
    return files


def serve(
    settings: Settings, drain_s: float = 30.0, log_level: str = "info", tls_auto: bool = False
) -> None:
    """Run the server. With ``tls_auto``, ``settings``' TLS paths are :func:`shoal.tls.auto`'s
    (made or reused here)."""
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Everything the server writes from here on is its own alone (see shoal.datadir).
    os.umask(datadir.SERVER_UMASK)
    sock = bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    if port != settings.port:
        from dataclasses import replace

        settings = replace(settings, port=port)
    try:
        shoal = Shoal(settings)
    except datadir.DataDirError as e:
        sock.close()
        raise SystemExit(f"shoal: refusing to start: {e}") from None
    try:
        files = _tls(settings, shoal, tls_auto)
        context = tls.server_context(files) if files is not None else None
        gateway = getattr(shoal, "gateway", None)
        if context is not None and gateway is not None:
            # Custom domain names answer with their own certificates (gateway.certificates).
            context.sni_callback = gateway.certificates.sni_callback
    except (OSError, ValueError, ssl.SSLError) as e:
        sock.close()
        raise SystemExit(f"shoal: refusing to start: TLS: {e}") from None
    config = uvicorn.Config(
        shoal.http,
        ssl_context_factory=(lambda config, default: context) if context is not None else None,
        loop="uvloop",
        http=HttpProtocol,
        # WebSocket APIs: the websockets library's protocol, with API Gateway's quotas.
        ws=websocket_frames.PROTOCOL_PATH,
        ws_max_size=websocket_frames.MAX_MESSAGE_SIZE,
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # Shoal is not behind a proxy; the middleware costs every request
        server_header=False,  # AWS sends none; one header fewer to check and write per response
        log_level=log_level,
        timeout_graceful_shutdown=int(drain_s),
        timeout_keep_alive=75,
    )
    server = uvicorn.Server(config)
    # uvicorn drains, then re-raises the signal it caught under the handler that was installed
    # before it: make SIGTERM's a clean exit, so a graceful stop exits 0, not -15.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    (settings.run_dir / "endpoint").write_text(settings.endpoint() + "\n")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    sys.stdout.flush()
