"""``shoal serve``: the HTTP server around a :class:`shoal.core.Shoal`.

Shutdown on SIGINT/SIGTERM is uvicorn's graceful drain: stop accepting, let in-flight requests
(and so invocations) finish within ``drain_s``, then the lifespan shutdown stops every component
in reverse order; the invoker kills every environment and the sandbox stops its fork servers, so
nothing is left running.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys

import uvicorn

from shoal.config import Settings
from shoal.core import Shoal


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(settings: Settings, drain_s: float = 30.0, log_level: str = "info") -> None:
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    sock = bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    if port != settings.port:
        from dataclasses import replace

        settings = replace(settings, port=port)
    shoal = Shoal(settings)
    config = uvicorn.Config(
        shoal.http,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # Shoal is not behind a proxy; the middleware costs every request
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
