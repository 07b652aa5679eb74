"""The rtnetlink requests that give an environment its network, written out by hand.

Why by hand: they run on every cold start, between the runtime's ``ready`` and its init.
pyroute2 spends 0.5-2 ms of Python per request (and builds a socket per network namespace
in 1.8 ms), and ``ip`` costs a fork and an exec (about 4 ms a batch); these messages are
fixed-size structs that the kernel answers with a bare acknowledgement, in 0.05-0.8 ms.
(Creating the veth pair with its far end already in the environment's namespace takes 0.8 ms;
creating it on the host and moving it in would take 30 ms, the move waiting for RCU.)
Everything that happens once per server (the bridge, the firewall, the pool of veth pairs)
uses ``ip`` and ``nft``, the tools made for it (:mod:`.network`).

Message layouts: linux/netlink.h (nlmsghdr), linux/rtnetlink.h (ifinfomsg, ifaddrmsg,
rtmsg, rtattr), linux/if_link.h (IFLA_*), linux/if_addr.h (IFA_*).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct

NLMSG_ERROR = 2
RTM_NEWLINK = 16
RTM_NEWADDR = 20
RTM_NEWROUTE = 24

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400

IFLA_IFNAME = 3
IFLA_MASTER = 10
IFLA_LINKINFO = 18
IFLA_NET_NS_FD = 28
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
VETH_INFO_PEER = 1
NLA_F_NESTED = 0x8000
IFA_ADDRESS = 1
IFA_LOCAL = 2
RTA_OIF = 4
RTA_GATEWAY = 5

IFF_UP = 0x1
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3
RT_SCOPE_UNIVERSE = 0
RTN_UNICAST = 1
LOOPBACK_INDEX = 1  # "lo" is always the first interface of a network namespace

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst/src len, tos, table, proto, scope...


def _attr(kind: int, data: bytes) -> bytes:
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * (-length % 4)


class Netlink:
    """One NETLINK_ROUTE socket, bound to the network namespace it was created in (a socket
    keeps its namespace for life, whatever its user's namespace is later)."""

    def __init__(self) -> None:
        self._sock = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE
        )
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, kind: int, flags: int, body: bytes) -> None:
        """Send one request and wait for its acknowledgement; a refusal raises OSError."""
        self._seq += 1
        self._sock.send(
            _HEADER.pack(
                _HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, self._seq, 0
            )
            + body
        )
        while True:
            reply = self._sock.recv(65536)
            offset = 0
            while offset + _HEADER.size <= len(reply):
                length, rtype, _, seq, _ = _HEADER.unpack_from(reply, offset)
                if rtype == NLMSG_ERROR and seq == self._seq:
                    (code,) = struct.unpack_from("=i", reply, offset + _HEADER.size)
                    if code:
                        raise OSError(-code, f"rtnetlink request {kind}: {os.strerror(-code)}")
                    return
                offset += max(length, _HEADER.size) + (-length % 4)

    def set_up(self, index: int) -> None:
        self._request(RTM_NEWLINK, 0, _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP))

    def add_veth(self, name: str, master: int, peer_netns_fd: int, peer_name: str) -> None:
        """A veth pair: ``name`` here, a port of bridge ``master``; ``peer_name`` in the
        network namespace ``peer_netns_fd``."""
        peer = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        peer += _attr(IFLA_IFNAME, peer_name.encode() + b"\0")
        peer += _attr(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd))
        info = _attr(IFLA_INFO_KIND, b"veth\0")
        info += _attr(IFLA_INFO_DATA | NLA_F_NESTED, _attr(VETH_INFO_PEER | NLA_F_NESTED, peer))
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        body += _attr(IFLA_IFNAME, name.encode() + b"\0")
        body += _attr(IFLA_MASTER, struct.pack("=I", master))
        body += _attr(IFLA_LINKINFO | NLA_F_NESTED, info)
        self._request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def add_address(self, index: int, interface: ipaddress.IPv4Interface) -> None:
        packed = interface.ip.packed
        body = _IFADDR.pack(
            socket.AF_INET, interface.network.prefixlen, 0, RT_SCOPE_UNIVERSE, index
        )
        body += _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed)
        self._request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)

    def add_default_route(self, index: int, gateway: ipaddress.IPv4Address) -> None:
        body = _RTMSG.pack(
            socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0
        )
        body += _attr(RTA_GATEWAY, gateway.packed) + _attr(RTA_OIF, struct.pack("=I", index))
        self._request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body)


def index_of(name: str) -> int:
    """The interface's index in the calling thread's network namespace."""
    try:
        return socket.if_nametoindex(name)
    except OSError:
        raise OSError(errno.ENODEV, f"no network interface {name!r}") from None
