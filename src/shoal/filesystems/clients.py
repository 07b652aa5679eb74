"""Who is connected to a file system, as ``ClientConnections`` counts them, read from ``/proc``.

EFS counts client connections; a Shoal file system has three kinds of client, each counted
where the kernel already knows it, so nothing on the data path keeps a count:

- an execution environment that has it mounted (the storage metrics count those from the
  invoker's pools: each Lambda environment is one NFS client on EFS);
- an NFS client of one of its mount targets: one established TCP connection to the target's
  address and port (``/proc/net/tcp`` and ``tcp6``: Ganesha runs in the server's network
  namespace, as :mod:`shoal.filesystems.nfs` starts it). Only connections from a privileged
  port count, and the TLS terminator's: the exports serve no other
  (:mod:`shoal.filesystems.ganesha_conf`), and the supervisor's health probe, which connects
  from an ephemeral port every few seconds, is no client. A TLS client is one connection of
  the terminator's (stunnel opens one to Ganesha per client, once the client's handshake is
  done) from its own address, :data:`~shoal.filesystems.tls_terminator.TERMINATOR_ADDRESS`,
  on an ephemeral port; no other process can send from that address to a target's port
  (:mod:`shoal.filesystems.tls_guard`);
- a host mount (``shoal fs mount``, of the whole file system or of an access point): a mount
  in the server's mount namespace (``/proc/self/mountinfo``) of the file system's device
  whose root is inside the file system's tree, mounted anywhere but under the data
  directory (where Shoal's own mounts of the trees live).

Reading these is file I/O: callers run :func:`nfs_connections` and :func:`host_mounts` in a
worker thread.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from shoal.filesystems import hostmount
from shoal.filesystems.tls_terminator import TERMINATOR_ADDRESS

ESTABLISHED = "01"  # /proc/net/tcp's st column
PRIVILEGED_PORTS = 1024


def _address(hex_address: str) -> tuple[str, int]:
    """``0100007F:0801`` (IPv4) or 32 hex digits (IPv6), each 32-bit word in host order."""
    addr, port = hex_address.split(":")
    raw = bytes.fromhex(addr)
    # /proc prints each 32-bit word as the host stores it: little-endian on every Linux
    # architecture Shoal runs on.
    ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(ordered)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), int(port, 16)


def established() -> list[tuple[tuple[str, int], tuple[str, int]]]:
    """(local, remote) of the established TCP connections of this network namespace."""
    base = Path("/proc/net")
    out = []
    for name in ("tcp", "tcp6"):
        try:
            lines = (base / name).read_text().splitlines()[1:]
        except OSError:  # no IPv6
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == ESTABLISHED:
                out.append((_address(fields[1]), _address(fields[2])))
    return out


def nfs_connections(targets: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """File system id -> NFS client connections to its mount targets, given each target as
    (file system id, listening address, port)."""
    out: dict[str, int] = {}
    connections = established()
    for fs_id, address, port in targets:
        wildcard = address in ("0.0.0.0", "::", "")
        count = sum(
            1
            for (local_ip, local_port), (remote_ip, remote_port) in connections
            if local_port == port
            and (wildcard or local_ip == address)
            and (remote_port < PRIVILEGED_PORTS or remote_ip == TERMINATOR_ADDRESS)
        )
        if count:
            out[fs_id] = out.get(fs_id, 0) + count
    return out


def _device(path: str) -> str:
    st = os.stat(path)
    return f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"


def _inner_path(path: str, entries: list[hostmount.MountEntry]) -> str | None:
    """``path`` as the root field of a mount of its file system would name it: the root of
    the mount that holds it, plus the rest of the path."""
    holder = None
    for m in entries:
        if (path == m.point or path.startswith(m.point.rstrip("/") + "/")) and (
            holder is None or len(m.point) >= len(holder.point)
        ):
            holder = m
    if holder is None:
        return None
    rest = path[len(holder.point.rstrip("/")) :]
    return (holder.root.rstrip("/") + rest) or "/"


def host_mounts(trees: dict[str, str], data_dir: str) -> dict[str, int]:
    """File system id -> mounts of its tree (or of a directory in it) on this host outside
    ``data_dir``, given each file system's tree by id."""
    entries = hostmount.mounts()
    data = os.path.realpath(data_dir).rstrip("/") + "/"
    outside = [m for m in entries if not (m.point + "/").startswith(data)]
    out: dict[str, int] = {}
    for fs_id, tree in trees.items():
        real = os.path.realpath(tree)
        try:
            device = _device(real)
        except OSError:
            continue  # deleted meanwhile
        inner = _inner_path(real, entries)
        if inner is None:
            continue
        prefix = inner.rstrip("/") + "/"
        count = sum(
            1
            for m in outside
            if m.device == device and (m.root == inner or m.root.startswith(prefix))
        )
        if count:
            out[fs_id] = count
    return out
