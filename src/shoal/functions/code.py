"""Deployment packages: each zip stored once, by its SHA-256, and unpacked safely.

Layout under ``settings.code_dir`` (``<hex>`` is the zip's SHA-256 in hex):

- the directory itself is 0700: no host user but root reaches a package (see shoal.datadir);
- ``<hex>.zip``  the package as uploaded (GetFunction's Code.Location serves it), 0600;
- ``<hex>/``     the unpacked tree, bind-mounted read-only at ``/var/task`` by the sandbox.
  Directories are 0755 and files 0644 (0755 when the zip marks them executable), owned by
  root when Shoal runs as root: readable by every environment (as Lambda requires), writable
  by none.

A package is hostile until proven otherwise. :func:`inspect` reads the central directory and
refuses a corrupt zip, an entry that would land outside the tree (``..``, absolute paths), a
symlink pointing outside it, too many entries or a declared size over Lambda's unzipped limit;
it runs at upload so the caller gets the error. :func:`unpack` checks all of that again, then
extracts into a private temporary directory next to the target, *measuring* the bytes it
writes rather than trusting the headers, creating symlinks only after every regular file (so
no write can follow one) and verifying each resolves inside the tree; only then is the
directory renamed into place, so a half-extracted tree is never visible.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import posixpath
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Lambda's quota on a package's unzipped size, and Shoal's own cap on entries.
MAX_UNZIPPED = 262_144_000
MAX_ENTRIES = 100_000
MAX_LINK_TARGET = 4096
UNZIP_MESSAGE = "Could not unzip uploaded file. Please check your file, then try to upload again."
_CHUNK = 1 << 20
_HEX = re.compile(r"^[0-9a-f]{64}$")
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


class InvalidZip(Exception):
    """A package Shoal refuses; ``str()`` is the message Lambda would give."""


def refused(reason: str | None = None) -> InvalidZip:
    return InvalidZip(f"{UNZIP_MESSAGE} {reason}" if reason else UNZIP_MESSAGE)


def too_large() -> InvalidZip:
    return InvalidZip(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")


@dataclass(frozen=True)
class Package:
    """A stored zip: what a FunctionVersion records about its code."""

    sha256: str  # base64 of the digest, as Lambda reports CodeSha256
    hex: str
    size: int
    unzipped_size: int  # as declared by the headers; unpack() measures the real one


@dataclass
class _Plan:
    dirs: list[str] = field(default_factory=list)
    files: list[tuple[zipfile.ZipInfo, str, int]] = field(default_factory=list)  # info, path, mode
    links: list[tuple[str, str]] = field(default_factory=list)  # path, target
    declared: int = 0


def digest(data: bytes) -> tuple[str, str]:
    """(base64, hex) of the SHA-256 of ``data``."""
    h = hashlib.sha256(data)
    return base64.b64encode(h.digest()).decode(), h.hexdigest()


def _relative(name: str) -> str:
    """The entry's path relative to the tree, or refuse it; '' means the tree itself."""
    if "\x00" in name or name.startswith("/"):
        raise refused(f"Entry {name!r} has an absolute path.")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise refused(f"Entry {name!r} would be written outside the code directory.")
    return "/".join(parts)


def _plan(zf: zipfile.ZipFile) -> _Plan:
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise refused(f"The package has {len(infos)} entries; the limit is {MAX_ENTRIES}.")
    plan = _Plan()
    for info in infos:
        if info.flag_bits & 0x1:
            raise refused(f"Entry {info.filename!r} is encrypted.")
        if info.compress_type not in _METHODS:
            raise refused(f"Entry {info.filename!r} uses an unsupported compression method.")
        path = _relative(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            if not path or info.file_size > MAX_LINK_TARGET:
                raise refused(f"Entry {info.filename!r} is not a valid symbolic link.")
            target = zf.read(info).decode("utf-8", "surrogateescape")
            if "\x00" in target or target.startswith("/"):
                raise refused(f"Symbolic link {info.filename!r} points outside the package.")
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
            if resolved == ".." or resolved.startswith("../"):
                raise refused(f"Symbolic link {info.filename!r} points outside the package.")
            plan.links.append((path, target))
        elif info.is_dir():
            if path:
                plan.dirs.append(path)
        else:
            if not path:
                raise refused(f"Entry {info.filename!r} has no file name.")
            plan.files.append((info, path, 0o755 if mode & 0o111 else 0o644))
            plan.declared += info.file_size
    if plan.declared > MAX_UNZIPPED:
        raise too_large()
    _check_links(plan)
    return plan


def _check_links(plan: _Plan) -> None:
    """Refuse an entry placed under a symlink, and links whose chain leaves the tree."""
    links = dict(plan.links)
    if not links:
        return
    for path in [*plan.dirs, *(rel for _, rel, _ in plan.files), *links]:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in links:
                raise refused(f"Entry {path!r} is inside a symbolic link.")
    for path in links:
        if _resolve(path, links) is None:
            raise refused(f"Symbolic link {path!r} points outside the package.")


def _resolve(path: str, links: dict[str, str]) -> list[str] | None:
    """Follow ``path`` through the package's links as the kernel would; None if it leaves."""
    resolved: list[str] = []
    pending = path.split("/")
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return None
            resolved.pop()
            continue
        resolved.append(part)
        target = links.get("/".join(resolved))
        if target is not None:
            hops += 1
            if hops > 40 or target.startswith("/"):  # a loop only fails with ELOOP at run time
                return None if target.startswith("/") else resolved
            resolved.pop()
            pending = target.split("/") + pending
    return resolved


def inspect(data: bytes) -> Package:
    """Check a zip's structure without writing anything; raise :class:`InvalidZip` if unsafe."""
    b64, hexdigest = digest(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            plan = _plan(zf)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError):
        raise refused() from None
    return Package(b64, hexdigest, len(data), plan.declared)


def unpack(zip_path: Path, target: Path, limit: int = MAX_UNZIPPED) -> None:
    """Extract ``zip_path`` to ``target`` (which must not exist yet) atomically.

    Idempotent: if another unpack of the same package won the rename, this one's copy is
    dropped. Nothing is ever written outside a temporary sibling of ``target``.
    """
    if target.is_dir():
        return
    with built_tree(target) as tmp:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                _extract(zf, _plan(zf), tmp, limit)
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            ValueError,
            NotImplementedError,
            RuntimeError,
        ):
            raise refused() from None
        except OSError as e:  # a name clash such as a file "a" and a file "a/b"
            raise refused(f"({e.strerror})") from None


@contextmanager
def built_tree(target: Path) -> Iterator[Path]:
    """A temporary sibling of ``target`` to build a tree in, renamed into place (0755, read by
    the function's user) when the block succeeds: a half-built tree is never seen. If another
    build of the same tree won the rename, this one's copy is dropped."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _extract(zf: zipfile.ZipFile, plan: _Plan, root: Path, limit: int) -> None:
    as_root = os.geteuid() == 0
    for d in plan.dirs:
        (root / d).mkdir(mode=0o755, parents=True, exist_ok=True)
    written = 0
    # No symlink exists yet, and names hold no "..": every path here is inside root.
    for info, rel, mode in plan.files:
        dest = root / rel
        dest.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out, zf.open(info) as src:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise too_large()
                out.write(chunk)
            os.fchmod(out.fileno(), mode)
            if as_root:
                os.fchown(out.fileno(), 0, 0)
    real_root = os.path.realpath(root)
    for rel, link_target in plan.links:
        dest = root / rel
        parent = os.path.realpath(dest.parent)
        if not _inside(parent, real_root):
            raise refused(f"Symbolic link {rel!r} is inside a link that leaves the package.")
        Path(parent).mkdir(mode=0o755, parents=True, exist_ok=True)
        os.symlink(link_target, os.path.join(parent, dest.name))
    # Chains of links can leave the tree even when each one alone looks inside: check the end.
    for rel, _ in plan.links:
        if not _inside(os.path.realpath(root / rel), real_root):
            raise refused(f"Symbolic link {rel!r} points outside the package.")
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, 0o755)
                if as_root:
                    os.chown(p, 0, 0)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


class CodeStore:
    """The package store under one directory; see the module docstring for the layout."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        # Temporary files and trees (dot-names) are left only by a stop in mid-unpack; one
        # Shoal owns a data directory, so at start they are garbage.
        for leftover in root.glob(".*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    def zip_path(self, hexdigest: str) -> Path:
        return self.root / f"{hexdigest}.zip"

    def tree(self, hexdigest: str) -> Path:
        return self.root / hexdigest

    def save(self, data: bytes) -> Package:
        """Check a package and store its zip (once); the tree is made later by :meth:`unpack`."""
        package = inspect(data)
        path = self.zip_path(package.hex)
        if not path.exists():
            fd, tmp = tempfile.mkstemp(prefix=f".{package.hex}.", suffix=".zip", dir=self.root)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.chmod(tmp, 0o600)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return package

    def unpack(self, hexdigest: str) -> Path:
        target = self.tree(hexdigest)
        unpack(self.zip_path(hexdigest), target)
        return target

    def is_unpacked(self, hexdigest: str) -> bool:
        return self.tree(hexdigest).is_dir()

    def remove(self, hexdigest: str) -> None:
        """Drop a package no version uses any more."""
        shutil.rmtree(self.tree(hexdigest), ignore_errors=True)
        self.zip_path(hexdigest).unlink(missing_ok=True)

    def collect(self, keep: set[str]) -> list[str]:
        """Remove every package (zip and tree) whose hex is not in ``keep``; return their hexes.

        Only for a start, before any create can be in flight: a create saves its package before
        the metadata that names it, so an interrupted one leaves a package nobody references.
        """
        found = {
            p.name.removesuffix(".zip")
            for p in self.root.iterdir()
            if not p.name.startswith(".") and _HEX.match(p.name.removesuffix(".zip"))
        }
        orphans = sorted(found - keep)
        for hexdigest in orphans:
            self.remove(hexdigest)
        return orphans

    def download_app(self) -> Callable[..., Awaitable[None]]:
        """A tiny ASGI app serving ``GET <prefix><hex>.zip`` (GetFunction's Code.Location)."""
        store = self

        async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
            name = scope["path"].rsplit("/", 1)[-1]
            hexdigest = name[: -len(".zip")] if name.endswith(".zip") else ""
            path = store.zip_path(hexdigest)
            status, body, ctype = 404, b'{"message":"Not Found"}', b"application/json"
            if scope["method"] in ("GET", "HEAD") and _HEX.match(hexdigest) and path.is_file():
                status, ctype = 200, b"application/zip"
                body = path.read_bytes()
            headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send(
                {"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""}
            )

        return app
