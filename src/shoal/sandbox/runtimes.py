"""Discover the Python interpreters on the host: runtime name ("python3.12") -> real binary.

Searched in order, first match wins per version: /usr/bin, /usr/local/bin, each pyenv
version's bin (newest patch release first), then $PATH. Symlinks are resolved to the real
binary; pyenv shims (shell scripts) are skipped because they are not interpreters.
"""

from __future__ import annotations

import glob
import os
import re
import sys
from collections.abc import Iterable, Sequence

NAME = re.compile(r"^python(3\.\d+)$")
SUPPORTED = ((3, 8), (3, 13))  # the runtime package works on these (inclusive)
ELF_MAGIC = b"\x7fELF"


def _version_key(path: str) -> tuple[int, ...]:
    m = re.search(r"/versions/(\d+)\.(\d+)\.(\d+)", path)
    return tuple(int(x) for x in m.groups()) if m else (0,)


def search_dirs(path_env: str | None = None, pyenv_root: str | None = None) -> list[str]:
    root = pyenv_root or os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    pyenv = sorted(
        glob.glob(os.path.join(root, "versions", "*", "bin")), key=_version_key, reverse=True
    )
    path = (path_env if path_env is not None else os.environ.get("PATH", "")).split(os.pathsep)
    dirs: list[str] = []
    for d in ["/usr/bin", "/usr/local/bin", *pyenv, *path]:
        if d and d not in dirs:
            dirs.append(d)
    return dirs


def is_interpreter(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == ELF_MAGIC and os.access(path, os.X_OK)
    except OSError:
        return False


def supported(version: str) -> bool:
    major, minor = (int(x) for x in version.split("."))
    return SUPPORTED[0] <= (major, minor) <= SUPPORTED[1]


def discover(dirs: Sequence[str] | None = None) -> dict[str, str]:
    """Runtime name -> resolved interpreter path, for every supported version found."""
    found: dict[str, str] = {}
    for d in dirs if dirs is not None else search_dirs():
        for name in _names(d):
            m = NAME.match(name)
            if not m or not supported(m.group(1)):
                continue
            runtime = "python" + m.group(1)
            real = os.path.realpath(os.path.join(d, name))
            if runtime not in found and is_interpreter(real):
                found[runtime] = real
    return dict(sorted(found.items(), key=lambda kv: tuple(int(x) for x in kv[0][6:].split("."))))


def _names(directory: str) -> Iterable[str]:
    try:
        return sorted(os.listdir(directory))
    except OSError:
        return ()


def sdk_dir() -> str | None:
    """The AWS SDK the Python runtimes bundle (``./run setup`` installs it into the virtual
    environment's ``shoal-sdk``; ``$SHOAL_SDK_DIR`` names another), or None when absent."""
    path = os.environ.get("SHOAL_SDK_DIR") or os.path.join(sys.prefix, "shoal-sdk")
    return path if os.path.isdir(os.path.join(path, "boto3")) else None
