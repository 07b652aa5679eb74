"""The configuration of one mount target's NFS-Ganesha: its exports and its ganesha.conf.

Pure and unit-tested: :func:`render_config` turns an address, a port and a list of
:class:`Export` into the text ganesha reads, NFSv4 over TCP only with FSAL VFS, after
:func:`validate_exports` has refused what ganesha would refuse or mis-serve. The supervisor that
writes this file and runs ganesha on it is :mod:`shoal.filesystems.nfs`. Which identity each
export applies is decided by :mod:`shoal.filesystems.identity`, not here.

Who may speak to a target: AUTH_SYS lets a client claim any uid, so only clients that prove
they are root on their host are served: ``PrivilegedPort`` (the "secure" export option of
Linux nfsd) on every export and on the pseudo root (through ``EXPORT_DEFAULTS``). Ganesha
checks it in ``nfs4_export_check_access`` on every operation that enters an export (PUTROOTFH,
PUTFH, LOOKUP across exports), so a client on a port >= 1024 gets ``NFS4ERR_ACCESS`` even
with a file handle it learnt elsewhere; only the NULL procedure (the health probe) is answered.
The target listens on its one address and port, NFSv4 over TCP only: no NLM, RQUOTA, MNT or UDP
listeners, no rpcbind registration needed.

TLS clients reach ganesha through the target's terminator (:mod:`shoal.filesystems.tls_terminator`),
which connects from an address of its own (``terminator``). Every export then has a ``CLIENT``
block for that address first (ganesha takes the first block that matches, and the terminator's
address is inside ``127.0.0.0/8``) with the rule for clients over TLS (:attr:`Export.tls`), and
``PrivilegedPort = false`` there: the terminator's source port is its own, not the client's.
Only the terminator can send from that address (:mod:`shoal.filesystems.tls_guard`).
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from shoal.filesystems.models import NOBODY


@dataclass(frozen=True)
class Export:
    """One NFSv4 export of a mount target.

    ``pseudo`` is where clients find it (``nfs://addr/<pseudo>``). Ganesha grafts each export
    onto its pseudo file system, so an export may sit at ``/`` only when it is the target's
    sole export: below a real directory tree, a pseudo path would need a real directory of that
    name in the exported file system. With access points, put the whole file system at its own
    path (``/fs-…``) beside the ``/fsap-…`` exports.
    """

    export_id: int  # Ganesha Export_Id, unique per target, >= 1
    path: str  # host directory exported (a file system dir or an access point's root)
    pseudo: str  # NFSv4 pseudo path: "/fs-0123..." for the whole fs, "/fsap-0123..." for an AP
    squash_uid: int | None  # None: the client's identity passes; else every one becomes this uid
    squash_gid: int | None
    readonly: bool = False
    root_squash: bool = False  # only with squash_uid None: uid 0 (and gid 0) become 65534
    # False: plaintext clients are refused (the policy asks for aws:SecureTransport); the
    # fields above then only say how the export is made, and ``tls`` how TLS clients are served.
    plaintext: bool = True
    tls: ClientRule | None = None  # clients through the TLS terminator; None: refused


@dataclass(frozen=True)
class ClientRule:
    """How one export treats the clients of one ``CLIENT`` block (the fields of Export)."""

    squash_uid: int | None
    squash_gid: int | None
    readonly: bool = False
    root_squash: bool = False


def _check_rule(export_id: int, rule: Export | ClientRule) -> None:
    if (rule.squash_uid is None) != (rule.squash_gid is None):
        raise ValueError(f"export {export_id}: squash uid and gid go together")
    if rule.root_squash and rule.squash_uid is not None:
        raise ValueError(f"export {export_id}: root squash is for unsquashed exports")


def validate_exports(exports: list[Export]) -> None:
    """Raise ValueError for an export list that ganesha would refuse or mis-serve."""
    if not exports:
        raise ValueError("a mount target needs at least one export")
    ids = [e.export_id for e in exports]
    pseudos = [e.pseudo for e in exports]
    if len(set(ids)) != len(ids) or min(ids) < 1:
        raise ValueError(f"export ids must be unique and >= 1: {ids}")
    if len(set(pseudos)) != len(pseudos):
        raise ValueError(f"pseudo paths must be unique: {pseudos}")
    for e in exports:
        for value in (e.path, e.pseudo):
            if not value.startswith("/") or posixpath.normpath(value) != value or '"' in value:
                raise ValueError(f"not a normalised absolute path: {value!r}")
            if any(c in value for c in "\n\r\0"):
                raise ValueError(f"control character in path: {value!r}")
        _check_rule(e.export_id, e)
        if e.tls is not None:
            _check_rule(e.export_id, e.tls)
    for e in exports:
        for other in exports:
            parent = e.pseudo.rstrip("/") + "/"
            if other is not e and other.pseudo.startswith(parent):
                raise ValueError(
                    f"pseudo path {other.pseudo} is nested in export {e.pseudo}: ganesha would "
                    "need a real directory for it there; give every export its own top-level "
                    "pseudo path (and the whole file system one too when access points exist)"
                )


def _clients(address: str) -> str:
    """Who may use the exports: loopback only when the target listens on loopback.

    For any other address, reachability is decided by where the target listens (as security
    groups decide for an EFS mount target), so every client of that network is allowed.
    """
    try:
        if ipaddress.ip_address(address).is_loopback:
            return "127.0.0.0/8, ::1"
    except ValueError:
        pass
    return "*"


def render_config(
    target_dir: Path, address: str, port: int, exports: list[Export], terminator: str | None = None
) -> str:
    """The ganesha.conf of one mount target (pure; unit-tested); ``terminator``: the address
    its TLS terminator connects from, None without one."""
    validate_exports(exports)
    if terminator is not None:
        ipaddress.ip_address(terminator)  # ValueError: never a name or a list in Clients
    # The D-Bus name must differ between instances (and is only used if a system bus exists).
    dbus_prefix = re.sub(r"[^A-Za-z0-9_]", "_", target_dir.name)
    lines = [
        "# Written by Shoal; rewritten on every (re)configuration of this mount target.",
        "NFS_CORE_PARAM {",
        "    Protocols = 4;",
        f"    NFS_Port = {port};",
        f"    Bind_Addr = {address};",
        # NFSv4 needs none of NLM, rquota, MNT or UDP, nor rpcbind to find it.
        "    Enable_NLM = false;",
        "    Enable_RQUOTA = false;",
        "    Enable_UDP = false;",
        f"    Dbus_Name_Prefix = {dbus_prefix};",
        "}",
        "NFSV4 {",
        # No grace period: the target serves at once (and after a restart).
        "    Graceless = true;",
        "    RecoveryBackend = fs;",
        f'    RecoveryRoot = "{target_dir / "recovery"}";',
        # Owners travel as numbers: no idmapd, and squashed ids read back as they are on disk.
        "    Allow_Numeric_Owners = true;",
        "    Only_Numeric_Owners = true;",
        "    Delegations = false;",
        "}",
        "NFS_KRB5 { Active_krb5 = false; }",
        # What every export (the pseudo root below and each of ours) has unless it says more.
        "EXPORT_DEFAULTS {",
        "    Access_Type = None;",
        "    PrivilegedPort = true;",
        "    Squash = Root_Squash;",
        f"    Anonymous_Uid = {NOBODY};",
        f"    Anonymous_Gid = {NOBODY};",
        "}",
    ]
    if all(e.pseudo != "/" for e in exports):  # else that export is the root, with its own
        lines += _pseudo_root(address, terminator)
    for e in exports:
        lines += _export_block(e, address, terminator)
    return "\n".join(lines) + "\n"


def _pseudo_root(address: str, terminator: str | None) -> list[str]:
    """The pseudo root's export, which ganesha would otherwise make itself without
    PrivilegedPort: an unprivileged client would still get its file handle and export names."""
    return [
        "EXPORT {",
        "    Export_Id = 0;",
        '    Path = "/";',
        '    Pseudo = "/";',
        "    Protocols = 4;",
        "    Transports = TCP;",
        "    SecType = sys;",
        "    Access_Type = None;",
        "    PrivilegedPort = true;",
        "    Squash = Root_Squash;",
        *_terminator_block(terminator, "MDONLY_RO", []),
        "    CLIENT {",
        f"        Clients = {_clients(address)};",
        "        Access_Type = MDONLY_RO;",
        "    }",
        "    FSAL { Name = PSEUDO; }",
        "}",
    ]


def _squash(rule: Export | ClientRule, indent: str) -> list[str]:
    """The squash options of ``rule``: All_Squash to its user, Root_Squash or none."""
    if rule.squash_uid is None and rule.root_squash:
        return [
            f"{indent}Squash = Root_Squash;",
            f"{indent}Anonymous_Uid = {NOBODY};",
            f"{indent}Anonymous_Gid = {NOBODY};",
        ]
    if rule.squash_uid is None:
        return [f"{indent}Squash = No_Root_Squash;"]
    return [
        f"{indent}Squash = All_Squash;",
        f"{indent}Anonymous_Uid = {rule.squash_uid};",
        f"{indent}Anonymous_Gid = {rule.squash_gid};",
    ]


def _terminator_block(terminator: str | None, access: str, squash: list[str]) -> list[str]:
    """The CLIENT block of the TLS terminator's address (first: see the module docstring)."""
    if terminator is None:
        return []
    return [
        "    CLIENT {",
        f"        Clients = {terminator};",
        f"        Access_Type = {access};",
        "        PrivilegedPort = false;",
        *squash,
        "    }",
    ]


def _export_block(e: Export, address: str, terminator: str | None) -> list[str]:
    """The EXPORT block of one export (``address``: where the target listens)."""
    lines = [
        "EXPORT {",
        f"    Export_Id = {e.export_id};",
        f'    Path = "{e.path}";',
        f'    Pseudo = "{e.pseudo}";',
        "    Protocols = 4;",
        "    Transports = TCP;",
        "    SecType = sys;",
        "    Access_Type = None;",
        # Only root on the client's host may claim a uid with AUTH_SYS (see the docstring).
        "    PrivilegedPort = true;",
        # Functions and host processes change the tree behind ganesha's back: never serve
        # cached attributes (owner, mode, size) that may be stale.
        "    Attr_Expiration_Time = 0;",
    ]
    lines += _squash(e, "    ")
    if e.tls is not None:
        lines += _terminator_block(
            terminator, "RO" if e.tls.readonly else "RW", _squash(e.tls, "        ")
        )
    else:
        lines += _terminator_block(terminator, "None", [])
    if e.plaintext:
        lines += [
            "    CLIENT {",
            f"        Clients = {_clients(address)};",
            f"        Access_Type = {'RO' if e.readonly else 'RW'};",
            "    }",
        ]
    lines += ["    FSAL { Name = VFS; }", "}"]
    return lines
