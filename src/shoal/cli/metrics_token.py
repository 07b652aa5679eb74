"""``shoal metrics-token [--data-dir DIR] [--rotate]``: the bearer token Prometheus scrapes
``/metrics`` with, for root.

The token lives in ``<data>/metrics-token`` (0600, the server's user's alone) and is read by
the server at every scrape, so a new one (``--rotate``) is in force at once, and removing the
file turns bearer access off. Without ``--rotate`` an existing token is printed, else a new one
is made.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from shoal.config import default_data_dir
from shoal.observability.prometheus import token_path


def make(path: Path) -> str:
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.replace(tmp, path)
    return token


def show(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    if not data_dir.is_dir():
        print(f"shoal: no data directory at {data_dir}: start the server once", file=sys.stderr)
        return 1
    path = token_path(data_dir)
    try:
        token = "" if args.rotate else path.read_text().strip()
    except FileNotFoundError:
        token = ""
    except OSError as e:
        print(f"shoal: cannot read {path}: {e} (run this as the server's user)", file=sys.stderr)
        return 1
    print(token or make(path))
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "metrics-token", help="show (or make) the bearer token for GET /metrics (root)"
    )
    p.add_argument("--data-dir", default=str(default_data_dir()),
                   help="the server's data directory (default $SHOAL_DATA_DIR, else "
                        "/var/lib/shoal)")  # fmt: skip
    p.add_argument("--rotate", action="store_true", help="replace the token with a new one")
    p.set_defaults(func=show)
