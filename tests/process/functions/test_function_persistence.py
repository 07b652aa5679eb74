"""Functions, versions, aliases and tags survive a restart of the server."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from conftest import create_function, make_zip, start_server


# conftest's ShoalServer.stop() leaves the server's stdout pipe open (its pump thread owns it);
# the GC then warns. Reported to the fixture's owner; not a leak of the code under test.
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <_io.FileIO:pytest.PytestUnraisableExceptionWarning"
)
def test_everything_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_server(data_dir)
    try:
        lam = first.client("lambda")
        name = create_function(
            lam,
            code="def handler(e, c):\n    return 1\n",
            Environment={"Variables": {"KEY": "value"}},
            Tags={"t": "1"},
        )
        lam.publish_version(FunctionName=name, Description="v1")
        lam.create_alias(
            FunctionName=name,
            Name="live",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {}},
        )
        lam.update_function_configuration(FunctionName=name, MemorySize=512)
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
        )
        before = lam.get_function(FunctionName=name)
        versions_before = lam.list_versions_by_function(FunctionName=name)["Versions"]
        alias_before = lam.get_alias(FunctionName=name, Name="live")
    finally:
        # uvicorn re-raises the signal after its graceful shutdown.
        assert first.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    second = start_server(data_dir)
    try:
        lam = second.client("lambda")
        after = lam.get_function(FunctionName=name)
        assert after["Configuration"] == before["Configuration"]
        assert after["Configuration"]["MemorySize"] == 512
        assert after["Tags"] == {"t": "1"}
        assert lam.list_versions_by_function(FunctionName=name)["Versions"] == versions_before
        alias_after = lam.get_alias(FunctionName=name, Name="live")
        assert alias_after["RevisionId"] == alias_before["RevisionId"]
        assert alias_after["FunctionVersion"] == "1"
        # The package is still served, and version numbers continue where they were.
        lam.update_function_code(
            FunctionName=name, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 2\n"})
        )
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
        )
        assert lam.publish_version(FunctionName=name)["Version"] == "2"
    finally:
        assert second.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
