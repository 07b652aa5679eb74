"""``shoal fs pip-install``: populate a file system with Python libraries in one step.

The seed article's workflow on a host: mount the file system, ``pip install -t <dir>/lib -r
requirements.txt``, then give the installed tree to the access point's POSIX user so that the
function (which runs as that user) owns what it imports. This command does the three steps
for one access point:

    shoal fs pip-install fs-0123… --access-point fsap-0123… --target lib -r requirements.txt

Pip runs under the host interpreter of the function's runtime (``--runtime python3.11`` ->
the python3.11 that the sandbox runs), so compiled wheels and byte-code match what the
function imports. Pip's own output (its progress) is streamed as it runs.
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from shoal.cli.fs import _shoal_api
from shoal.filesystems.models import NOBODY
from shoal.sandbox.runtimes import discover

DEFAULT_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


class PipInstallError(Exception):
    """The install cannot start; the message says why (printed as ``shoal: <message>``)."""


def runtime_python(runtime: str) -> str:
    """The host interpreter that functions of ``runtime`` run under."""
    found = discover()
    if runtime not in found:
        have = ", ".join(found) or "none"
        raise PipInstallError(f"no host interpreter for runtime {runtime} (found: {have})")
    return found[runtime]


def target_dir(root: Path, target: str) -> Path:
    """``root/target``, refusing a target that leaves ``root`` or runs through a symlink.

    The tree below an access point is writable by functions, so any component may have been
    replaced by a symlink to somewhere else on the host; pip runs as root and must not follow it.
    """
    rel = PurePosixPath(target)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise PipInstallError(f"--target must be a relative path inside the file system: {target}")
    path = root
    for part in rel.parts:
        if part == ".":
            continue
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(mode):
            raise PipInstallError(f"{path} exists and is not a directory (a symlink or a file)")
    return path


def pip_command(
    python: str,
    target: Path,
    requirements: Sequence[str],
    packages: Sequence[str],
    pip_args: Sequence[str] = (),
) -> list[str]:
    """Pip of this CLI, run under ``python`` (pip's ``--python``): no pip needed in it."""
    # --upgrade: a second run replaces what an earlier one put there instead of skipping it.
    # --root-user-action: pip's warning about root-owned files; the tree is chowned afterwards.
    cmd = [sys.executable, "-m", "pip", "--python", python, "install", "--upgrade",
           "--root-user-action=ignore", "--target", str(target)]  # fmt: skip
    for req in requirements:
        cmd += ["-r", req]
    return [*cmd, *pip_args, *packages]


def made_dirs(root: Path, target: Path) -> list[Path]:
    """The components of ``target`` below ``root`` that do not exist yet."""
    missing = []
    path = target
    while path != root and not path.exists():
        missing.append(path)
        path = path.parent
    return missing


def chown_tree(top: Path, uid: int, gid: int) -> int:
    """Give ``top`` and everything below it to uid:gid (never following symlinks)."""
    count = 0
    os.lchown(top, uid, gid)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in (*dirnames, *filenames):
            os.lchown(os.path.join(dirpath, name), uid, gid)
            count += 1
    return count + 1


def install(
    root: Path,
    target: str,
    requirements: Sequence[str],
    packages: Sequence[str] = (),
    *,
    runtime: str = DEFAULT_RUNTIME,
    owner: tuple[int, int] | None = None,
    pip_args: Sequence[str] = (),
) -> int:
    """Install into ``root/target`` and chown what was made to ``owner``; pip's exit code."""
    dest = target_dir(root, target)
    python = runtime_python(runtime)
    created = made_dirs(root, dest)
    cmd = pip_command(python, dest, requirements, packages, pip_args)
    print(f"shoal: installing into {dest} with {python}", file=sys.stderr, flush=True)
    # stdout/stderr are inherited: pip's progress shows as it runs.
    code = subprocess.run(cmd, check=False).returncode
    if code != 0:
        return code
    if owner is not None:
        for path in reversed(created[1:]):  # parents pip made for a nested --target
            os.lchown(path, *owner)
        n = chown_tree(dest, *owner)
        print(f"shoal: {n} files and directories under {dest} now owned by "
              f"{owner[0]}:{owner[1]}", file=sys.stderr)  # fmt: skip
    return 0


def add_commands(fs_subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``pip-install`` in the ``shoal fs`` group."""
    p = fs_subparsers.add_parser(
        "pip-install",
        help="pip install into an access point's directory, owned by its POSIX user",
        description="Mount the access point's root directory on this host, pip install into "
        "TARGET below it with the runtime's interpreter (pip's progress shown), give the "
        "installed tree to the access point's POSIX user, unmount. Run as root, on the "
        "server's host.",
    )
    p.add_argument("file_system_id", metavar="FS_ID")
    p.add_argument("--access-point", required=True, metavar="AP_ID",
                   help="install below this access point's root directory")  # fmt: skip
    p.add_argument("--target", default="lib",
                   help="directory below the access point root (default: lib)")  # fmt: skip
    # Requirements files only: a positional PACKAGE list would not parse after the options
    # (argparse does not intermix positionals), and a file is what the article uses.
    p.add_argument("-r", "--requirement", action="append", required=True, dest="requirements",
                   metavar="FILE", help="a requirements file (repeatable)")  # fmt: skip
    p.add_argument("--runtime", default=DEFAULT_RUNTIME,
                   help=f"the functions' runtime, whose interpreter runs pip "
                        f"(default: {DEFAULT_RUNTIME})")  # fmt: skip
    p.add_argument(
        "--endpoint-url",
        help="Shoal endpoint (default $SHOAL_ENDPOINT, else http://127.0.0.1:9000)",
    )
    p.set_defaults(func=_pip_install)


@contextmanager
def mounted_access_point(args: argparse.Namespace) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Bind-mount the access point's root on a private directory of this host, as ``shoal fs
    mount`` finds it (the server's ``/shoal/fs/`` endpoint), and unmount it afterwards.

    A plain bind, not ``fs mount``'s idmapped one: the install then chowns the tree to the
    PosixUser, which an idmapped mount (where that uid is unmapped) would refuse.
    """
    from shoal.filesystems import hostmount

    if os.geteuid() != 0:
        raise SystemExit("shoal: fs pip-install must run as root (it mounts the access point)")
    doc = _shoal_api(args, f"access-points/{args.access_point}/path", method="POST")
    if doc["FileSystemId"] != args.file_system_id.rsplit("/", 1)[-1]:
        raise SystemExit(f"shoal: {args.access_point} is not an access point of "
                         f"{args.file_system_id}")  # fmt: skip
    if doc["ReadOnly"]:
        raise SystemExit(f"shoal: the file system policy makes {args.access_point} read-only")
    where = tempfile.mkdtemp(prefix="shoal-pip-")
    try:
        hostmount.bind(doc["Path"], where)
    except hostmount.HostMountError as e:
        os.rmdir(where)
        raise SystemExit(f"shoal: {e}") from None
    try:
        yield Path(where), doc
    finally:
        hostmount.unmount(where)
        os.rmdir(where)


def _pip_install(args: argparse.Namespace) -> int:
    with mounted_access_point(args) as (root, doc):
        owner = None if doc["Uid"] is None else (int(doc["Uid"]), int(doc["Gid"]))
        if owner is None and doc["RootSquash"]:  # root's files would be 65534's on any path
            owner = (NOBODY, NOBODY)
        print(f"shoal: {args.access_point} mounted at {root}", file=sys.stderr, flush=True)
        try:
            code = install(root, args.target, args.requirements, runtime=args.runtime,
                           owner=owner)  # fmt: skip
        except PipInstallError as e:
            raise SystemExit(f"shoal: {e}") from None
        if owner is None:
            print("shoal: the access point has no POSIX user; files stay owned by root",
                  file=sys.stderr)  # fmt: skip
    if code == 0:
        print(f"installed into {args.access_point}:/{args.target.strip('/')}")
    return code
