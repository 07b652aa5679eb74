"""The shoal CLI in a shell pipeline whose reader goes away, as a user types it: no traceback,
nothing on stderr, and the exit of a Unix tool that was writing to a closed pipe (SIGPIPE:
status 141 in the shell)."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

import pytest

from conftest import ROOT, ShoalServer, create_function

CHATTY = """
def handler(event, context):
    for i in range(3000):
        print("line", i, "x" * 60)  # ~250 kB of log: far more than a pipe holds
"""


@pytest.fixture(scope="module")
def chatty(server: ShoalServer, lambda_client: Any) -> str:
    name: str = create_function(lambda_client, code=CHATTY)
    lambda_client.invoke(FunctionName=name, Payload=b"{}")
    return name


def pipeline(server: ShoalServer, command: str) -> tuple[str, str, list[int]]:
    """Run ``command`` in bash: the pipeline's stdout, its stderr, and its exit statuses."""
    env = {**os.environ, "SHOAL_ENDPOINT": server.endpoint,
           "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}  # fmt: skip
    proc = subprocess.run(
        ["bash", "-c", command + '\necho "STATUS ${PIPESTATUS[*]}"'],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
    )  # fmt: skip
    out, _, statuses = proc.stdout.rpartition("STATUS ")
    return out, proc.stderr, [int(s) for s in statuses.split()]


SIGPIPE_STATUS = 128 + signal.SIGPIPE


@pytest.mark.parametrize(
    "command",
    [
        "shoal function get {name} | true",  # the reader is gone before the first byte
        "shoal function get {name} | head -c1",
        "shoal logs {name} | head -1",  # gone in the middle of a long listing
        "shoal function list | head -1",
    ],
)
def test_a_closed_pipe_ends_the_cli_quietly(server: ShoalServer, chatty: str, command: str) -> None:
    out, err, statuses = pipeline(server, command.format(name=chatty))
    assert err == ""
    assert statuses[0] in (0, SIGPIPE_STATUS), statuses  # 0: all it wrote fitted in the pipe
    assert statuses[1:] == [0]
    if "head -1" in command:
        assert len(out.splitlines()) == 1


def test_the_long_listing_is_cut_by_sigpipe(server: ShoalServer, chatty: str) -> None:
    """The reader left long before the end: the CLI stopped as ``yes | head -1`` does."""
    _, err, statuses = pipeline(server, f"shoal logs {chatty} | head -1")
    assert (err, statuses) == ("", [SIGPIPE_STATUS, 0])
