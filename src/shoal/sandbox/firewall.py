"""The nftables rules of one server's environment network (see :mod:`.network` for why each
rule is there): egress through NAT, nothing of the host but Shoal's API at the gateway.

The API's way in is a DNAT of ``gateway:port`` to where the API listens, and an input rule
that admits what that DNAT made and nothing else: a connection to any other port, or to any
other address of the host, meets the bridge's reject as before.
"""

from __future__ import annotations

import ipaddress

# (gateway address, API address, API port): the DNAT of gateway:port to API address:port.
ApiPath = tuple[ipaddress.IPv4Address, ipaddress.IPv4Address, int]


def api_target(api: tuple[str, int] | None) -> tuple[ipaddress.IPv4Address, int] | None:
    """Where the DNAT of the gateway's API port goes: the API's own IPv4 address (127.0.0.1
    for a server on every address), or None for one on IPv6 (no IPv4 DNAT reaches it)."""
    if api is None:
        return None
    host, port = api
    try:
        address = ipaddress.ip_address(host or "0.0.0.0")
    except ValueError:
        return None  # a name: shoal serve binds addresses only
    if not isinstance(address, ipaddress.IPv4Address):
        return None
    if address.is_unspecified:
        address = ipaddress.IPv4Address("127.0.0.1")
    return address, port


def ruleset(slot: int, bridge: str, block: ipaddress.IPv4Network, api: ApiPath | None) -> str:
    """The ``inet shoal_N`` and ``bridge shoal_N`` tables, for ``nft -f``."""
    b = bridge
    api_in = api_nat = ""
    if api is not None:
        gateway, target, port = api
        api_in = f'iifname "{b}" ct status dnat ip daddr {target} tcp dport {port} accept'
        api_nat = f"""
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        iifname "{b}" ip daddr {gateway} tcp dport {port} dnat ip to {target}:{port}
    }}"""
    return f"""
table inet shoal_{slot} {{
    chain input {{
        type filter hook input priority filter - 10; policy accept;
        iifname "{b}" ct state established,related accept
        {api_in}
        iifname "{b}" reject with icmpx type admin-prohibited
    }}{api_nat}
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
table bridge shoal_{slot} {{
    chain forward {{
        type filter hook forward priority filter; policy accept;
        iifname "sh{slot}v*" oifname "sh{slot}v*" drop
    }}
}}
"""
