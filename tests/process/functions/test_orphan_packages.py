"""Code packages that no function version references are collected at start, with a log line;
a package a version references (even one another function shares) is never touched. Layer
packages that no layer version and no function version references, and merged /opt trees no
function version uses, likewise."""

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


def _layer_hex(lam: Any, arn: str) -> str:
    sha = lam.get_layer_version_by_arn(Arn=arn)["Content"]["CodeSha256"]
    return base64.b64decode(sha).hex()


@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <_io.FileIO:pytest.PytestUnraisableExceptionWarning"
)
def test_orphan_layer_packages_and_opt_trees_are_collected_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    packages, opt = data / "layers" / "packages", data / "layers" / "opt"
    srv = start_server(data)
    try:
        lam: Any = srv.client("lambda")

        def publish(name: str, words: str) -> str:
            files = {"python/words.py": f"WORDS = {words!r}\n"}
            out = lam.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(files)})
            return str(out["LayerVersionArn"])

        used, unused, dropped = publish("used", "used"), publish("unused", "x"), publish("d", "d")
        hexes = {arn: _layer_hex(lam, arn) for arn in (used, unused, dropped)}
        reader = "import words\ndef handler(e, c):\n    return words.WORDS\n"
        kept = create_function(lam, code=reader, Layers=[dropped])
        # Its first list's merged tree stays behind when it moves to another list.
        lam.update_function_configuration(FunctionName=kept, Layers=[used])
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=kept, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
        )
        assert lam.invoke(FunctionName=kept)["Payload"].read() == b'"used"'
        # A function keeps a deleted layer version; deleting that function later left its
        # package with no one to use it.
        gone = create_function(lam, code=reader, Layers=[dropped])
        lam.delete_layer_version(LayerName="d", VersionNumber=1)
        assert lam.invoke(FunctionName=gone)["Payload"].read() == b'"d"'
        lam.delete_function(FunctionName=gone)
    finally:
        srv.stop()
    assert (packages / f"{hexes[dropped]}.zip").is_file()
    # What an interrupted publish leaves: a package no layer version names.
    stray = "cd" * 32
    shutil.copy(packages / f"{hexes[unused]}.zip", packages / f"{stray}.zip")
    (packages / stray).mkdir()
    assert len(list(opt.iterdir())) == 2  # [dropped], [used]

    again = start_server(data, "--log-level", "info")
    try:
        lam = again.client("lambda")
        assert lam.invoke(FunctionName=kept)["Payload"].read() == b'"used"'
        assert lam.get_layer_version_by_arn(Arn=unused)["Version"] == 1
    finally:
        again.stop()
    remaining = {p.name for p in packages.iterdir()}
    assert remaining == {f"{hexes[used]}.zip", hexes[used], f"{hexes[unused]}.zip", hexes[unused]}
    assert len(list(opt.iterdir())) == 1
    (line,) = [x for x in again.output if "layer package(s) that no layer" in x]
    assert "removed 2 layer package(s)" in line and stray in line and hexes[dropped] in line
    assert "and 1 merged /opt tree(s)" in line
