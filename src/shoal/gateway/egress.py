"""Where the gateway may connect for an HTTP_PROXY integration, and the client that connects.

An upstream's host must not resolve to a link-local, multicast or unspecified address, nor to
EC2's IPv6 metadata address: the host's cloud metadata service (169.254.169.254,
fd00:ec2::254) and its credentials are not the API owner's to reach through the gateway.

The check is made where the connection is made, on the address it is made to: the client's
network backend (:class:`CheckedBackend`, under httpx's own transport) resolves the host once,
refuses the connection when any address is forbidden, and connects to an address it checked.
Resolving for a check and letting the connection resolve again would let a name re-pointed
between the two (DNS rebinding) reach the metadata service. The URL keeps its host name, so the
``Host`` header, the TLS server name (SNI) and certificate verification are the name's, and
pooled connections are per name (each made through the check).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

_EC2_METADATA_V6 = ipaddress.ip_address("fd00:ec2::254")

# host, port -> the addresses it resolves to (in the resolver's order). A module attribute so
# that a test can stand in for DNS (re-pointing a name, as a rebinding attacker would).
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


resolve: Resolver = system_resolve


class Forbidden(httpcore.ConnectError):
    """The upstream's host names an address the gateway does not connect to."""


def forbidden(address: str) -> bool:
    a = ipaddress.ip_address(address.strip("[]").split("%")[0])
    mapped = a.ipv4_mapped if isinstance(a, ipaddress.IPv6Address) else None
    return (
        a.is_link_local
        or a.is_multicast
        or a.is_unspecified
        or a == _EC2_METADATA_V6
        or (mapped is not None and (mapped.is_link_local or mapped.is_unspecified))
    )


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, connecting only to addresses :func:`forbidden` allows, and
    only to the very addresses it checked."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port)
        except OSError as e:
            raise httpcore.ConnectError(f"{host}: {e}") from e
        bad = [a for a in addresses if forbidden(a)]
        if bad or not addresses:
            raise Forbidden(f"{host} resolves to {', '.join(bad) or 'nothing'}: refused")
        error: Exception | None = None
        for address in addresses:  # the checked ones, in the resolver's order
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as e:
                error = e
        assert error is not None  # addresses is not empty
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise Forbidden("the gateway connects over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a :class:`CheckedBackend` pool (httpx takes no backend of its
    own: the pool it made is replaced, with the same settings; httpx is pinned exactly)."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedBackend(),
        )


_CLIENTS: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}


def client() -> httpx.AsyncClient:
    """The running loop's client: every connection checked, redirects never followed, no proxy
    from the environment, no timeout of its own (the caller cuts the exchange at the
    integration timeout), idle connections kept a few seconds."""
    loop = asyncio.get_running_loop()
    found = _CLIENTS.get(loop)
    if found is None:
        for old in [k for k in _CLIENTS if k.is_closed()]:
            del _CLIENTS[old]
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=32,
                              keepalive_expiry=5.0)  # fmt: skip
        found = _CLIENTS[loop] = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=None,
            transport=CheckedTransport(limits),
        )
    return found
