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
  addresses: the mount targets and every other service of the host stay out of reach,
  whatever address they listen on;
- but one: Shoal's API, at the gateway's address and the API's own port, which a DNAT sends
  on to where the API listens (127.0.0.1, with ``route_localnet`` on the bridge, so that the
  server keeps its loopback binding). Only connections that DNAT made are let in, and only to
  that port: the NFS ports and every other port of the gateway or the host are rejected as
  before. This is what ``AWS_ENDPOINT_URL`` names in every environment
  (:attr:`EnvironmentNetwork.api_address`; the API checks who calls, this only opens the way);
- drops new connections from outside into the bridge;
- rejects link-local destinations (169.254.0.0/16): a cloud host's instance metadata, and so
  its credentials, are not the functions' (Lambda's environments cannot reach it either);

and the ``bridge shoal_N`` table drops what one bridge port sends to another, so that
environments cannot reach each other either. ``--egress none`` leaves environments with
their loopback only: no bridge, so no way to the API either (no ``AWS_ENDPOINT_URL``).

The slot, and so the gateway's address, is taken when the object is made, not at start: the
server's ``--tls auto`` certificate and the environments' ``AWS_ENDPOINT_URL`` name it before
the network is set up.

Cost. Making a namespace, its pair (created with its far end already inside, 0.8 ms: moving
one in would take 30 ms, the move waiting for RCU) and setting both up (:mod:`.netlink`) takes
2-3 ms, so a few namespaces are made ahead on a thread of their own, and a new environment's
init joins one with ``setns`` (:meth:`take`; the fd travels with the spawn request). A restored
environment cannot join one (it lives in a user namespace of its own, which may not enter a
namespace of the host's): it makes its own, and the server sets it up from its hello on, while
the rest of its start runs (:meth:`attach`). Either way the network is up before any user code
runs. A pair goes away with its namespace when the environment ends (the kernel deletes it,
~16 ms, off every path). Addresses are handed out round robin, so that a freed one is not
reused while the kernel may still hold its old neighbour entries.
"""

from __future__ import annotations

import asyncio
import collections
import fcntl
import ipaddress
import logging
import os
import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shoal.runtime import linux

from . import firewall
from .netlink import LOOPBACK_INDEX, Netlink, index_of

log = logging.getLogger(__name__)

EGRESS_MODES = ("nat", "none")
SUPERNET = ipaddress.IPv4Network("100.64.0.0/10")
BLOCK_PREFIX = 20  # 4093 environments per server, 1024 servers per host
LOCK_DIR = "/run/shoal-net"
POOL_SIZE = 4  # network namespaces made ahead
PORT_NUMBERS = 10**8  # "sh1023v" and 8 digits: an interface name's 15 characters


class NetworkError(OSError):
    pass


class EnvironmentNetwork:
    """The network side of every environment of one server. Methods other than the
    constructor run on the server's event loop; netlink work runs on one thread of its own,
    the only one that ever changes its network namespace."""

    def __init__(self, egress: str = "none", api: tuple[str, int] | None = None) -> None:
        """``api`` is where the server's API listens (address, port): with egress, the
        environments reach it at the gateway's address and that port (:attr:`api_address`)."""
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
        # The host ends of the pairs are sh<slot>v<n>, n from a random start: a killed server's
        # pairs may still be on their way out when the next server of its slot starts.
        self._next_port = random.randrange(PORT_NUMBERS)
        self._bridge_index = 0
        self._host_nl: Netlink | None = None
        self._ready: collections.deque[Prepared] = collections.deque()  # the pool
        self._filling: asyncio.Task[None] | None = None
        self._closing = False
        self._block: ipaddress.IPv4Network | None = None
        # The API's target for the DNAT of gateway:port, when environments may reach it.
        self._api_target: tuple[ipaddress.IPv4Address, int] | None = None
        self._slot_error: OSError | None = None  # raised by start, with its advice
        if egress == "nat":
            # The slot (so the gateway's address) is chosen now: the server's TLS certificate
            # and the environments' AWS_ENDPOINT_URL name it before the network is started.
            try:
                self._lock_slot()
            except OSError as e:
                self._slot_error = e
                return
            self._block = list(SUPERNET.subnets(new_prefix=BLOCK_PREFIX))[self.slot]
            hosts = list(self._block.hosts())
            self.gateway = ipaddress.IPv4Interface(f"{hosts[0]}/{BLOCK_PREFIX}")
            self._hosts = hosts[1:]
            self.bridge = f"shoal-{self.slot}"
            self._api_target = firewall.api_target(api)

    @property
    def api_address(self) -> tuple[str, int] | None:
        """Where an environment reaches Shoal's API (the gateway's address and the API's
        port), or None: no bridge (``--egress none``), or an API on an IPv6 address."""
        if self._api_target is None or self.gateway is None:
            return None
        return str(self.gateway.ip), self._api_target[1]

    # -- server life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            try:
                if self.egress == "nat":
                    try:
                        await self._start_nat()
                    except OSError as e:
                        raise NetworkError(
                            f"environment egress (--egress nat) cannot be set up: {e}. It needs "
                            "root, iproute2 and nftables (apt-get install iproute2 nftables); "
                            "--egress none runs environments with their loopback only"
                        ) from e
                self._started.set_result(None)
                self._top_up()  # the first environments should not wait either
            except BaseException as e:
                self._started.set_exception(e)
        await asyncio.shield(self._started)

    async def _start_nat(self) -> None:
        if self._slot_error is not None or self._block is None:
            raise self._slot_error or NetworkError("no network slot")
        block = self._block
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
        if self._api_target is not None and self._api_target[0].is_loopback:
            # The API's DNAT target is 127.0.0.1: the kernel routes loopback destinations
            # that arrive on the bridge only with route_localnet (what reaches them is then
            # still only what the input chain lets through: the one DNAT'd port).
            with open(f"/proc/sys/net/ipv4/conf/{self.bridge}/route_localnet", "w") as f:
                f.write("1")
        api = None
        if self._api_target is not None and self.gateway is not None:
            api = (self.gateway.ip, *self._api_target)
        await _run("nft", "-f", "-", stdin=firewall.ruleset(self.slot, self.bridge, block, api))
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
        self._closing = True
        if self._filling is not None:
            await asyncio.gather(self._filling, return_exceptions=True)
        while self._ready:
            prepared = self._ready.popleft()
            os.close(prepared.fd)
            self.release(prepared.address)
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

    async def take(self) -> Prepared:
        """A network namespace made ahead, set up, for a new environment's init to join
        (``setns``): the pool is topped up in the background, so a cold start does no network
        work. The caller owns ``fd`` (close it once it has been passed on) and gives the
        address back with :meth:`release` when the environment is gone."""
        await self.start()
        prepared = self._ready.popleft() if self._ready else await self._prepare()
        self._top_up()
        return prepared

    async def attach(self, pid: int) -> ipaddress.IPv4Interface | None:
        """Set up the network namespace that process ``pid`` made for itself (a restored
        environment's, which lives in a user namespace of its own and so cannot join one of
        the pool's). Returns its address, as :meth:`take`."""
        await self.start()
        netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return (await self._prepare(netns)).address
        finally:
            os.close(netns)

    def release(self, address: ipaddress.IPv4Interface | None) -> None:
        if address is not None:
            self._in_use.discard(address.ip)

    def _top_up(self) -> None:
        if self._filling is None and len(self._ready) < POOL_SIZE and not self._closing:
            self._filling = asyncio.get_running_loop().create_task(self._fill())

    async def _fill(self) -> None:
        try:
            while len(self._ready) < POOL_SIZE and not self._closing:
                self._ready.append(await self._prepare())
        except OSError as e:
            log.error("preparing network namespaces for environments failed: %s", e)
        finally:
            self._filling = None

    async def _prepare(self, netns: int | None = None) -> Prepared:
        """Set up ``netns``, or a new namespace: loopback up and, with egress, ``eth0``."""
        port = address = None
        if self.egress == "nat":
            port = f"sh{self.slot}v{self._next_port}"
            self._next_port = (self._next_port + 1) % PORT_NUMBERS
            address = self._allocate()
        loop = asyncio.get_running_loop()
        try:
            fd = await loop.run_in_executor(self._thread, self._configure, netns, port, address)
        except BaseException:
            self.release(address)
            raise
        return Prepared(fd, address)

    def _allocate(self) -> ipaddress.IPv4Interface:
        for _ in range(len(self._hosts)):
            host = self._hosts[self._next_host]
            self._next_host = (self._next_host + 1) % len(self._hosts)
            if host not in self._in_use:
                self._in_use.add(host)
                return ipaddress.IPv4Interface(f"{host}/{BLOCK_PREFIX}")
        raise NetworkError(f"every address of {self.bridge} is in use")

    def _configure(
        self, netns: int | None, port: str | None, address: ipaddress.IPv4Interface | None
    ) -> int:
        """On the network thread: set up ``netns`` (or a new namespace, whose fd is returned;
        -1 for a given one). The thread enters the namespace only to open a netlink socket
        there (the socket keeps the namespace) and to look up ``eth0``, then goes straight
        back; the pair is created by the host's socket."""
        new = netns is None
        if netns is None:
            linux.unshare(linux.CLONE_NEWNET)  # this thread's namespace only
        else:
            linux.setns(netns, linux.CLONE_NEWNET)
        try:
            fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC) if new else -1
            inside = Netlink()
        finally:
            linux.setns(self._host_ns, linux.CLONE_NEWNET)
        target = fd if netns is None else netns
        try:
            with inside:
                inside.set_up(LOOPBACK_INDEX)
                if port is None or address is None or self.gateway is None:
                    return fd
                assert self._host_nl is not None
                self._host_nl.add_veth(port, self._bridge_index, target, "eth0")
                self._host_nl.set_up(index_of(port))
                linux.setns(target, linux.CLONE_NEWNET)
                try:
                    eth = index_of("eth0")
                finally:
                    linux.setns(self._host_ns, linux.CLONE_NEWNET)
                inside.add_address(eth, address)
                inside.set_up(eth)
                inside.add_default_route(eth, self.gateway.ip)
                return fd
        except BaseException:
            if new:
                os.close(fd)
            raise


@dataclass(frozen=True)
class Prepared:
    fd: int  # the network namespace (-1 once handed over)
    address: ipaddress.IPv4Interface | None


async def _run(*argv: str, stdin: str = "", check: bool = True) -> None:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise NetworkError(f"{argv[0]} is not installed") from None
    _, err = await proc.communicate(stdin.encode())
    if check and proc.returncode != 0:
        raise NetworkError(f"{' '.join(argv)} failed: {err.decode(errors='replace').strip()}")
