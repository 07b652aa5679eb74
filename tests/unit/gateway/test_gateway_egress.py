"""The HTTP_PROXY client's address check (shoal.gateway.egress) against a real upstream on
loopback, with DNS stood in for by a resolver that re-points a name as a rebinding attacker
would: the connection is made to the address that was checked, never resolved again."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shoal.gateway import egress


@pytest.fixture
def upstream() -> Iterator[tuple[int, list[str]]]:
    """(port, the Host headers it saw)."""
    hosts: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], hosts
    server.shutdown()
    server.server_close()
    thread.join()


class Dns:
    """Answers each name with the next of its answers (the last one repeated)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def _get(url: str) -> tuple[int, bytes] | Exception:
    client = egress.client()
    try:
        response = await client.get(url)
        return response.status_code, response.content
    except httpx.HTTPError as e:
        return e
    finally:
        await client.aclose()


def test_a_rebound_name_reaches_only_the_checked_address(
    upstream: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, hosts = upstream
    dns = Dns(["127.0.0.1"], ["169.254.169.254"])
    monkeypatch.setattr(egress, "resolve", dns)
    # rebind.test resolves nowhere but in this Dns: only the checked address can be reached.
    assert asyncio.run(_get(f"http://rebind.test:{port}/x")) == (200, b"ok")
    assert dns.asked == ["rebind.test"]  # once: the connection did not resolve again
    assert hosts == [f"rebind.test:{port}"]  # the Host is the name's
    # The name now points at the metadata service: the next connection is refused.
    refused = asyncio.run(_get(f"http://rebind.test:{port}/x"))
    assert isinstance(refused, httpx.ConnectError)
    assert isinstance(refused.__cause__, egress.Forbidden)
    assert hosts == [f"rebind.test:{port}"]


def test_any_forbidden_address_refuses_the_name(
    upstream: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, hosts = upstream
    monkeypatch.setattr(egress, "resolve", Dns(["127.0.0.1", "169.254.169.254"]))
    refused = asyncio.run(_get(f"http://both.test:{port}/"))
    assert isinstance(refused, httpx.ConnectError) and hosts == []
    monkeypatch.setattr(egress, "resolve", egress.system_resolve)
    assert isinstance(asyncio.run(_get("http://169.254.169.254/latest/meta-data/")),
                      httpx.ConnectError)  # fmt: skip
    assert asyncio.run(_get(f"http://127.0.0.1:{port}/")) == (200, b"ok")


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("169.254.169.254", True),
        ("fe80::1%2", True),
        ("::ffff:169.254.169.254", True),
        ("fd00:ec2::254", True),
        ("0.0.0.0", True),
        ("::", True),
        ("224.0.0.1", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("::1", False),
        ("2001:db8::1", False),
    ],
)
def test_forbidden_addresses(address: str, refused: bool) -> None:
    assert egress.forbidden(address) is refused
