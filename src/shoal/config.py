"""Shoal's settings: one frozen object made at start from the command line and environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000
DEFAULT_ENDPOINT = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"


def default_data_dir() -> Path:
    return Path(
        os.environ.get("SHOAL_DATA_DIR", "/var/lib/shoal" if os.geteuid() == 0 else "~/.shoal")
    ).expanduser()


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # Further names (``name`` or ``name:port``) clients use to reach this server, beside the
    # loopback names and ``host``: requests naming any other Host are refused (shoal.api.admission).
    allowed_hosts: tuple[str, ...] = ()
    region: str = "us-east-1"
    account_id: str = "123456789012"
    # Idle execution environments are destroyed after this many seconds.
    idle_timeout_s: float = 300.0
    # WebSocket APIs: a connection idle this long (no message from its client) is closed, and
    # any connection after this long in all: API Gateway's 10 minutes and 2 hours.
    websocket_idle_timeout_s: float = 600.0
    websocket_max_duration_s: float = 7200.0
    # How long an environment's execution-role credentials last (shoal.invocation.credentials);
    # an environment that outlives half of it gets new ones with its next invocation.
    role_credentials_s: int = 12 * 3600
    # Account-wide concurrency limit, and the part that reserved concurrency may not take
    # (Lambda's defaults: 1000 and 100).
    account_concurrency: int = 1000
    unreserved_minimum: int = 100
    # Async invocations: the n-th retry after a function error waits n times this (Lambda:
    # 1 minute, then 2); throttled events wait at most min(5 s, this) between tries.
    async_retry_base_delay_s: float = 60.0
    # Mount targets (NFS-Ganesha) listen here; ports are allocated from nfs_port upward.
    nfs_address: str = "127.0.0.1"
    nfs_port: int = 2049
    # Environments run as this uid/gid when no file system sets a POSIX user.
    sandbox_uid: int = 990
    sandbox_gid: int = 990
    # Environments' network: "nat" reaches other hosts (never this one), "none" is loopback only.
    egress: str = "nat"
    # TLS (shoal.tls): the server's certificate chain and key, both or neither; tls_ca is the
    # CA that clients (and the environments) trust, when Shoal made it (--tls auto).
    # Free space on the data directory's disk that file systems never take (shoal.filesystems.
    # headroom): bytes, "512M", "1GiB" or "5%"; None: 1 GiB or 5% of the disk, the smaller.
    fs_reserve: str | None = field(default_factory=lambda: os.environ.get("SHOAL_FS_RESERVE"))
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert is not None else "http"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "shoal.db"

    @property
    def code_dir(self) -> Path:
        return self.data_dir / "code"

    @property
    def fs_dir(self) -> Path:
        return self.data_dir / "filesystems"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    def endpoint(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"
