"""A full disk under the data directory: invocations go on, no stored log event is lost, and
the events the disk refused are stored once there is space again.

The data directory is a small tmpfs filled to the last byte (as tests/process/store/
test_full_disk.py does), so SQLite's writes of the log database fail as on a real full disk.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from conftest import create_function, fill_disk, shoal_urlopen, start_server, wait_for

CODE = "def handler(e, c):\n    print('line', e['n'])\n    return e['n']\n"


def messages(endpoint: str, name: str) -> list[str]:
    with shoal_urlopen(f"{endpoint}/shoal/logs/{name}") as r:
        return [e["message"] for e in json.load(r)["events"]]


@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <_io.FileIO:pytest.PytestUnraisableExceptionWarning"
)
def test_a_full_disk_loses_no_log_event_and_fails_no_invocation(small_disk: Path) -> None:
    data = small_disk / "data"
    srv = start_server(data)
    try:
        lam: Any = srv.client("lambda")
        name = create_function(lam, "logs-full", code=CODE)
        assert lam.invoke(FunctionName=name, Payload=b'{"n": 1}')["StatusCode"] == 200
        assert "line 1" in messages(srv.endpoint, name)
        filler = fill_disk(small_disk)
        for n in (2, 3):  # the log batches are refused; the invocations are not
            got = lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}))
            assert got["StatusCode"] == 200 and "FunctionError" not in got
            assert json.loads(got["Payload"].read()) == n
        assert "line 1" in messages(srv.endpoint, name)  # earlier events are all there
        assert "line 2" not in messages(srv.endpoint, name)
        assert any("disk is full" in line for line in srv.output), srv.output
        filler.unlink()
        assert lam.invoke(FunctionName=name, Payload=b'{"n": 4}')["StatusCode"] == 200
        wait_for(lambda: {"line 2", "line 3", "line 4"} <= set(messages(srv.endpoint, name)))
        lines = [m for m in messages(srv.endpoint, name) if m.startswith("line")]
        assert lines == ["line 1", "line 2", "line 3", "line 4"]
    finally:
        assert srv.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
