"""What ClientConnections counts besides environments, read from the real kernel's /proc: TCP
connections to a listening address (from privileged ports, or the TLS terminator's address,
only) and host bind mounts of a file system's tree (outside the data directory)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shoal.filesystems import clients, hostmount
from shoal.filesystems.tls_terminator import TERMINATOR_ADDRESS


def test_addresses_as_proc_prints_them() -> None:
    assert clients._address("0100007F:0801") == ("127.0.0.1", 2049)
    assert clients._address("0000000000000000FFFF00000100007F:0801") == ("127.0.0.1", 2049)
    assert clients._address("00000000000000000000000001000000:0016") == ("::1", 22)


@contextmanager
def connected(port: int, client_port: int = 0,
              source: str = "127.0.0.1") -> Iterator[socket.socket]:  # fmt: skip
    client = socket.socket()
    try:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        client.bind((source, client_port))
        client.connect(("127.0.0.1", port))
        yield client
    finally:
        client.close()


def privileged_port() -> int:
    for port in range(1023, 600, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    continue
                raise
            return port
    raise RuntimeError("no free privileged port")


def test_connections_to_a_target_count_from_privileged_ports_only() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        target = [("fs-1", "127.0.0.1", port)]
        assert clients.nfs_connections(target) == {}
        with connected(port):  # an ephemeral port: the health probe's kind, not a client
            assert clients.nfs_connections(target) == {}
            with connected(port, privileged_port()):
                assert clients.nfs_connections(target) == {"fs-1": 1}
                assert clients.nfs_connections([("fs-1", "0.0.0.0", port)]) == {"fs-1": 1}
                assert clients.nfs_connections([("fs-1", "127.0.0.2", port)]) == {}
                assert clients.nfs_connections([("fs-2", "127.0.0.1", port + 1)]) == {}
            # The TLS terminator's connection (one per TLS client), from its own address on
            # an ephemeral port, is a client too.
            with connected(port, source=TERMINATOR_ADDRESS):
                assert clients.nfs_connections(target) == {"fs-1": 1}
        assert clients.nfs_connections(target) == {}


@contextmanager
def bound(source: Path, target: Path) -> Iterator[None]:
    target.mkdir()
    hostmount.bind(str(source), str(target))
    try:
        yield
    finally:
        hostmount.unmount(str(target), detach=True)


def test_host_mounts_of_a_tree_or_a_directory_in_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    tree = data / "filesystems" / "fs-1"
    (tree / "ap").mkdir(parents=True)
    other = data / "filesystems" / "fs-2"
    other.mkdir()
    trees = {"fs-1": str(tree), "fs-2": str(other)}
    assert clients.host_mounts(trees, str(data)) == {}
    with bound(tree, tmp_path / "whole"):
        assert clients.host_mounts(trees, str(data)) == {"fs-1": 1}
        with bound(tree / "ap", tmp_path / "ap"):
            assert clients.host_mounts(trees, str(data)) == {"fs-1": 2}
        # Mounts under the data directory are Shoal's own, and fs-1's tree is not fs-2's.
        with bound(tree, data / "own"):
            assert clients.host_mounts(trees, str(data)) == {"fs-1": 1}
    assert clients.host_mounts(trees, str(data)) == {}
