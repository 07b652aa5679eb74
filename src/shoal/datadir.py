"""The data directory is root's alone: checked, created and tightened before anything opens it.

What Shoal keeps there (metadata with every function's environment variables, code packages,
logs, NFS configuration) is reachable by the server's user only (root, when Shoal runs as root):
directories 0700, files 0600. The rules, applied at every start by :func:`prepare`:

- **Ownership.** The data directory, and everything Shoal wrote in it, belongs to the server's
  user. One owned by anyone else is refused: whoever owns a directory can rename it, replace
  what is in it, or give it back any mode, whatever Shoal sets.
- **The parent chain.** Every directory above it belongs to root (or the server's user) and is
  writable by no one else unless sticky (as ``/tmp`` and ``/var/tmp`` are). A parent another
  user can write to lets that user rename the data directory away and put a directory or a
  symlink of their own in its place between two of Shoal's path lookups (the classic
  symlink-swap race); the sticky bit forbids renaming entries one does not own, which closes it.
- **Modes.** A data directory found with group or other bits is tightened, with one warning
  saying what changed. Tightening covers what Shoal wrote: the database and its WAL/SHM files,
  ``code/`` and its stored zips, ``layers/`` (its packages as ``code/``'s, its ``opt/``),
  ``logs/`` and ``run/`` (recursively) and the ``filesystems/`` directory itself, never the
  file systems' trees, whose modes are their users' data.
  Something in Shoal's part that another user owns, or a symlink where Shoal keeps a directory
  or the database, may have been planted while the directory was open: that is refused too.
- **Code trees keep their modes.** ``code/<sha256>/`` is bind-mounted at ``/var/task`` by the
  sandbox (as root, before the function's identity is taken) and read inside as the function's
  unprivileged user, which needs 0755/0644 there, as Lambda needs world-readable packages. On the
  host they are unreachable all the same: ``code/`` itself is 0700. So are the layers' unpacked
  trees and merged ``/opt`` trees under ``layers/``.
- **The umask.** :data:`SERVER_UMASK` is the server's umask from the start (``shoal serve`` sets
  it), so everything written later is private without each writer having to say so. Processes
  Shoal spawns inherit it unless they create files *for users*: the fork servers, whose
  environments write to file systems and ``/tmp``, are started with the usual 022 (``umask=``
  in :mod:`shoal.sandbox.zygote`), so a function's files get the modes its own umask gives, as
  before. NFS-Ganesha keeps 077: it applies the mode each NFS client asks for whatever its own
  umask (measured: a client's 0660 file stays 0660), so only its own log, pid file and
  recovery records are affected, and they become private too.

A refusal is a :class:`DataDirError` whose message names the path and what to do.
"""

from __future__ import annotations

import logging
import os
import pwd
import secrets
import stat
from pathlib import Path

from shoal.config import Settings

log = logging.getLogger("shoal")

SERVER_UMASK = 0o077
PRIVATE = 0o077  # the group and other bits, none of which Shoal's own files may have


class DataDirError(Exception):
    """The data directory cannot be used safely; the message says why and how to fix it."""


def _who(uid: int) -> str:
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


def check_parents(path: Path, owner: int) -> None:
    """Refuse when a directory above ``path`` is writable by someone but root and ``owner``.

    Only the ancestors that exist are checked (the missing ones are created by Shoal)."""
    for parent in path.parents:
        try:
            st = os.lstat(parent)
        except FileNotFoundError:
            continue
        if st.st_uid not in (0, owner):
            raise DataDirError(
                f"data directory {path}: its parent {parent} belongs to {_who(st.st_uid)}, who "
                "could replace it; put the data directory under directories that only root "
                "can change"
            )
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            raise DataDirError(
                f"data directory {path}: its parent {parent} (mode {stat.S_IMODE(st.st_mode):04o})"
                " is writable by other users without the sticky bit, so they could swap the "
                "data directory for their own; remove that write permission or choose another "
                "place"
            )


def _check_own(path: Path, owner: int, kind: int | None) -> os.stat_result:
    """lstat ``path`` and refuse it unless it is owned by ``owner``, of type ``kind`` (S_IFDIR,
    S_IFREG; None: any but a symlink) and, for a file, its only name (a hard link planted while
    the directory was open would make Shoal write to another file)."""
    st = os.lstat(path)
    found = stat.S_IFMT(st.st_mode)
    if found == stat.S_IFLNK or (kind is not None and found != kind):
        what = "a symbolic link" if found == stat.S_IFLNK else "not a " + (
            "directory" if kind == stat.S_IFDIR else "regular file"
        )
        raise DataDirError(f"{path} is {what}; Shoal made it a real one: remove it and restart")
    if st.st_uid != owner:
        raise DataDirError(
            f"{path} belongs to {_who(st.st_uid)}, not to {_who(owner)} who runs Shoal; "
            "another user could have planted it: check it, then remove it or chown it"
        )
    if found == stat.S_IFREG and st.st_nlink > 1:
        raise DataDirError(
            f"{path} has {st.st_nlink} hard links; it could be another file under Shoal's name: "
            "check it, then remove the other links"
        )
    return st


def _tighten(path: Path, st: os.stat_result) -> bool:
    """Drop the group and other bits of ``path``; True if there were any."""
    if not st.st_mode & PRIVATE:
        return False
    os.chmod(path, stat.S_IMODE(st.st_mode) & ~PRIVATE, follow_symlinks=False)
    return True


def _tighten_tree(root: Path, owner: int) -> int:
    """Tighten ``root`` and everything under it (no symlink is followed); the count changed."""
    _check_own(root, owner, stat.S_IFDIR)  # os.walk would silently yield nothing for a symlink
    changed = 0
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        changed += _tighten(here, _check_own(here, owner, stat.S_IFDIR))
        for name in filenames:
            if (here / name).is_symlink():
                continue  # a link's own mode means nothing, and a walk never follows one
            changed += _tighten(here / name, _check_own(here / name, owner, None))
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
    return changed


def _tighten_code(code: Path, owner: int) -> int:
    """``code/`` and its zips; the unpacked trees keep their modes (see the module docstring)."""
    changed = int(_tighten(code, _check_own(code, owner, stat.S_IFDIR)))
    for entry in code.iterdir():
        # A planted symlink named as a package would put its target at /var/task.
        st = _check_own(entry, owner, None)
        if stat.S_ISREG(st.st_mode):
            changed += _tighten(entry, st)
    return changed


def _tighten_layers(layers: Path, owner: int) -> int:
    """``layers/``: its packages as ``code/``'s, its merged ``/opt`` trees keep their modes."""
    if not os.path.lexists(layers):
        return 0
    changed = int(_tighten(layers, _check_own(layers, owner, stat.S_IFDIR)))
    packages, opt = layers / "packages", layers / "opt"
    if os.path.lexists(packages):
        changed += _tighten_code(packages, owner)
    if os.path.lexists(opt):
        changed += int(_tighten(opt, _check_own(opt, owner, stat.S_IFDIR)))
    return changed


def prepare(settings: Settings) -> None:
    """Check, create and tighten the data directory and Shoal's directories in it.

    Raises :class:`DataDirError` (nothing opened, nothing changed but modes) when it is unsafe.
    """
    owner = os.geteuid()
    data = settings.data_dir
    check_parents(data, owner)
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = _check_own(data, owner, stat.S_IFDIR)
    before = stat.S_IMODE(st.st_mode)
    top = _tighten(data, st)
    for d in (settings.code_dir, settings.fs_dir, settings.log_dir, settings.run_dir):
        if not os.path.lexists(d):  # a dangling symlink there is refused below, not followed
            d.mkdir(mode=0o700)
    inner = 0
    for db in sorted(data.glob(settings.db_path.name + "*")):  # the database, its WAL and SHM
        inner += _tighten(db, _check_own(db, owner, None))
    inner += _tighten_code(settings.code_dir, owner)
    inner += _tighten_layers(data / "layers", owner)
    inner += _tighten(settings.fs_dir, _check_own(settings.fs_dir, owner, stat.S_IFDIR))
    inner += _tighten_tree(settings.log_dir, owner)
    inner += _tighten_tree(settings.run_dir, owner)
    if top or inner:
        log.warning(
            "data directory %s was open to other users: tightened it (mode %04o -> %04o) and "
            "%d file(s) and directories under it to owner-only",
            data, before, before & ~PRIVATE, inner,
        )  # fmt: skip


def secret_key(path: Path, size: int = 32) -> bytes:
    """A random key of ``size`` bytes kept in ``path``: read if present, else made (0600,
    exclusively, so two starts cannot race, and fsync'd before it is used). A file of another
    size is refused: a key that cannot open what it sealed must not be replaced silently."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != size:
            raise ValueError(f"{path} is not a {size}-byte key: it cannot be used") from None
        return key
    key = secrets.token_bytes(size)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    return key
