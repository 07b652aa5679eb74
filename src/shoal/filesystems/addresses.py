"""The address a mount target is asked to listen on (CreateMountTarget's ``IpAddress``).

On EFS the address must lie in the subnet's range and be free; on Shoal the subnet is
metadata and a mount target is an NFS-Ganesha listener on this host, so the address must be
one of the host's own. Anything else is the caller's mistake and answers EFS's 400
``BadRequest``, before anything is stored or started (not a 500 from a failed bind later).
"""

from __future__ import annotations

import errno
import ipaddress
import socket

from shoal.filesystems.rules import bad_request


def check_mount_address(address: str, subnet_id: str) -> str:
    """``address`` if a listener can bind it on this host; raise BadRequest otherwise."""
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        raise bad_request(f"IpAddress {address} is not a valid IPv4 address.") from None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError as e:
            if e.errno == errno.EADDRNOTAVAIL:
                raise bad_request(
                    f"IpAddress {address} is not in the address range of subnet {subnet_id}: "
                    "Shoal serves mount targets on this host's own addresses (by default "
                    "--nfs-address, 127.0.0.1)."
                ) from None
            raise bad_request(f"IpAddress {address} cannot be used: {e.strerror}.") from None
    return address
