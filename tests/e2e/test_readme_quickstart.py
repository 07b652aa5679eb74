"""The README's Quickstart as a user pastes it, with AWS CLI v2 (Debian's awscli package), the
CLI it is written for, against a Shoal of its own."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT, ShoalServer, start_server

V2 = Path("/usr/bin/aws")


def quickstart() -> str:
    """The Quickstart's first shell block, verbatim."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quickstart") :]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[ShoalServer]:
    srv = start_server(tmp_path / "data", execution_role=False)  # the quickstart makes it
    yield srv
    srv.stop()


def test_quickstart_with_aws_cli_v2(private_server: ShoalServer, tmp_path: Path) -> None:
    # ./run installs Debian's awscli (v2): its absence is a failure, not a reason to skip.
    assert V2.exists(), "AWS CLI v2 is not installed at /usr/bin/aws (./run setup installs awscli)"
    version = subprocess.run([str(V2), "--version"], capture_output=True, text=True).stdout
    assert version.startswith("aws-cli/2."), version
    block = quickstart()
    assert "/usr/bin/aws" in block and "--cli-binary-format raw-in-base64-out" in block
    commands = block.replace("http://127.0.0.1:9000", private_server.endpoint)
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", commands], capture_output=True, text=True,
        cwd=work, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "hello Shoal" in proc.stdout  # the tail of the log, base64-decoded
    assert re.search(r"^REPORT RequestId: ", proc.stdout, re.M)
    assert json.loads((work / "out.json").read_text())["greeting"] == "Hello, Shoal!"
