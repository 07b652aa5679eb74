"""Code packages that no function version references are collected at start, with a log line;
a package a version references (even one another function shares) is never touched."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import create_function, make_zip, start_server

KEPT = "def handler(e, c):\n    return 'kept'\n"


@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <_io.FileIO:pytest.PytestUnraisableExceptionWarning"
)
def test_orphan_packages_are_collected_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code = data / "code"
    srv = start_server(data)
    try:
        lam: Any = srv.client("lambda")
        kept = create_function(lam, code=KEPT)
        lam.publish_version(FunctionName=kept)
        # Version 1 keeps the first package after $LATEST moves on to a second one.
        lam.update_function_code(
            FunctionName=kept, ZipFile=make_zip({"app.py": KEPT.replace("kept", "v2")})
        )
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=kept, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
        )
        shared = create_function(lam, code=KEPT)  # the same zip as version 1: one package
        gone = create_function(lam, code="def handler(e, c):\n    return 'gone'\n")
        sha = lam.get_function(FunctionName=gone)["Configuration"]["CodeSha256"]
        gone_hex = base64.b64decode(sha).hex()
        lam.delete_function(FunctionName=gone)
    finally:
        srv.stop()
    assert (code / f"{gone_hex}.zip").is_file()
    # What an interrupted create leaves: a package whose metadata was never written.
    stray = "ab" * 32
    some_zip = next(code.glob("*.zip"))
    shutil.copy(some_zip, code / f"{stray}.zip")
    (code / stray).mkdir()
    (code / stray / "app.py").write_text("")
    zips_before = {p.name for p in code.glob("*.zip")}
    assert len(zips_before) == 4  # version 1 (shared), $LATEST v2, the deleted one, the stray

    again = start_server(data, "--log-level", "info")
    try:
        lam = again.client("lambda")
        assert lam.invoke(FunctionName=kept, Qualifier="1")["Payload"].read() == b'"kept"'
        assert lam.invoke(FunctionName=kept)["Payload"].read() == b'"v2"'
        assert lam.invoke(FunctionName=shared)["Payload"].read() == b'"kept"'
    finally:
        again.stop()
    remaining = {p.name for p in code.iterdir()}
    assert f"{stray}.zip" not in remaining and stray not in remaining
    assert len([n for n in remaining if n.endswith(".zip")]) == 2
    assert len([n for n in remaining if not n.endswith(".zip")]) == 2
    (line,) = [x for x in again.output if "code package(s) that no function version" in x]
    assert "removed 2 code package(s)" in line and stray in line and gone_hex in line
