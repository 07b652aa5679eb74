"""Each environment's network: a network namespace of its own, and egress through NAT.

Why. The host's network holds Shoal's own API and the NFS mount targets on 127.0.0.1, with
no authentication: an environment on the host network could create a function attached to
an access point it was not given, or mount a whole file system over NFS as any uid. So every
environment gets its own network namespace (the runtime unshares it, see
:mod:`shoal.runtime.spawn` step I3 and :mod:`shoal.runtime.restore` step C3), where 127.0.0.1
is its own loopback and nothing of the host is reachable.

Egress (``--egress nat``, the default, as a Lambda function reaches the internet through its
VPC's NAT gateway): the server owns one bridge, ``shoal-N`` (N is the lowest free slot, held
with a lock file, so that several servers on one host never share one), with the gateway
address of a /20 of the shared address space 100.64.0.0/10 (RFC 6598, never a real LAN).
Each environment gets a veth pair: the host end a port of the bridge, the other end its
``eth0`` with an address of the /20 and a default route to the gateway. The ``inet shoal_N``
nftables table then:

- masquerades what leaves through any other interface (so IP forwarding is switched on);
- rejects anything that arrives from the bridge for the host itself, on any of its
  addresses: Shoal's API, the mount targets and every other service of the host stay out of
  reach, whatever address they listen on;
- drops new connections from outside into the bridge;
- rejects link-local destinations (169.254.0.0/16): a cloud host's instance metadata, and so
  its credentials, are not the functions' (Lambda's environments cannot reach it either);

and the ``bridge shoal_N`` table drops what one bridge port sends to another, so that
environments cannot reach each other either. ``--egress none`` leaves environments with
their loopback only.

Cost. The pair is created with its far end already in the environment's namespace and set up
by six netlink requests (:mod:`.netlink`, about 2 ms in all) between the runtime's ``ready``
and its init, when no user code has run yet. It goes away with the namespace when the
environment ends (the kernel deletes it, ~16 ms, off every path). Addresses and port names
are handed out round robin, so that a freed address is not reused while the kernel may still
hold its old neighbour entries.
"""

from __future__ import annotations

import asyncio
import fcntl
import ipaddress
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor

from shoal.runtime import linux

from .netlink import LOOPBACK_INDEX, Netlink, index_of

log = logging.getLogger(__name__)

EGRESS_MODES = ("nat", "none")
SUPERNET = ipaddress.IPv4Network("100.64.0.0/10")
BLOCK_PREFIX = 20  # 4093 environments per server, 1024 servers per host
LOCK_DIR = "/run/shoal-net"


class NetworkError(OSError):
    pass


class EnvironmentNetwork:
    """The network side of every environment of one server. Methods other than the
    constructor run on the server's event loop; netlink work runs on one thread of its own,
    the only one that ever changes its network namespace."""

    def __init__(self, egress: str = "none") -> None:
        if egress not in EGRESS_MODES:
            raise ValueError(f"egress must be one of {', '.join(EGRESS_MODES)}, not {egress!r}")
        self.egress = egress
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="shoal-net")
        self._host_ns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self._started: asyncio.Future[None] | None = None
        self._lock_fd: int | None = None
        self.slot = -1
        self.bridge = ""
        self.gateway: ipaddress.IPv4Interface | None = None
        self._hosts: list[ipaddress.IPv4Address] = []
        self._next_host = 0
        self._in_use: set[ipaddress.IPv4Address] = set()
        self._next_port = 0  # the host ends of the pairs are sh<slot>v<n>
        self._bridge_index = 0
        self._host_nl: Netlink | None = None

    # -- server life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            try:
                if self.egress == "nat":
                    await self._start_nat()
                self._started.set_result(None)
            except BaseException as e:
                self._started.set_exception(e)
        await asyncio.shield(self._started)

    async def _start_nat(self) -> None:
        self._lock_slot()
        block = list(SUPERNET.subnets(new_prefix=BLOCK_PREFIX))[self.slot]
        hosts = list(block.hosts())
        self.gateway = ipaddress.IPv4Interface(f"{hosts[0]}/{BLOCK_PREFIX}")
        self._hosts = hosts[1:]
        self.bridge = f"shoal-{self.slot}"
        await self._remove_leftovers()
        await _run(
            "ip",
            "-batch",
            "-",
            stdin=f"link add {self.bridge} type bridge\n"
            f"addr add {self.gateway} dev {self.bridge}\n"
            f"link set {self.bridge} up\n",
        )
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1")
        await _run("nft", "-f", "-", stdin=self._ruleset(block))
        self._host_nl = Netlink()
        self._bridge_index = index_of(self.bridge)
        log.info("environment egress: NAT through %s (%s)", self.bridge, block)

    def _lock_slot(self) -> None:
        os.makedirs(LOCK_DIR, exist_ok=True)
        for slot in range(2 ** (BLOCK_PREFIX - SUPERNET.prefixlen)):
            fd = os.open(f"{LOCK_DIR}/{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._lock_fd, self.slot = fd, slot
            return
        raise NetworkError("every environment network slot of this host is taken")

    def _ruleset(self, block: ipaddress.IPv4Network) -> str:
        b = self.bridge
        return f"""
table inet shoal_{self.slot} {{
    chain input {{
        type filter hook input priority filter - 10; policy accept;
        iifname "{b}" ct state established,related accept
        iifname "{b}" reject with icmpx type admin-prohibited
    }}
    chain forward {{
        type filter hook forward priority filter - 10; policy accept;
        iifname "{b}" oifname "{b}" drop
        iifname "{b}" ip daddr 169.254.0.0/16 reject with icmpx type admin-prohibited
        oifname "{b}" ct state established,related accept
        oifname "{b}" drop
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr {block} oifname != "{b}" masquerade
    }}
}}
table bridge shoal_{self.slot} {{
    chain forward {{
        type filter hook forward priority filter; policy accept;
        iifname "sh{self.slot}v*" oifname "sh{self.slot}v*" drop
    }}
}}
"""

    async def _remove_leftovers(self) -> None:
        """What a server killed in this slot left behind: its bridge and its tables."""
        links = [
            name
            for name in os.listdir("/sys/class/net")
            if name == self.bridge or re.fullmatch(rf"sh{self.slot}v\d+", name)
        ]
        if links:
            await _run(
                "ip",
                "-force",
                "-batch",
                "-",
                stdin="".join(f"link del {name}\n" for name in links),
                check=False,
            )
        await self._delete_tables()

    async def _delete_tables(self) -> None:
        for family in ("inet", "bridge"):
            await _run("nft", "delete", "table", family, f"shoal_{self.slot}", check=False)

    async def close(self) -> None:
        """After every environment is gone (their pairs go with their namespaces)."""
        if self.egress == "nat" and self._started is not None and self._started.done():
            if not self._started.exception():
                await _run("ip", "link", "del", self.bridge, check=False)
                await self._delete_tables()
        if self._host_nl is not None:
            self._host_nl.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self._thread.shutdown(wait=True)
        os.close(self._host_ns)

    # -- per environment ---------------------------------------------------------------------

    async def attach(self, pid: int) -> ipaddress.IPv4Interface | None:
        """Set up the network of the environment whose process ``pid`` is in its namespace:
        loopback up and, with egress, its ``eth0``. Returns its address (None without
        egress); give it back with :meth:`release` when the environment is gone."""
        await self.start()
        port = address = None
        if self.egress == "nat":
            port = f"sh{self.slot}v{self._next_port}"
            self._next_port += 1
            address = self._allocate()
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._thread, self._configure, pid, port, address)
        except BaseException:
            self.release(address)
            raise
        return address

    def release(self, address: ipaddress.IPv4Interface | None) -> None:
        if address is not None:
            self._in_use.discard(address.ip)

    def _allocate(self) -> ipaddress.IPv4Interface:
        for _ in range(len(self._hosts)):
            host = self._hosts[self._next_host]
            self._next_host = (self._next_host + 1) % len(self._hosts)
            if host not in self._in_use:
                self._in_use.add(host)
                return ipaddress.IPv4Interface(f"{host}/{BLOCK_PREFIX}")
        raise NetworkError(f"every address of {self.bridge} is in use")

    def _configure(
        self, pid: int, port: str | None, address: ipaddress.IPv4Interface | None
    ) -> None:
        """On the network thread. The pair is created by the host's netlink socket; the rest
        is asked of a socket made inside the environment's namespace (the thread enters it
        only for that: the socket keeps the namespace, the thread goes straight back)."""
        netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if port is not None:
                assert self._host_nl is not None
                self._host_nl.add_veth(port, self._bridge_index, netns, "eth0")
                self._host_nl.set_up(index_of(port))
            linux.setns(netns, linux.CLONE_NEWNET)
            try:
                inside = Netlink()
                eth = index_of("eth0") if port is not None else 0
            finally:
                linux.setns(self._host_ns, linux.CLONE_NEWNET)
        finally:
            os.close(netns)
        with inside:
            inside.set_up(LOOPBACK_INDEX)
            if address is not None and self.gateway is not None:
                inside.add_address(eth, address)
                inside.set_up(eth)
                inside.add_default_route(eth, self.gateway.ip)


async def _run(*argv: str, stdin: str = "", check: bool = True) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate(stdin.encode())
    if check and proc.returncode != 0:
        raise NetworkError(f"{' '.join(argv)} failed: {err.decode(errors='replace').strip()}")
