"""Each environment's network, through a real server: a namespace of its own with egress
through NAT to other hosts, and nothing of this host reachable (Shoal's API, anything
listening on any of the host's addresses, another environment)."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import ShoalServer, create_function, remote_web_server, start_server
from shoal.sandbox.network import BLOCK_PREFIX, SUPERNET

PROBE = """
import json, socket, urllib.request

def connect(host, port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((host, port))
        return "connected"
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()

def fetch(url):
    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError as e:
        return type(e).__name__

def address():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("198.18.0.1", 9))  # no packet is sent: this only picks the source address
        return s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()

def handler(event, context):
    return {
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "address": address(),
        "connect": {f"{h}:{p}": connect(h, p) for h, p in event.get("connect", [])},
        "fetch": {u: fetch(u) for u in event.get("fetch", [])},
    }
"""

LISTENER = """
import socket, threading

SERVER = socket.socket()
SERVER.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
SERVER.bind(("0.0.0.0", 7000))
SERVER.listen()

def serve():
    while True:
        conn, _ = SERVER.accept()
        conn.sendall(b"env")
        conn.close()

threading.Thread(target=serve, daemon=True).start()

def handler(event, context):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("198.18.0.1", 9))
    return s.getsockname()[0]
"""


def invoke(client: Any, name: str, event: dict[str, Any], qualifier: str = "$LATEST") -> Any:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event), Qualifier=qualifier)
    body = response["Payload"].read()
    assert "FunctionError" not in response, body
    return json.loads(body)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    site = tmp_path_factory.mktemp("site")
    (site / "hello.txt").write_text("hello from another host\n")
    with remote_web_server(site) as url:
        yield url


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A service of this host listening on every address (as a careless daemon would)."""
    with socket.socket() as srv:
        srv.bind(("0.0.0.0", 0))
        srv.listen()
        yield srv.getsockname()[1]


def host_addresses() -> list[str]:
    """Every IPv4 address of this host, the environments' gateway among them."""
    out = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=True)
    return [a["local"] for link in json.loads(out.stdout) for a in link.get("addr_info", [])]


def test_an_environment_reaches_another_host_through_nat(lambda_client: Any, web: str) -> None:
    name = create_function(lambda_client, code=PROBE)
    out = invoke(lambda_client, name, {"fetch": [f"{web}/hello.txt"]})
    assert out["interfaces"] == ["eth0", "lo"]
    assert out["address"].startswith("100.")  # the shared address space, not the host's
    assert out["fetch"] == {f"{web}/hello.txt": "hello from another host\n"}


def test_nothing_of_the_host_is_reachable(
    server: ShoalServer, lambda_client: Any, host_listener: int
) -> None:
    api_port = int(server.endpoint.rsplit(":", 1)[1])
    targets = [("127.0.0.1", api_port)] + [(a, host_listener) for a in host_addresses()]
    for host, port in targets:  # the probe is meaningful: each is reachable from the host
        socket.create_connection((host, port), timeout=2).close()
    name = create_function(lambda_client, code=PROBE)
    out = invoke(lambda_client, name, {"connect": targets})
    assert len(out["connect"]) == len(targets)
    assert "connected" not in out["connect"].values(), out["connect"]
    # Not even Shoal's control plane: a function cannot create another one.
    api = f"http://127.0.0.1:{api_port}/2015-03-31/functions"
    out = invoke(lambda_client, name, {"fetch": [api]})
    assert out["fetch"][api] in ("URLError", "ConnectionRefusedError"), out


def test_the_instance_metadata_address_is_refused(lambda_client: Any) -> None:
    """169.254.169.254 would be routed out through NAT; it is refused at once instead."""
    name = create_function(lambda_client, code=PROBE)
    out = invoke(lambda_client, name, {"connect": [("169.254.169.254", 80)]})
    assert out["connect"] == {"169.254.169.254:80": "OSError"}  # EHOSTUNREACH, not a timeout


def test_environments_cannot_reach_each_other(lambda_client: Any) -> None:
    listener = create_function(lambda_client, code=LISTENER)
    address = invoke(lambda_client, listener, {})
    with socket.create_connection((address, 7000), timeout=2) as conn:  # it listens
        assert conn.recv(3) == b"env"
    prober = create_function(lambda_client, code=PROBE)
    out = invoke(lambda_client, prober, {"connect": [(address, 7000)]})
    assert out["connect"] == {f"{address}:7000": "TimeoutError"}


def test_each_environment_has_its_own_loopback(lambda_client: Any) -> None:
    """Two environments of one function each bind 127.0.0.1:7000 at init: on a shared
    loopback the second init would fail with EADDRINUSE."""
    code = LISTENER.replace('"0.0.0.0"', '"127.0.0.1"').replace(
        "def handler(event, context):",
        "def handler(event, context):\n    __import__('time').sleep(1)",
    )
    name = create_function(lambda_client, code=code)
    with ThreadPoolExecutor(2) as pool:
        addresses = list(pool.map(lambda _: invoke(lambda_client, name, {}), range(2)))
    assert len(set(addresses)) == 2


def test_snapshot_started_environments_get_their_own_network(lambda_client: Any, web: str) -> None:
    name = create_function(lambda_client, code=PROBE)
    lambda_client.update_function_configuration(
        FunctionName=name, SnapStart={"ApplyOn": "PublishedVersions"}
    )
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    out = invoke(lambda_client, name, {"fetch": [f"{web}/hello.txt"]}, qualifier=version)
    assert out["interfaces"] == ["eth0", "lo"]
    assert out["fetch"] == {f"{web}/hello.txt": "hello from another host\n"}


def test_without_egress_an_environment_has_loopback_only(tmp_path: Path, web: str) -> None:
    srv = start_server(tmp_path / "data", "--egress", "none")
    try:
        client = srv.client("lambda")
        name = create_function(client, code=PROBE)
        out = invoke(client, name, {"fetch": [f"{web}/hello.txt"]})
        assert out["interfaces"] == ["lo"]
        assert out["address"] is None
        assert out["fetch"] == {f"{web}/hello.txt": "URLError"}
    finally:
        assert srv.stop() == 0


def _slot(address: str) -> int:
    offset = int(ipaddress.IPv4Address(address)) - int(SUPERNET.network_address)
    return offset >> (32 - BLOCK_PREFIX)


def _links() -> list[str]:
    return sorted(os.listdir("/sys/class/net"))


def _tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


def test_a_killed_servers_network_is_taken_over_and_removed_at_stop(
    tmp_path: Path, web: str
) -> None:
    """SIGKILL leaves the bridge and the tables behind; the next server in that slot removes
    them and builds its own; a clean stop leaves nothing."""
    first = start_server(tmp_path / "first")
    client = first.client("lambda")
    slot = _slot(invoke(client, create_function(client, code=PROBE), {})["address"])
    first.stop(signal.SIGKILL)
    assert f"shoal-{slot}" in _links()
    assert f"table inet shoal_{slot}" in _tables()

    second = start_server(tmp_path / "second")
    try:
        client = second.client("lambda")
        out = invoke(client, create_function(client, code=PROBE), {"fetch": [f"{web}/hello.txt"]})
        assert _slot(out["address"]) == slot
        assert out["fetch"] == {f"{web}/hello.txt": "hello from another host\n"}
        assert _tables().count(f"shoal_{slot}\n") == 2  # inet and bridge, once each
    finally:
        assert second.stop() == 0
    assert f"shoal-{slot}" not in _links()
    assert f"shoal_{slot}" not in _tables()


def test_without_nftables_the_server_says_what_to_install(tmp_path: Path) -> None:
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    assert shutil.which("nft", path=path) is None  # the premise: nft lives in /usr/sbin
    run = subprocess.run(
        [sys.executable, "-m", "shoal", "serve", "--port", "0", "--data-dir", str(tmp_path)],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "nft is not installed" in run.stderr and "--egress none" in run.stderr, run.stderr
