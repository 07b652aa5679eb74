"""The ``shoal`` command.

``shoal serve`` runs the server; every other command is a client of a running server, reached at
``--endpoint-url``, else ``$SHOAL_ENDPOINT``, else http://127.0.0.1:9000. Each group of commands
lives in its own module with a ``register(subparsers)`` function.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import select
import signal
import sys
from pathlib import Path
from typing import Any

from shoal.config import DEFAULT_HOST, DEFAULT_PORT, Settings, default_data_dir

# Command groups: modules with register(subparsers); missing ones are skipped.
GROUPS = [
    "shoal.cli.functions",
    "shoal.cli.logs",
    "shoal.cli.fs",
    "shoal.cli.apis",
    "shoal.cli.backup",
    "shoal.cli.credentials",
    "shoal.cli.metrics_token",
]


def print_json(doc: Any) -> None:
    if isinstance(doc, dict):
        doc = {k: v for k, v in doc.items() if k != "ResponseMetadata"}
    print(json.dumps(doc, indent=2, default=str))


def _serve(args: argparse.Namespace) -> int:
    from shoal.server import serve
    from shoal.store.integrity import CorruptStore

    data_dir = Path(args.data_dir).expanduser().resolve()
    if not 1 <= args.role_credentials_lifetime <= 12 * 3600:
        print("shoal: --role-credentials-lifetime is 1 to 43200 seconds", file=sys.stderr)
        return 2
    if args.fs_reserve is not None:
        from shoal.filesystems.headroom import parse_size

        try:
            parse_size(args.fs_reserve, 100)
        except ValueError as e:
            print(f"shoal: --fs-reserve: {e}", file=sys.stderr)
            return 2
    tls_paths: dict[str, Any] = {}
    if args.tls is not None:
        if args.tls != "auto" or args.tls_cert or args.tls_key or args.tls_ca:
            print("shoal: --tls auto goes without --tls-cert/--tls-key/--tls-ca",
                  file=sys.stderr)  # fmt: skip
            return 2
        tls_dir = data_dir / "tls"
        tls_paths = dict(tls_cert=tls_dir / "server.pem", tls_key=tls_dir / "server-key.pem",
                         tls_ca=tls_dir / "ca.pem")  # fmt: skip
    elif args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            print("shoal: --tls-cert and --tls-key go together", file=sys.stderr)
            return 2
        tls_paths = dict(tls_cert=Path(args.tls_cert).resolve(),
                         tls_key=Path(args.tls_key).resolve(),
                         tls_ca=Path(args.tls_ca).resolve() if args.tls_ca else None)  # fmt: skip
    elif args.tls_ca:
        print("shoal: --tls-ca goes with --tls-cert and --tls-key", file=sys.stderr)
        return 2
    settings = Settings(
        data_dir=data_dir,
        host=args.host,
        port=args.port,
        allowed_hosts=tuple(args.allowed_host),
        idle_timeout_s=args.idle_timeout,
        websocket_idle_timeout_s=args.websocket_idle_timeout,
        websocket_max_duration_s=args.websocket_max_duration,
        role_credentials_s=args.role_credentials_lifetime,
        account_concurrency=args.account_concurrency,
        unreserved_minimum=args.unreserved_minimum,
        async_retry_base_delay_s=args.async_retry_base_delay,
        nfs_address=args.nfs_address,
        nfs_port=args.nfs_port,
        egress=args.egress,
        fs_reserve=args.fs_reserve,
        **tls_paths,
    )
    try:
        serve(settings, log_level=args.log_level, tls_auto=args.tls == "auto")
    except CorruptStore as e:
        print(f"shoal: {e}", file=sys.stderr)  # what happened and how to recover; no traceback
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shoal", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the Shoal server")
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="NAME[:PORT]",
                       help="another name clients reach this server by (repeatable); requests "
                            "with any Host but these, the loopback names and --host are refused")
    serve.add_argument("--data-dir", default=str(default_data_dir()),
                       help="where metadata, code, logs and file systems live "
                            "(default $SHOAL_DATA_DIR, else /var/lib/shoal as root)")
    serve.add_argument("--idle-timeout", type=float, default=300.0,
                       help="seconds before an idle execution environment is reaped")
    serve.add_argument("--websocket-idle-timeout", type=float, default=600.0, metavar="SECONDS",
                       help="close a WebSocket connection after this long without a message "
                            "from its client (default 600, as API Gateway)")
    serve.add_argument("--websocket-max-duration", type=float, default=7200.0, metavar="SECONDS",
                       help="close any WebSocket connection after this long (default 7200, as "
                            "API Gateway)")
    serve.add_argument("--role-credentials-lifetime", type=int, default=12 * 3600,
                       metavar="SECONDS",
                       help="how long the execution-role credentials of an environment last "
                            "(default 43200); renewed with an invocation past half of it")
    serve.add_argument("--account-concurrency", type=int, default=1000,
                       help="concurrent executions for the whole account (default 1000)")
    serve.add_argument("--unreserved-minimum", type=int, default=100,
                       help="concurrency that reservations must leave unreserved (default 100)")
    serve.add_argument("--async-retry-base-delay", type=float, default=60.0,
                       help="seconds before the first retry of a failed async event; the "
                            "n-th waits n times this (default 60, as Lambda)")
    serve.add_argument("--nfs-address", default="127.0.0.1",
                       help="address NFS mount targets listen on (default 127.0.0.1)")
    serve.add_argument("--nfs-port", type=int, default=2049,
                       help="first port for NFS mount targets; each target takes the next "
                            "free one (default 2049)")
    serve.add_argument("--egress", choices=("nat", "none"), default="nat",
                       help="nat (default): functions reach other hosts through NAT, never "
                            "this host's own services; none: loopback only")
    serve.add_argument("--fs-reserve", default=os.environ.get("SHOAL_FS_RESERVE"),
                       metavar="SIZE",
                       help="free space on the data directory's disk that file systems never "
                            "take: bytes, 512M, 1GiB or 5%% (default $SHOAL_FS_RESERVE, else "
                            "1 GiB or 5%% of the disk, the smaller)")
    serve.add_argument("--tls-cert", metavar="FILE",
                       help="serve HTTPS with this certificate chain (PEM; with --tls-key)")
    serve.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert (PEM)")
    serve.add_argument("--tls-ca", metavar="FILE",
                       help="the CA that issued --tls-cert, for the functions to trust "
                            "(AWS_CA_BUNDLE in every environment); else the system's store")
    serve.add_argument("--tls", choices=("auto",),
                       help="auto: serve HTTPS with a certificate of a local CA made (once) in "
                            "the data directory; its path is printed for AWS_CA_BUNDLE")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=_serve)
    for name in GROUPS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        module.register(sub)
    return parser


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (poll reports an error on it)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def _reader_gone() -> int:
    """Stdout's reader went away (``shoal logs fn | head -1``): stop as a Unix tool does, by
    SIGPIPE, silently (status 141 in the shell). Python ignores SIGPIPE so that writes raise
    instead; stdout goes to /dev/null first so that nothing still buffered fails at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)
    return 128 + signal.SIGPIPE  # not reached: the signal ends the process


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, where a closed pipe is handled, not at the exit
        return code
    except BrokenPipeError:
        if args.command == "serve" or not _stdout_closed():
            raise  # some other pipe: a failure to report, not a reader that had enough
        return _reader_gone()
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a client error: print it the way the AWS CLI does
        from botocore.exceptions import ClientError

        if isinstance(e, ClientError):
            err = e.response.get("Error", {})
            print(f"shoal: {err.get('Code')}: {err.get('Message')}", file=sys.stderr)
            return 254
        raise


if __name__ == "__main__":
    sys.exit(main())
