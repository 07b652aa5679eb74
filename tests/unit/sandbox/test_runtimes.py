from __future__ import annotations

import os
from pathlib import Path

from shoal.sandbox import runtimes


def _binary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x7fELF fake")
    path.chmod(0o755)
    return path


def test_discovers_versions_resolving_symlinks_and_skipping_shims(tmp_path: Path) -> None:
    real = _binary(tmp_path / "real" / "python3.12")
    usr = tmp_path / "usr"
    usr.mkdir()
    os.symlink(real, usr / "python3.12")
    _binary(tmp_path / "pyenv" / "python3.9")
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "python3.10").write_text("#!/bin/sh\nexec pyenv\n")
    (shims / "python3.10").chmod(0o755)
    _binary(tmp_path / "old" / "python3.6")
    _binary(tmp_path / "other" / "python3.12")
    found = runtimes.discover(
        [
            str(usr),
            str(tmp_path / "pyenv"),
            str(shims),
            str(tmp_path / "old"),
            str(tmp_path / "other"),
            "/nonexistent",
        ]
    )
    assert found == {"python3.9": str(tmp_path / "pyenv" / "python3.9"), "python3.12": str(real)}


def test_search_order_prefers_system_then_newest_pyenv(tmp_path: Path) -> None:
    for v in ("3.12.1", "3.12.10", "3.8.18"):
        (tmp_path / "versions" / v / "bin").mkdir(parents=True)
    dirs = runtimes.search_dirs(path_env="/x/bin:/usr/bin", pyenv_root=str(tmp_path))
    assert dirs[:2] == ["/usr/bin", "/usr/local/bin"]
    assert dirs[2:5] == [
        str(tmp_path / "versions" / v / "bin") for v in ("3.12.10", "3.12.1", "3.8.18")
    ]
    assert dirs[5:] == ["/x/bin"]


def test_host_has_the_venv_python() -> None:
    assert "python3.11" in runtimes.discover()
