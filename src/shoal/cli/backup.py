"""``shoal backup PATH`` and ``shoal restore PATH``: see :mod:`shoal.backup` for what a backup
holds. Both work on the data directory directly (as root, on the server's host); ``backup`` may
run while the server runs, ``restore`` refuses to."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from shoal.backup import BackupError, backup, restore
from shoal.config import Settings, default_data_dir


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(data_dir=Path(args.data_dir).expanduser().resolve())


def _backup(args: argparse.Namespace) -> int:
    try:
        summary = backup(_settings(args), Path(args.path), file_systems=args.file_systems)
    except BackupError as e:
        print(f"shoal: backup failed: {e}", file=sys.stderr)
        return 1
    trees = "with" if summary.file_systems else "without"
    print(
        f"Backed up {args.data_dir} to {args.path}: the metadata, {summary.packages} code "
        f"packages, {summary.layer_packages} layer packages, {trees} file-system trees "
        f"({summary.bytes} bytes)."
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    try:
        summary = restore(_settings(args), Path(args.path), force=args.force)
    except BackupError as e:
        print(f"shoal: restore failed: {e}", file=sys.stderr)
        return 1
    trees = "and file-system trees" if summary.file_systems else "(no file-system trees)"
    print(
        f"Restored {args.path} into {args.data_dir}: the metadata, {summary.packages} code "
        f"packages, {summary.layer_packages} layer packages {trees}. Start the server with: "
        f"shoal serve --data-dir {args.data_dir}"
    )
    return 0


def register(subparsers: Any) -> None:
    data_help = "the server's data directory (default $SHOAL_DATA_DIR, else /var/lib/shoal)"
    p = subparsers.add_parser(
        "backup", help="write the data directory's state to a tar file (the server may run)"
    )
    p.add_argument("path", help="the backup file to write (.tar, or .tar.gz to compress)")
    p.add_argument("--data-dir", default=str(default_data_dir()), help=data_help)
    p.add_argument(
        "--no-file-systems",
        dest="file_systems",
        action="store_false",
        help="leave the file-system trees out (metadata and code only)",
    )
    p.set_defaults(func=_backup)
    r = subparsers.add_parser("restore", help="make a data directory the state of a backup")
    r.add_argument("path", help="a file written by shoal backup")
    r.add_argument("--data-dir", default=str(default_data_dir()), help=data_help)
    r.add_argument(
        "--force", action="store_true", help="replace what a non-empty data directory holds"
    )
    r.set_defaults(func=_restore)
