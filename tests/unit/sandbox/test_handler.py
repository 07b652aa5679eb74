from __future__ import annotations

import sys
from pathlib import Path

import pytest

from shoal.runtime import errors
from shoal.runtime.errors import FaultException
from shoal.runtime.handler import load_handler, module_import_name, parse_handler


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        ("app.handler", ("app", "handler")),
        ("pkg.mod.fn", ("pkg.mod", "fn")),
        ("dir/module.fn", ("dir/module", "fn")),
    ],
)
def test_parse_handler(handler: str, expected: tuple[str, str]) -> None:
    assert parse_handler(handler) == expected


@pytest.mark.parametrize("handler", ["nodot", ".fn", "mod.", "/abs/mod.fn", "a/../b.fn"])
def test_malformed_handler_names(handler: str) -> None:
    with pytest.raises(FaultException) as info:
        parse_handler(handler)
    assert info.value.error_type == errors.MALFORMED_HANDLER_NAME


def test_malformed_message_matches_awslambdaric() -> None:
    with pytest.raises(FaultException) as info:
        parse_handler("nodot")
    assert info.value.message == (
        "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)"
    )


def test_module_import_name() -> None:
    assert module_import_name("dir/sub/module") == "dir.sub.module"


@pytest.fixture
def code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("shoaltest_")]:
        del sys.modules[name]


def test_load_handler_imports_function(code: Path) -> None:
    (code / "shoaltest_ok.py").write_text("def handler(e, c):\n    return 42\n")
    assert load_handler("shoaltest_ok.handler")(None, None) == 42


def test_load_handler_from_directory_path(code: Path) -> None:
    (code / "shoaltest_dir").mkdir()
    (code / "shoaltest_dir" / "mod.py").write_text("def fn(e, c):\n    return 'dir'\n")
    assert load_handler("shoaltest_dir/mod.fn")(None, None) == "dir"


def test_missing_module_is_import_module_error(code: Path) -> None:
    with pytest.raises(FaultException) as info:
        load_handler("shoaltest_missing.handler")
    assert info.value.error_type == "Runtime.ImportModuleError"
    assert info.value.message == (
        "Unable to import module 'shoaltest_missing': No module named 'shoaltest_missing'"
    )


def test_missing_function_is_handler_not_found(code: Path) -> None:
    (code / "shoaltest_nofn.py").write_text("x = 1\n")
    with pytest.raises(FaultException) as info:
        load_handler("shoaltest_nofn.handler")
    assert info.value.error_type == "Runtime.HandlerNotFound"
    assert info.value.message == "Handler 'handler' missing on module 'shoaltest_nofn'"


def test_syntax_error_is_user_code_syntax_error(code: Path) -> None:
    (code / "shoaltest_syntax.py").write_text("def handler(:\n")
    with pytest.raises(FaultException) as info:
        load_handler("shoaltest_syntax.handler")
    assert info.value.error_type == "Runtime.UserCodeSyntaxError"
    assert info.value.message.startswith("Syntax error in module 'shoaltest_syntax'")
    assert "shoaltest_syntax.py" in info.value.trace[0]


def test_builtin_module_conflict() -> None:
    with pytest.raises(FaultException) as info:
        load_handler("sys.handler")
    assert info.value.error_type == "Runtime.BuiltInModuleConflict"
