"""The nftables rules that keep the TLS terminator's address the terminator's alone.

Ganesha serves the terminator's address (:data:`~shoal.filesystems.tls_terminator.
TERMINATOR_ADDRESS`) as TLS clients, without the privileged-port rule (the terminator's source
port is its own). Any local process may bind any loopback address, so without these rules a
plaintext client could send from that address and be served as a TLS one. Two rules per mount
target, in the output hook (every packet a local process sends, loopback included):

- to the target's NFS port from the terminator's address: only the ``stunnel4`` user's sockets
  (the terminator's); anyone else's connection is reset;
- to the target's TLS port: only root's sockets. On this host an NFS client must be root to
  speak for any uid (the privileged-port rule), and over TLS it still must: a local user's own
  stunnel or ``openssl s_client`` is reset. Clients of other hosts are not local processes and
  are not matched: for them, as on EFS, who can reach the address decides.

One table per server (named after its run directory), replaced whole and atomically by each
change (``nft -f``: the table is declared, deleted and written in one transaction) and deleted
when the server stops. Who may call: the mount targets, under their lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
from collections.abc import Iterable
from pathlib import Path

from shoal.filesystems.tls_terminator import TERMINATOR_ADDRESS

# (target address, NFS port, TLS port) of each mount target served over TLS.
Served = tuple[str, int, int]


class GuardError(RuntimeError):
    """nft refused the rules (or is missing): TLS must not be served."""


def table_name(run_dir: Path) -> str:
    return "shoal_nfstls_" + hashlib.sha256(str(run_dir).encode()).hexdigest()[:10]


def ruleset(table: str, served: Iterable[Served], stunnel_uid: int) -> str:
    """The table's text for ``nft -f`` (pure; unit-tested)."""
    rules = []
    for address, port, tls_port in sorted(set(served)):
        # A target on every address (0.0.0.0) is reached at any of them: match them all.
        to = "" if ipaddress.ip_address(address or "0.0.0.0").is_unspecified else \
            f"ip daddr {address} "  # fmt: skip
        rules += [
            f"ip saddr {TERMINATOR_ADDRESS} {to}tcp dport {port} "
            f"meta skuid != {stunnel_uid} reject with tcp reset",
            f"{to}tcp dport {tls_port} meta skuid != 0 reject with tcp reset",
        ]
    body = "\n".join(f"        {r}" for r in rules)
    return f"""table inet {table}
delete table inet {table}
table inet {table} {{
    chain output {{
        type filter hook output priority filter - 10; policy accept;
{body}
    }}
}}
"""


async def _nft(text: str) -> None:
    try:
        proc = await asyncio.create_subprocess_exec(
            "nft", "-f", "-", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    except OSError as e:
        raise GuardError(f"nft: {e}") from None
    _, err = await proc.communicate(text.encode())
    if proc.returncode != 0:
        raise GuardError(f"nft: {err.decode(errors='replace').strip()}")


async def apply(table: str, served: Iterable[Served], stunnel_uid: int) -> None:
    await _nft(ruleset(table, served, stunnel_uid))


async def remove(table: str) -> None:
    await _nft(f"table inet {table}\ndelete table inet {table}\n")
