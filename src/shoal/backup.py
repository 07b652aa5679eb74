"""``shoal backup`` and ``shoal restore``: a data directory's state in one tar file, and back.

A backup holds what a restore needs to start the same Shoal again:

- ``shoal-backup.json``: what the file is (format, time, whether file systems are in it);
- ``shoal.db``: the metadata, copied with SQLite's online backup API. The copy is taken in one
  step under one read transaction, so it is a consistent snapshot even while a server writes
  (WAL readers never block the writer);
- ``code/<hex>.zip``: every deployment package. Packages are immutable and saved before the
  metadata that names them, so every package the snapshot references is already there;
  the unpacked trees are not copied (a restore unpacks the zips again, as Shoal does);
- ``layers/packages/<hex>.zip``: every layer version's package, likewise (the merged ``/opt``
  trees are made again from them when a function next needs one);
- ``credentials`` and ``tls/``, when the server made them: the root credentials clients sign
  with and ``--tls auto``'s CA and certificate that clients trust. Without them a restored
  server would make new ones, and every client would be locked out until given them;
- ``certificates/``: the custom domain names' certificate files (shoal.gateway.certificates),
  which the domains in the metadata name;
- ``filesystems/``: the file-system trees, unless ``--no-file-systems``: owners as numbers,
  modes, times, symlinks and hard links as they are. They are copied file by file while
  functions may be writing, as ``tar`` would; stop the writers for a point-in-time copy of them.
  Extended attributes and ACLs are not kept.

Logs are not part of a backup. The backup file holds secrets (the root credentials, IAM
access keys, functions' environment variables): it is written 0600, as the data directory's
own files are. A restore refuses a data directory that a running server uses
(any process holding its ``shoal.db`` open) or that is not empty (unless ``force``); it stages
everything inside the data directory and swaps it in only once the metadata passed SQLite's
integrity check and every package unpacked. Python's ``tarfile`` does the archive, with its
extraction filter guarding paths (nothing lands outside the data directory); modes are then
kept as archived, since an access point's root may rightly be 0777 or setgid.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from shoal.config import Settings
from shoal.functions.code import CodeStore

MANIFEST = "shoal-backup.json"
FORMAT = 1
LAYER_PACKAGES = "layers/packages"
# What the server made for its clients, kept as it is (see the module docstring).
# kms-master.key seals every KMS key's material: without it the restored keys (and what they
# encrypt: file-system keys) could never be opened again.
CLIENT_FILES = ("credentials", "tls", "certificates", "kms-master.key")


class BackupError(Exception):
    """A backup or restore that cannot be done; ``str()`` says why and what to do."""


@dataclass(frozen=True)
class Summary:
    packages: int
    file_systems: bool
    bytes: int
    layer_packages: int = 0


def _open_for_writing(path: Path, compressed: bool) -> tarfile.TarFile:
    return tarfile.open(path, "w:gz") if compressed else tarfile.open(path, "w")


def backup(settings: Settings, dest: Path, file_systems: bool = True) -> Summary:
    """Write a backup of ``settings.data_dir`` (running or not) to ``dest``."""
    if not settings.db_path.is_file():
        raise BackupError(f"{settings.data_dir} holds no Shoal database (shoal.db)")
    dest = dest.resolve()
    if dest.is_relative_to(settings.data_dir.resolve()):
        raise BackupError("the backup must be written outside the data directory")
    with tempfile.TemporaryDirectory(prefix=".shoal-backup.", dir=dest.parent) as tmp:
        db_copy = Path(tmp) / "shoal.db"
        _copy_database(settings.db_path, db_copy)
        packages = _packages(settings.code_dir)
        layer_packages = _packages(settings.data_dir / LAYER_PACKAGES)
        manifest = {"format": FORMAT, "created": time.time(), "file_systems": file_systems}
        (Path(tmp) / MANIFEST).write_text(json.dumps(manifest))
        partial = Path(tmp) / "backup.tar"
        with _open_for_writing(partial, dest.name.endswith((".tar.gz", ".tgz"))) as tar:
            tar.add(Path(tmp) / MANIFEST, MANIFEST)
            tar.add(db_copy, "shoal.db")
            for package in packages:
                tar.add(package, f"code/{package.name}")
            layers = settings.data_dir / LAYER_PACKAGES
            if layers.is_dir():  # even empty: a restore then replaces what layers/ holds
                tar.add(layers, LAYER_PACKAGES, recursive=False)
            for package in layer_packages:
                tar.add(package, f"{LAYER_PACKAGES}/{package.name}")
            for name in CLIENT_FILES:
                if (settings.data_dir / name).exists():
                    tar.add(settings.data_dir / name, name)
            if file_systems and settings.fs_dir.is_dir():
                tar.add(settings.fs_dir, "filesystems", filter=_skip_trash)
        os.chmod(partial, 0o600)  # it holds secrets
        os.replace(partial, dest)  # a backup file is whole or absent
    return Summary(len(packages), file_systems, dest.stat().st_size, len(layer_packages))


def _packages(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.zip") if not p.name.startswith("."))


def _copy_database(source: Path, target: Path) -> None:
    src = sqlite3.connect(str(source))
    try:
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)  # all pages in one step: one consistent snapshot
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the database fails SQLite's integrity check: {check}")
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        src.close()


def _skip_trash(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    # A deleted file system is renamed to .deleted-<id> and removed in the background.
    top = info.name.split("/")[1:2]
    return None if top and top[0].startswith(".") else info


def holders(db_path: Path) -> list[int]:
    """The pids of processes that have ``db_path`` (or its WAL) open: a running server."""
    names = {str(db_path), f"{db_path}-wal"}
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in names for fd in fds):
                found.append(int(pid))
        except OSError:
            continue  # gone, or not ours to look at
    return found


def restore(settings: Settings, source: Path, force: bool = False) -> Summary:
    """Make ``settings.data_dir`` the state saved in the backup ``source``."""
    data = settings.data_dir
    running = holders(settings.db_path.resolve()) if data.exists() else []
    if running:
        raise BackupError(
            f"a Shoal server (pid {', '.join(map(str, running))}) is using {data}; stop it first"
        )
    if data.exists() and any(not p.name.startswith(".") for p in data.iterdir()) and not force:
        raise BackupError(f"{data} is not empty; pass --force to replace what it holds")
    data.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".restore.", dir=data))
    try:
        manifest = _extract(source, stage)
        problem = _check(stage / "shoal.db")
        if problem:
            raise BackupError(f"the backup's database is damaged ({problem})")
        packages = _unpack_all(stage / "code")
        has_layers = (stage / LAYER_PACKAGES).is_dir()  # not in a backup from before layers
        layer_packages = _unpack_all(stage / LAYER_PACKAGES) if has_layers else []
        _swap_in(stage, data)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return Summary(
        len(packages), bool(manifest.get("file_systems")), source.stat().st_size,
        len(layer_packages),
    )  # fmt: skip


def _unpack_all(directory: Path) -> list[str]:
    """Unpack every package in ``directory`` (made if missing): each must be whole."""
    code = CodeStore(directory)
    packages = [p.name[: -len(".zip")] for p in directory.glob("*.zip")]
    for hexdigest in packages:
        code.unpack(hexdigest)
    return packages


def _extract(source: Path, stage: Path) -> dict[str, object]:
    try:
        tar = tarfile.open(source, "r:*")
    except (OSError, tarfile.TarError) as e:
        raise BackupError(f"{source} is not a Shoal backup ({e})") from None
    with tar:
        try:
            member = tar.extractfile(MANIFEST)
            manifest = json.loads(member.read() if member else b"")
        except (KeyError, AttributeError, ValueError):
            raise BackupError(f"{source} is not a Shoal backup (no {MANIFEST})") from None
        if manifest.get("format") != FORMAT:
            raise BackupError(f"{source} has backup format {manifest.get('format')!r}")
        tar.extractall(stage, numeric_owner=True, filter=_keep_modes)
    (stage / MANIFEST).unlink()
    (stage / "code").mkdir(exist_ok=True)
    return dict(manifest)


def _keep_modes(info: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """tarfile's "tar" filter (no absolute names, nothing lands outside ``dest``, hard links
    stay inside), with the modes as saved and symlinks pointing where they pointed: a user's
    tree may hold a link to ``/etc/x``. The filter resolves each later member's path through
    the links already extracted, so nothing is ever written through one."""
    if info.issym():
        checked = tarfile.tar_filter(info.replace(linkname=".", deep=False), dest)
        return checked.replace(linkname=info.linkname, mode=info.mode, deep=False)
    if info.islnk():  # the "tar" filter does not look at a hard link's target
        root = os.path.realpath(dest)
        target = os.path.realpath(os.path.join(root, info.linkname))
        if os.path.commonpath([target, root]) != root:
            raise BackupError(f"the backup's hard link {info.name} points outside the data")
    return tarfile.tar_filter(info, dest).replace(mode=info.mode, deep=False)


def _check(db: Path) -> str | None:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            result = str(conn.execute("PRAGMA quick_check").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as e:
        return str(e)
    return None if result == "ok" else result


def _swap_in(stage: Path, data: Path) -> None:
    for name in ("shoal.db-wal", "shoal.db-shm", "shoal.db"):
        (data / name).unlink(missing_ok=True)
    # What the backup does not hold (file-system trees with --no-file-systems; layers,
    # credentials and TLS files of a backup from before they were kept) stays as it is.
    # "layers" holds the packages and the merged /opt trees made from them: replaced whole.
    names = ["code", *(n for n in ("filesystems", "layers", *CLIENT_FILES)
                       if (stage / n).exists())]  # fmt: skip
    for name in names:
        if (data / name).is_dir() and not (data / name).is_symlink():
            shutil.rmtree(data / name)
        else:
            (data / name).unlink(missing_ok=True)
        os.rename(stage / name, data / name)
    os.rename(stage / "shoal.db", data / "shoal.db")
    _ensure_roots(data)


def _ensure_roots(data: Path) -> None:
    """Give every file system in the metadata its top directory (empty, root's, 0755, as a new
    file system has) when the backup held no tree for it."""
    conn = sqlite3.connect(f"file:{data / 'shoal.db'}?mode=ro", uri=True)
    try:
        ids = [
            row[0]
            for row in conn.execute("SELECT key FROM resources WHERE kind = ?", ("filesystem",))
        ]
    finally:
        conn.close()
    for fs_id in ids:
        root = data / "filesystems" / fs_id
        if not root.exists():
            root.mkdir(mode=0o755, parents=True)
