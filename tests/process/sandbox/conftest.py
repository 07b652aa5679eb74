from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def code_root(tmp_path: Path) -> Path:
    """A directory the sandbox user can traverse (pytest's tmp dirs are 0700)."""
    tmp_path.chmod(0o755)
    return tmp_path
