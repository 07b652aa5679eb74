"""Mount targets: a file system made reachable over NFSv4 by NFS-Ganesha.

Each mount target is one Ganesha listener (``settings.nfs_address`` and a port allocated from
``settings.nfs_port`` upward) with one export for the whole file system at pseudo path
``/<fs-id>`` and one per access point at ``/<fsap-id>``, each applying the identity rule of
:mod:`shoal.filesystems.identity` for a client with no IAM identity (NFS clients carry none):
the access point's PosixUser for every client, else the client's own uid with root squashed
unless the policy grants ``ClientRootAccess``; read-only without ``ClientWrite``; absent without
``ClientMount``. Only privileged client ports are served (:mod:`shoal.filesystems.ganesha_conf`).

Each target also has a TLS port (``tls_port``, allocated beside ``port``), where a stunnel
terminates TLS in front of Ganesha (:mod:`shoal.filesystems.tls_terminator`) when the server has
a certificate. Every export carries two rules: the one above decided with ``aws:SecureTransport``
false, for plaintext clients, and decided with it true, for clients through the terminator's
address; so EFS's "enforce in-transit encryption" policy refuses the first and admits the
second. The terminator's address is guarded before Ganesha serves it, and unguarded only after
Ganesha stopped (:mod:`shoal.filesystems.tls_guard`); a guard that cannot be set means no TLS.

A target is ``creating`` until Ganesha serves it, then ``available`` (or ``error``). Every
change that affects exports (access point or policy changes) re-syncs the targets of that file
system. Supervisor calls are serialised by :attr:`MountTargets._lock`, in the order requested.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError
from shoal.filesystems import rootdir, tls_guard
from shoal.filesystems.addresses import check_mount_address
from shoal.filesystems.identity import Identity
from shoal.filesystems.models import FileSystem, MountTarget, new_id
from shoal.filesystems.tls_terminator import TERMINATOR_ADDRESS, TlsTerminators, stunnel_uid
from shoal.tls import TlsFiles

if TYPE_CHECKING:
    from shoal.filesystems.service import FileSystemService

log = logging.getLogger("shoal.filesystems.nfs")

try:
    from shoal.filesystems import nfs
except ModuleNotFoundError as e:  # the NFS supervisor lands separately
    if e.name != "shoal.filesystems.nfs":
        raise
    nfs = None  # type: ignore[assignment]

WHOLE_FS_EXPORT_ID = 1


class MountTargets:
    def __init__(self, service: FileSystemService) -> None:
        self.service = service
        self.settings = service.settings
        self.store = service.store
        self._targets: dict[str, MountTarget] = {
            key: MountTarget.from_doc(doc) for key, doc in self.store.load("mounttarget").items()
        }
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._supervisor: Any = None
        if nfs is not None:
            self._supervisor = nfs.GaneshaSupervisor(self.settings.run_dir / "nfs")
        s = self.settings
        files = TlsFiles(s.tls_cert, s.tls_key, s.tls_ca) if s.tls_cert and s.tls_key else None
        self.terminators = TlsTerminators(s.run_dir / "nfs-tls", files)
        self._guard = tls_guard.table_name(s.run_dir)

    async def start(self) -> None:
        if unprivileged_port_start() < 1024:
            # Mount targets trust a client's AUTH_SYS uid because only root binds ports < 1024.
            log.warning(
                "net.ipv4.ip_unprivileged_port_start is %d: local users can bind privileged "
                "ports and so claim any uid on this host's mount targets; set it to 1024",
                unprivileged_port_start(),
            )
        if self._supervisor is None and self._targets:
            log.warning("shoal.filesystems.nfs is not installed: mount targets serve no NFS")
        if self.terminators.unavailable():
            log.info("mount targets serve no TLS: %s", self.terminators.unavailable())
        for target in list(self._targets.values()):
            if not target.tls_port:  # stored before mount targets had one
                others = {target.port}
                self._save(replace(target, tls_port=self._free_port(target.ip_address, others)))
            self._spawn(self._bring_up(target.id))

    async def stop(self) -> None:
        for task in list(self._tasks):
            await task
        await self.terminators.stop()
        if self._supervisor is not None:
            await self._supervisor.stop()
        await self._unguard()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ queries

    def all(self) -> list[MountTarget]:
        return sorted(self._targets.values(), key=lambda t: t.id)

    def for_file_system(self, fs_id: str) -> list[MountTarget]:
        return [t for t in self.all() if t.file_system_id == fs_id]

    def get(self, mt_id: str) -> MountTarget:
        target = self._targets.get(mt_id)
        if target is None:
            raise AwsError("MountTargetNotFound", f"Mount target '{mt_id}' does not exist.")
        return target

    # ------------------------------------------------------------------ changes

    def create(
        self, fs: FileSystem, subnet_id: str, ip_address: str | None, zone: str | None = None
    ) -> MountTarget:
        """A mount target in ``zone`` (the subnet's, from the EC2 model), one per zone."""
        if fs.lifecycle_state != "available":
            raise AwsError(
                "IncorrectFileSystemLifeCycleState",
                f"File system '{fs.id}' is in state {fs.lifecycle_state}, not available.",
            )
        zone = zone or fs.availability_zone or f"{fs.region}a"
        if any(t.availability_zone == zone for t in self.for_file_system(fs.id)):
            raise AwsError(
                "MountTargetConflict",
                f"File system '{fs.id}' already has a mount target in availability zone {zone}.",
            )
        address = self.settings.nfs_address
        if ip_address:
            address = check_mount_address(ip_address, subnet_id)  # a 400 if it cannot be used
        port = self._free_port(address)
        target = MountTarget(
            id=new_id("fsmt"), file_system_id=fs.id, owner_id=fs.owner_id, subnet_id=subnet_id,
            ip_address=address, port=port, availability_zone=zone,
            tls_port=self._free_port(address, {port}),
        )  # fmt: skip
        self._save(target)
        self._spawn(self._bring_up(target.id))
        return target

    def delete(self, mt_id: str) -> None:
        target = self.get(mt_id)
        self.store.delete("mounttarget", target.id)  # first: a failed write changes nothing
        del self._targets[target.id]
        self._spawn(self._take_down(target.id))

    def changed(self, fs_id: str) -> None:
        """Exports of ``fs_id`` changed (access point or policy): re-sync its targets."""
        for target in self.for_file_system(fs_id):
            self._spawn(self._bring_up(target.id))

    def _save(self, target: MountTarget) -> None:
        self.store.put("mounttarget", target.id, target.to_doc())  # first, as delete()
        self._targets[target.id] = target

    def _free_port(self, address: str, also: set[int] | None = None) -> int:
        mine = [t for t in self._targets.values() if t.ip_address == address]
        used = {t.port for t in mine} | {t.tls_port for t in mine} | (also or set())
        port = self.settings.nfs_port
        while port in used or not _can_bind(address, port):
            port += 1
        return port

    async def _bring_up(self, mt_id: str) -> None:
        async with self._lock:
            target = self._targets.get(mt_id)
            if target is None:
                return  # deleted meanwhile
            state = "available"
            if self._supervisor is None:
                log.warning(
                    "mount target %s is available without NFS: shoal.filesystems.nfs is "
                    "not installed", target.id,
                )  # fmt: skip
            else:
                try:
                    await self._serve(target)
                except Exception:
                    log.exception("mount target %s failed to start", target.id)
                    state = "error"
            if self._targets.get(mt_id) is not None:
                self._save(replace(self._targets[mt_id], lifecycle_state=state))

    async def _serve(self, target: MountTarget) -> None:
        """Ganesha with ``target``'s exports, and TLS in front of it where it can be."""
        tls = await self._guarded(target)
        exports = await asyncio.to_thread(self.exports, target.file_system_id, tls)
        if not exports:  # the policy denies every export: nothing to serve
            await self.terminators.remove(target.id)
            await self._supervisor.remove_target(target.id)
            return
        terminator = TERMINATOR_ADDRESS if tls else None
        await self._supervisor.ensure_target(
            target.id, target.ip_address, target.port, exports, terminator
        )
        if not tls:
            await self.terminators.remove(target.id)
            return
        try:
            await self.terminators.ensure(
                target.id, target.ip_address, target.tls_port, target.port
            )
        except (RuntimeError, OSError) as e:  # plaintext NFS still serves
            log.error("mount target %s serves no TLS: %s", target.id, e)

    async def _guarded(self, target: MountTarget) -> bool:
        """Guard every TLS target's terminator address (tls_guard); False: ``target`` gets no
        TLS (the server has none, or the guard could not be set)."""
        if not target.tls_port:
            return False
        try:
            return await self._reguard()
        except tls_guard.GuardError as e:
            log.error("mount target %s serves no TLS: %s", target.id, e)
            return False

    async def _reguard(self) -> bool:
        """Set the guard for every stored target (False: this server serves no TLS)."""
        uid = stunnel_uid()
        if self.terminators.unavailable() or uid is None:
            return False
        served = [(t.ip_address, t.port, t.tls_port) for t in self._targets.values()
                  if t.tls_port]  # fmt: skip
        await tls_guard.apply(self._guard, served, uid)
        return True

    async def _unguard(self) -> None:
        if self.terminators.unavailable():
            return
        try:
            await tls_guard.remove(self._guard)
        except tls_guard.GuardError as e:
            log.warning("NFS TLS guard not removed: %s", e)

    async def _take_down(self, mt_id: str) -> None:
        async with self._lock:
            try:
                await self.terminators.remove(mt_id)
            except Exception:
                log.exception("mount target %s: its TLS terminator failed to stop", mt_id)
            if self._supervisor is not None:
                try:
                    await self._supervisor.remove_target(mt_id)
                except Exception:
                    log.exception("mount target %s failed to stop", mt_id)
            # Only now that its ganesha is gone may its terminator address go unguarded.
            try:
                await self._reguard()
            except tls_guard.GuardError as e:
                log.warning("NFS TLS guard not updated: %s", e)

    def exports(self, fs_id: str, tls: bool = False) -> list[Any]:
        """The NFS exports of a file system (runs in a thread: it may create AP roots);
        ``tls``: with the rule for clients through the TLS terminator.

        Each applies the identity rule for an NFS client (no IAM principal), as functions and
        host mounts do: see :mod:`shoal.filesystems.identity`.
        """
        if nfs is None:
            return []
        svc = self.service
        fs = svc.get_file_system(fs_id)
        out: list[Any] = []
        try:
            svc.check_key(fs)
        except AwsError as e:  # its KMS key is disabled: nothing exported until enabled
            log.warning("file system %s is not exported: %s", fs.id, e.message)
            return out
        for ap in [None, *svc.access_points(fs.id)]:
            plain = svc.policies.identity(fs, ap, None, secure_transport=False)
            secure = svc.policies.identity(fs, ap, None, secure_transport=True) if tls else None
            if not plain.mount and not (secure and secure.mount):
                continue
            if ap is None:
                out.append(_export(WHOLE_FS_EXPORT_ID, str(svc.root(fs.id)), f"/{fs.id}",
                                   plain, secure))  # fmt: skip
                continue
            try:
                path = svc.access_point_root(ap)
            except (rootdir.RootDirectoryError, OSError) as e:
                log.warning("access point %s is not exported: %s", ap.id, e)
                continue
            out.append(_export(ap.export_id, path, f"/{ap.id}", plain, secure))
        return out


def _rule(ident: Identity) -> dict[str, Any]:
    """The squash of ``ident``: All_Squash to its user (whose secondary gids ganesha cannot
    carry), else the client's identity with or without root squash."""
    user = ident.user
    return {
        "squash_uid": user.uid if user else None, "squash_gid": user.gid if user else None,
        "readonly": ident.read_only, "root_squash": ident.root_squash,
    }  # fmt: skip


def _export(export_id: int, path: str, pseudo: str, plain: Identity,
            secure: Identity | None) -> Any:  # fmt: skip
    """The ganesha export that applies ``plain`` to plaintext clients and ``secure`` to TLS
    ones (None or not mounting: refused)."""
    tls = nfs.ClientRule(**_rule(secure)) if secure is not None and secure.mount else None
    base = plain if plain.mount or secure is None else secure
    return nfs.Export(
        export_id=export_id, path=path, pseudo=pseudo, **_rule(base),
        plaintext=plain.mount, tls=tls,
    )  # fmt: skip


def unprivileged_port_start() -> int:
    """The first port an unprivileged process may bind (Linux's ip_unprivileged_port_start)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        return 1024


def _can_bind(address: str, port: int) -> bool:
    """True when nothing listens on (address, port): Ganesha will be able to bind it."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True
