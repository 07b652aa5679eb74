"""The ``/opt`` of a function: its layers merged into one directory, made once per layer list.

Lambda extracts a function's layers into ``/opt`` in order, each over the ones before it. Shoal
does that once per distinct list of layer packages, on the host, into
``<data>/layers/opt/<key>/`` (``key`` a digest of the packages' SHA-256s, in order), and the
sandbox bind-mounts that directory read-only at ``/opt``: a cold start pays one bind mount, never
an extraction or an overlay. Functions with the same layers share the directory.

Files are hard links to the layers' unpacked trees (root-owned, 0644/0755, never written), so a
merge costs a link per file and no data; a copy is made only where the trees are on different
file systems. A later layer's entry replaces an earlier one of the same path: a file or link
replaces whatever was there, a directory merges into a directory and replaces anything else.
Nothing here follows a symbolic link: sources are walked without following them, and every
destination path is made of directories this module created, because a conflicting entry is
removed before anything is placed under its name. Symlinks are copied as links; each was
checked to stay inside its own layer when the layer was unpacked.

The tree is built in a temporary sibling and renamed into place, so a half-merged ``/opt`` is
never visible, and two concurrent builds of the same list both succeed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path

from shoal.functions.code import built_tree


def key(hexes: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(hexes).encode()).hexdigest()[:32]


def _clear(path: str, keep_dir: bool) -> None:
    """Remove what is at ``path`` (never following a link), unless it is a directory we keep."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if not keep_dir:
            shutil.rmtree(path)
    else:
        os.unlink(path)


def _place_file(src: str, dst: str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(src, dst, follow_symlinks=False)


def merge_into(src: Path, dst: Path) -> None:
    """Lay the tree ``src`` over the tree ``dst`` (see the module docstring)."""
    for dirpath, dirnames, filenames in os.walk(src):  # never descends into a linked dir
        rel = os.path.relpath(dirpath, src)
        out = str(dst) if rel == "." else os.path.join(dst, rel)
        for name in (*dirnames, *filenames):
            source = os.path.join(dirpath, name)
            target = os.path.join(out, name)
            mode = os.lstat(source).st_mode
            _clear(target, keep_dir=stat.S_ISDIR(mode))
            if stat.S_ISLNK(mode):
                os.symlink(os.readlink(source), target)
            elif stat.S_ISDIR(mode):
                os.makedirs(target, exist_ok=True)
                os.chmod(target, 0o755)  # not the server's umask 077: the function reads it
            else:
                _place_file(source, target)


class OptDirs:
    """Merged layer directories under one root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)  # root's alone; environments get their tree by a bind mount
        for leftover in root.glob(".*"):  # an interrupted build
            shutil.rmtree(leftover, ignore_errors=True)

    def path(self, hexes: Sequence[str]) -> Path:
        return self.root / key(hexes)

    def ensure(self, hexes: Sequence[str], trees: Sequence[Path]) -> Path:
        """The merged directory of ``trees`` (the unpacked layers, in order), made if missing."""
        target = self.path(hexes)
        if target.is_dir():
            return target
        with built_tree(target) as tmp:
            for tree in trees:
                merge_into(tree, tmp)
        return target

    def collect(self, keep: set[str]) -> list[str]:
        """Remove every merged tree whose key is not in ``keep``; return their keys. Only for
        a start, when no environment has one mounted and no build is in flight."""
        gone = sorted(p.name for p in self.root.iterdir()
                      if not p.name.startswith(".") and p.name not in keep)  # fmt: skip
        for name in gone:
            _clear(str(self.root / name), keep_dir=False)
        return gone


def tree_size(root: Path) -> int:
    """Bytes of the regular files under ``root`` (what Lambda's unzipped quota counts)."""
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total
