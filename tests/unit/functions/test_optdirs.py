"""Merging layers into one /opt: later layers over earlier ones, and no merge step ever
follows a link an earlier layer planted."""

from __future__ import annotations

import os
from pathlib import Path

from shoal.functions.optdirs import OptDirs, key, tree_size


def _tree(root: Path, files: dict[str, str], links: dict[str, str] | None = None) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for rel, target in (links or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / rel)
    return root


def test_later_layers_win_and_earlier_files_stay(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", {"python/m.py": "a", "python/only_a.py": "a", "bin/x": "a"})
    b = _tree(tmp_path / "b", {"python/m.py": "b", "bin": "a file now"})
    opt = OptDirs(tmp_path / "opt")
    merged = opt.ensure(["ha", "hb"], [a, b])
    assert merged == tmp_path / "opt" / key(["ha", "hb"])
    assert (merged / "python/m.py").read_text() == "b"
    assert (merged / "python/only_a.py").read_text() == "a"
    assert (merged / "bin").read_text() == "a file now"  # a file replaces a directory
    # Files are links to the layers' trees, not copies; the layers themselves are untouched.
    assert (merged / "python/only_a.py").stat().st_ino == (a / "python/only_a.py").stat().st_ino
    assert (a / "python/m.py").read_text() == "a" and (a / "bin/x").read_text() == "a"
    # Made once: asking again returns the same tree, and the order is part of the key.
    assert opt.ensure(["ha", "hb"], [b, a]) == merged
    reversed_ = opt.ensure(["hb", "ha"], [b, a])
    assert (reversed_ / "python/m.py").read_text() == "a"
    assert tree_size(merged) == len("b") + len("a") + len("a file now")


def test_a_link_from_an_earlier_layer_is_replaced_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    # Layer a makes python a link to a directory; layer b writes files "under" python.
    a = _tree(tmp_path / "a", {"real/keep.py": "a"}, links={"python": "real", "up": ".."})
    b = _tree(tmp_path / "b", {"python/evil.py": "b", "up/escape.py": "b"})
    merged = OptDirs(tmp_path / "opt").ensure(["a", "b"], [a, b])
    assert not (merged / "python").is_symlink() and (merged / "python/evil.py").is_file()
    assert not (merged / "up").is_symlink() and (merged / "up/escape.py").is_file()
    assert sorted(os.listdir(merged / "real")) == ["keep.py"]
    assert sorted(os.listdir(a / "real")) == ["keep.py"]
    assert not (tmp_path / "escape.py").exists() and os.listdir(outside) == []
