"""TLS in front of mount targets: one stunnel per target, as EFS clients tunnel NFS.

amazon-efs-utils' ``mount -t efs -o tls`` runs a local stunnel client that speaks TLS 1.2+ to the
mount target and verifies its certificate (``verify = 2``: the chain against its CA file, and
``checkHost``: the name it mounted). A Shoal mount target answers it with Debian's stunnel4 in
server mode on the target's address and its own port (``MountTarget.tls_port``), presenting the
server's certificate (``--tls auto``'s, signed by the CA clients already trust for the API, or
``--tls-cert``/``--tls-key``) with the API's TLS settings (:mod:`shoal.tls`), and forwarding the
plain NFS stream to the target's Ganesha from :data:`TERMINATOR_ADDRESS`. Ganesha tells TLS
clients apart by that source address (:mod:`shoal.filesystems.ganesha_conf`); only the
terminator can send from it (:mod:`shoal.filesystems.tls_guard`). Why a port of its own and not
EFS's one shared port: docs/DESIGN.md ("NFS over TLS").

stunnel drops to the ``stunnel4`` user after loading the key and binding (the guard matches that
uid); it runs in the foreground, dies with Shoal (``PR_SET_PDEATHSIG``), and is restarted with
backoff when it exits. Who may call: the mount targets, under their lock, from the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pwd
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from shoal import tls
from shoal.filesystems.nfs import halt, terminate

log = logging.getLogger("shoal.filesystems.nfs")

# An address of the loopback network that nothing else uses: the terminator's source address.
TERMINATOR_ADDRESS = "127.0.20.49"
STUNNEL_USER = "stunnel4"
READY_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.5, 30.0
LOG_ROTATE_BYTES = 8 << 20  # one connection is one line: rotated at a (re)start past this


def stunnel_uid() -> int | None:
    """The uid stunnel runs as (the Debian package's system user), None when missing."""
    try:
        return pwd.getpwnam(STUNNEL_USER).pw_uid
    except KeyError:
        return None


def render(address: str, tls_port: int, port: int, files: tls.TlsFiles) -> str:
    """The stunnel.conf of one target's terminator (pure; unit-tested)."""
    for path in (files.cert, files.key):
        if any(c in str(path) for c in "\n\r\0"):
            raise ValueError(f"control character in path: {path!r}")
    return "\n".join([
        "; Written by Shoal; rewritten on every (re)start of this terminator.",
        "foreground = yes",
        "pid =",
        "syslog = no",
        "debug = notice",
        f"setuid = {STUNNEL_USER}",
        f"setgid = {STUNNEL_USER}",
        "[nfs]",
        f"accept = {address}:{tls_port}",
        f"connect = {address}:{port}",
        f"local = {TERMINATOR_ADDRESS}",
        f"cert = {files.cert}",
        f"key = {files.key}",
        "sslVersionMin = TLSv1.2",
        f"ciphers = {tls.CIPHERS}",
        "options = NO_COMPRESSION",
        "renegotiation = no",
        # RPCs are small request/reply exchanges: no Nagle delay on either side.
        "socket = l:TCP_NODELAY=1",
        "socket = r:TCP_NODELAY=1",
        # NFS keeps its connection open while idle; efs-utils' client says 70 s.
        "TIMEOUTidle = 86400",
        "",
    ])  # fmt: skip


@dataclass
class _Terminator:
    target_id: str
    config: tuple[str, int, int]  # (address, tls_port, port)
    dir: Path
    process: asyncio.subprocess.Process | None = None
    watchdog: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class TlsTerminators:
    """Starts, restarts and stops the stunnel of every mount target served over TLS."""

    def __init__(self, run_dir: Path, files: tls.TlsFiles | None) -> None:
        self.run_dir = run_dir
        self.files = files
        self._binary = shutil.which("stunnel4") or shutil.which("stunnel")
        # target id -> its terminator; changed only by ensure/remove.
        self._running: dict[str, _Terminator] = {}

    def unavailable(self) -> str:
        """Why mount targets cannot serve TLS here ("" when they can)."""
        if self.files is None:
            return "the server has no TLS certificate (shoal serve --tls auto or --tls-cert)"
        if self._binary is None:
            return "stunnel is not installed (Debian's stunnel4; run ./run setup)"
        if stunnel_uid() is None:
            return f"the {STUNNEL_USER} user is missing (Debian's stunnel4 package makes it)"
        return ""

    def pid(self, target_id: str) -> int | None:
        t = self._running.get(target_id)
        if t is None or t.process is None or t.process.returncode is not None:
            return None
        return t.process.pid

    async def ensure(self, target_id: str, address: str, tls_port: int, port: int) -> None:
        """TLS on address:tls_port forwarded to address:port; returns once it listens."""
        if self.unavailable():
            raise RuntimeError(self.unavailable())
        t = self._running.setdefault(
            target_id, _Terminator(target_id, (address, tls_port, port), self.run_dir / target_id)
        )
        async with t.lock:
            alive = t.process is not None and t.process.returncode is None
            if alive and t.config == (address, tls_port, port):
                return
            await halt(t, STOP_TIMEOUT_S)
            t.config = (address, tls_port, port)
            await self._spawn(t)
            t.watchdog = asyncio.create_task(self._watch(t), name=f"stunnel-{target_id}")

    async def remove(self, target_id: str) -> None:
        t = self._running.pop(target_id, None)
        if t is not None:
            async with t.lock:
                await halt(t, STOP_TIMEOUT_S)

    async def stop(self) -> None:
        await asyncio.gather(*(self.remove(tid) for tid in list(self._running)))

    async def _spawn(self, t: _Terminator) -> None:
        if self.files is None or self._binary is None:  # ensure() checked; kept for restarts
            raise RuntimeError(self.unavailable())
        address, tls_port, port = t.config
        t.dir.mkdir(parents=True, exist_ok=True)
        conf = t.dir / "stunnel.conf"
        conf.write_text(render(address, tls_port, port, self.files))
        log_file = t.dir / "stunnel.log"
        if log_file.exists() and log_file.stat().st_size > LOG_ROTATE_BYTES:
            log_file.replace(log_file.with_suffix(".log.1"))
        argv = [self._binary, str(conf)]
        setpriv = shutil.which("setpriv")
        if setpriv:
            argv = [setpriv, "--pdeathsig", "KILL", *argv]
        with open(t.dir / "stunnel.log", "ab") as out:
            t.process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not await _listening(address, tls_port):
            if t.process.returncode is not None or time.monotonic() > deadline:
                await terminate(t.process, STOP_TIMEOUT_S)
                tail = (t.dir / "stunnel.log").read_text(errors="replace").splitlines()[-3:]
                raise RuntimeError(f"stunnel did not start: {' | '.join(tail)}")
            await asyncio.sleep(0.05)
        log.info("mount target %s: TLS on %s:%d (stunnel pid %d)", t.target_id, address,
                 tls_port, t.process.pid)  # fmt: skip

    async def _watch(self, t: _Terminator) -> None:
        delay = BACKOFF_MIN_S
        while t.process is not None:
            await t.process.wait()
            log.warning("mount target %s: stunnel exited with status %s; restarting in %.1fs",
                        t.target_id, t.process.returncode, delay)  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
            try:
                await self._spawn(t)
            except (RuntimeError, OSError) as e:
                log.error("mount target %s: TLS restart failed: %s", t.target_id, e)


async def _listening(address: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(address, port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
