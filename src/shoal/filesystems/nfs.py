"""Mount targets: NFSv4 exports of file systems, served by supervised NFS-Ganesha processes.

One mount target is one ``ganesha.nfsd`` listening on its own address and port, NFSv4 over TCP
only, FSAL VFS, with one export per entry of its :class:`Export` list: typically the whole file
system, and one per access point squashing every client identity to the access point's POSIX
user (the semantics of an EFS access point). Several targets coexist: each process has its own
configuration, log, pid file, recovery directory and D-Bus name under ``run_dir/<target_id>/``,
and needs neither rpcbind nor statd (NFSv4 has one well-known port and no side protocols).

Who may call: the file-system service, from the event loop. Calls for one target are serialised
by that target's lock; a watchdog task per target restarts a ganesha that died or stopped
answering, with exponential backoff, as uvicorn's supervisors do for their workers. What goes
into each ganesha.conf, and which export lists are valid, is :mod:`shoal.filesystems.ganesha_conf`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import shutil
import signal
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# The configuration's names are this module's too: callers import Export etc. from here.
from shoal.filesystems.ganesha_conf import ClientRule, Export, render_config, validate_exports

__all__ = [
    "ClientRule",
    "Export",
    "GaneshaError",
    "GaneshaSupervisor",
    "render_config",
    "rpc_null",
    "validate_exports",
]

log = logging.getLogger("shoal.filesystems.nfs")

NFS_PROGRAM = 100003
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
HEALTH_INTERVAL_S = 2.0
# A ganesha that fails this many probes in a row is hung: it is killed and restarted.
HEALTH_FAILURES = 3
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
# A process that served this long before dying was healthy: the backoff starts over.
HEALTHY_RUN_S = 30.0
LOG_ROTATE_BYTES = 8 << 20
_TARGET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


async def terminate(proc: asyncio.subprocess.Process, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, wait with a deadline, then SIGKILL (the daemons Shoal runs: Ganesha, stunnel)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout_s):
                await proc.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    await proc.wait()


class Supervised(Protocol):
    """A daemon Shoal runs under a watchdog task that restarts it (a Ganesha, a stunnel)."""

    process: asyncio.subprocess.Process | None
    watchdog: asyncio.Task[None] | None


async def halt(daemon: Supervised, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Cancel the watchdog, then stop the process (in that order, so nothing restarts it)."""
    if daemon.watchdog is not None:
        daemon.watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await daemon.watchdog
        daemon.watchdog = None
    if daemon.process is not None:
        await terminate(daemon.process, timeout_s)
        daemon.process = None


class GaneshaError(RuntimeError):
    """A ganesha process could not be started (its log's last lines are in the message)."""


async def rpc_null(address: str, port: int, timeout: float = 2.0) -> bool:
    """True when an NFSv4 server at address:port answers a NULL RPC (procedure 0) over TCP."""
    xid = random.getrandbits(32)
    # CALL, RPC version 2, program, version 4, procedure 0, AUTH_NONE credential and verifier.
    body = struct.pack(">10I", xid, 0, 2, NFS_PROGRAM, 4, 0, 0, 0, 0, 0)
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(address, port)
            try:
                writer.write(struct.pack(">I", 0x80000000 | len(body)) + body)
                await writer.drain()
                (mark,) = struct.unpack(">I", await reader.readexactly(4))
                reply = await reader.readexactly(mark & 0x7FFFFFFF)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        rxid, msg_type, reply_stat, _flavor, verf_len = struct.unpack_from(">5I", reply)
        (accept_stat,) = struct.unpack_from(">I", reply, 20 + ((verf_len + 3) & ~3))
    except (OSError, TimeoutError, asyncio.IncompleteReadError, struct.error):
        return False
    return bool(rxid == xid and msg_type == 1 and reply_stat == 0 and accept_stat == 0)


def _probe_address(address: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(address, address)


def _alive(pid: int) -> bool:
    """Whether pid is a running process (a zombie waiting for its parent to reap it is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class _Target:
    """The live state of one mount target; mutated only under its lock or by its watchdog."""

    target_id: str
    address: str
    port: int
    exports: list[Export]
    dir: Path
    terminator: str | None = None  # the TLS terminator's source address (ganesha_conf)
    process: asyncio.subprocess.Process | None = None
    watchdog: asyncio.Task[None] | None = None
    status: str = "creating"
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def config(self) -> Path:
        return self.dir / "ganesha.conf"

    @property
    def log_file(self) -> Path:
        return self.dir / "ganesha.log"


def _prepare(t: _Target) -> list[str]:
    """Write ``t``'s configuration and fresh state; return its ganesha's command line."""
    binary = shutil.which("ganesha.nfsd") or "/usr/bin/ganesha.nfsd"
    if not os.access(binary, os.X_OK):
        raise GaneshaError("NFS-Ganesha is not installed (ganesha.nfsd; run ./run setup)")
    t.dir.mkdir(parents=True, exist_ok=True)
    # Graceless: no client reclaims state, so the records of the last run are of no use.
    shutil.rmtree(t.dir / "recovery", ignore_errors=True)
    (t.dir / "recovery").mkdir()
    t.config.write_text(render_config(t.dir, t.address, t.port, t.exports, t.terminator))
    if t.log_file.exists() and t.log_file.stat().st_size > LOG_ROTATE_BYTES:
        t.log_file.replace(t.log_file.with_suffix(".log.1"))
    argv = [
        binary,
        "-F",
        "-f",
        str(t.config),
        "-L",
        str(t.log_file),
        "-p",
        str(t.dir / "ganesha.pid"),
        "-N",
        "NIV_EVENT",
    ]
    # Die with Shoal even when it is killed outright (SIGTERM first gives a clean stop).
    setpriv = shutil.which("setpriv")
    if setpriv:
        argv = [setpriv, "--pdeathsig", "KILL", *argv]
    return argv


class GaneshaSupervisor:
    """Starts, health-checks, restarts and stops one ganesha.nfsd per mount target."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        # target id -> its live state; entries are added and removed only by ensure/remove/stop.
        self._targets: dict[str, _Target] = {}
        self._reaped = False

    def status(self) -> dict[str, str]:
        return {tid: t.status for tid, t in self._targets.items()}

    def pid(self, target_id: str) -> int | None:
        """The pid of the target's ganesha, if one is running (for diagnosis and tests)."""
        t = self._targets.get(target_id)
        if t is None or t.process is None or t.process.returncode is not None:
            return None
        return t.process.pid

    async def ensure_target(
        self, target_id: str, address: str, port: int, exports: list[Export],
        terminator: str | None = None,
    ) -> None:
        """Serve ``exports`` on address:port; returns once the server answers a NULL RPC.
        ``terminator``: where the target's TLS terminator connects from (None: no TLS).

        Idempotent: the same configuration of a running target changes nothing; another one
        restarts its ganesha. Raises ValueError for a bad export list, FileNotFoundError for a
        missing export directory, GaneshaError when ganesha does not come up (the target is
        then kept with an ``error: ...`` status until removed).
        """
        if not _TARGET_ID.match(target_id):
            raise ValueError(f"bad mount target id: {target_id!r}")
        validate_exports(exports)
        for e in exports:
            if not Path(e.path).is_dir():
                raise FileNotFoundError(f"export directory missing: {e.path}")
        await self._reap_stale()
        t = self._targets.get(target_id)
        if t is None:
            t = self._targets[target_id] = _Target(
                target_id, address, port, list(exports), self.run_dir / target_id
            )
        async with t.lock:
            # A concurrent remove_target may have dropped the entry while we waited.
            self._targets[target_id] = t
            same = (t.address, t.port, t.exports, t.terminator) == (
                address, port, list(exports), terminator
            )
            alive = t.process is not None and t.process.returncode is None
            if same and alive and t.status == "available":
                return
            await self._halt(t)
            t.address, t.port, t.exports = address, port, list(exports)
            t.terminator = terminator
            try:
                await self._spawn(t)
            except GaneshaError as e:
                t.status = f"error: {e}"
                raise
            t.watchdog = asyncio.create_task(self._watch(t), name=f"ganesha-watchdog-{target_id}")

    async def remove_target(self, target_id: str) -> None:
        """Stop the target's ganesha and forget it; a no-op for an unknown target."""
        await self._reap_stale()
        t = self._targets.get(target_id)
        if t is None:
            return
        async with t.lock:
            await self._halt(t)
            if self._targets.get(target_id) is t:
                del self._targets[target_id]

    async def stop(self) -> None:
        """Stop every ganesha this supervisor started; none is left running."""
        await self._reap_stale()
        await asyncio.gather(*(self.remove_target(tid) for tid in list(self._targets)))

    # -- processes -----------------------------------------------------------------------

    async def _spawn(self, t: _Target) -> None:
        """Write the configuration, start ganesha and wait until it answers."""
        argv = _prepare(t)
        with open(t.dir / "stderr.log", "ab") as errlog:
            t.process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=errlog,
                stderr=errlog,
                start_new_session=True,  # Ctrl-C on Shoal's terminal is Shoal's to handle
            )
        t.status = "starting"
        log.info(
            "mount target %s: ganesha pid %d on %s:%d",
            t.target_id,
            t.process.pid,
            t.address,
            t.port,
        )
        await self._until_ready(t, t.process)
        t.status = "available"

    async def _until_ready(self, t: _Target, proc: asyncio.subprocess.Process) -> None:
        """Return once ``proc`` answers a NULL RPC. GaneshaError when it exits first, or when
        it does not answer within READY_TIMEOUT_S (it is then stopped)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not await rpc_null(_probe_address(t.address), t.port, timeout=1.0):
            if proc.returncode is not None:
                raise GaneshaError(
                    f"ganesha exited with status {proc.returncode}: {_tail(t.log_file, 5)}"
                    f" (log: {t.log_file})"
                )
            if time.monotonic() > deadline:
                await terminate(proc)
                raise GaneshaError(
                    f"ganesha did not answer on {t.address}:{t.port} "
                    f"within {READY_TIMEOUT_S:.0f}s (log: {t.log_file})"
                )
            await asyncio.sleep(0.05)

    async def _halt(self, t: _Target) -> None:
        await halt(t)
        t.status = "stopped"

    async def _watch(self, t: _Target) -> None:
        """Restart ``t``'s ganesha whenever it exits or stops answering, with backoff."""
        delay = BACKOFF_MIN_S
        while True:
            proc = t.process
            if proc is None:  # not reached: _spawn sets it before the watchdog exists
                return
            started = time.monotonic()
            await self._until_unhealthy(t, proc)
            if time.monotonic() - started > HEALTHY_RUN_S:
                delay = BACKOFF_MIN_S
            reason = f"ganesha exited with status {proc.returncode}"
            log.warning(
                "mount target %s: %s; restarting in %.1fs; log tail:\n%s",
                t.target_id,
                reason,
                delay,
                _tail(t.log_file),
            )
            t.status = f"error: {reason}; restarting"
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
            try:
                await self._spawn(t)
            except GaneshaError as e:
                log.error("mount target %s: restart failed: %s", t.target_id, e)
                t.status = f"error: {e}"

    async def _until_unhealthy(self, t: _Target, proc: asyncio.subprocess.Process) -> None:
        """Return when ``proc`` has exited; kill it first if it stops answering probes."""
        exited = asyncio.ensure_future(proc.wait())
        failures = 0
        try:
            while True:
                done, _ = await asyncio.wait({exited}, timeout=HEALTH_INTERVAL_S)
                if done:
                    return
                if await rpc_null(_probe_address(t.address), t.port):
                    failures = 0
                    t.status = "available"
                    continue
                failures += 1
                if failures >= HEALTH_FAILURES:
                    log.warning(
                        "mount target %s: ganesha pid %d not answering; killing it",
                        t.target_id,
                        proc.pid,
                    )
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
        finally:
            if not exited.done():
                exited.cancel()

    async def _reap_stale(self) -> None:
        """Once per supervisor: stop ganeshas left running by a Shoal that was killed outright.

        They would hold the ports this run's targets need. Only processes whose command line
        names one of our configuration files are touched.
        """
        if self._reaped:
            return
        self._reaped = True
        for pid_file in self.run_dir.glob("*/ganesha.pid"):
            try:
                pid = int(pid_file.read_text().strip())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError):
                continue
            if str(pid_file.parent / "ganesha.conf").encode() not in cmdline:
                continue
            log.warning("stopping stale ganesha pid %d (%s)", pid, pid_file.parent.name)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while _alive(pid) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
