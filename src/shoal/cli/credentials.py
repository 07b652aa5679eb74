"""``shoal credentials [--data-dir DIR]``: the account's root credentials, for root.

Prints the ``~/.aws/credentials`` profile and the environment a tool needs to reach this server
(the endpoint is the local default unless ``SHOAL_ENDPOINT`` says otherwise). The file is 0600
and owned by the server's user, so only that user (root) can read it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from shoal.cli.client import endpoint
from shoal.config import default_data_dir
from shoal.identity.root import PROFILE, credentials_path, read


def show(args: argparse.Namespace) -> int:
    path = credentials_path(Path(args.data_dir))
    found = read(path)
    if found is None:
        print(
            f"shoal: no root credentials readable at {path}: start the server once (it makes "
            "them), run this as the server's user, or look at SHOAL_ROOT_ACCESS_KEY_ID/"
            "SHOAL_ROOT_SECRET_ACCESS_KEY where the server was started",
            file=sys.stderr,
        )
        return 1
    print(describe(path, found.access_key_id, found.secret_access_key, endpoint(None)))
    return 0


def describe(path: Path, key: str, secret: str, url: str) -> str:
    return (
        f"# Shoal root credentials (kept in {path})\n"
        f"[{PROFILE}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n\n"
        f"# or in the environment:\nexport AWS_ACCESS_KEY_ID={key} "
        f"AWS_SECRET_ACCESS_KEY={secret} AWS_ENDPOINT_URL={url}"
    )


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("credentials", help="show the account's root credentials (root)")
    p.add_argument("--data-dir", default=str(default_data_dir()),
                   help="the server's data directory (default $SHOAL_DATA_DIR, else "
                        "/var/lib/shoal)")  # fmt: skip
    p.set_defaults(func=show)
