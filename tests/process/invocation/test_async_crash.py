"""Asynchronous retries across a SIGKILL of the server: every event runs at most
1 + MaximumRetryAttempts times, plus at most one re-run of an attempt the crash cut off, and the
destination record's ``approximateInvokeCount`` is the number of times it really ran.

The failing function appends a line per execution to a file on a file system, read on the host
(``<data dir>/filesystems/<fs id>/runs/log``): the count survives the kill, which buffered
function logs need not.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from invocation_helpers import log_messages

from conftest import ShoalServer, create_function, start_server, wait_for

# Appends "n" per execution, then fails. An event with "hold" sleeps on its first execution
# only, so a kill can cut that execution off.
FAIL_AND_COUNT = """
import os, time

def handler(event, context):
    path = "/mnt/fs/log"
    first = not os.path.exists(path) or str(event["n"]) not in open(path).read().split()
    with open(path, "a") as f:
        f.write(f"{event['n']}\\n")
        f.flush()
        os.fsync(f.fileno())
    if event.get("hold") and first:
        time.sleep(event["hold"])
    raise RuntimeError("boom")
"""

RECORDER = """
import json

def handler(event, context):
    print("RECORD " + json.dumps(event))
"""


def _setup(srv: ShoalServer) -> tuple[str, Path]:
    """A failing function with 2 retries and an OnFailure destination; its runs file."""
    lam, efs = srv.client("lambda"), srv.client("efs")
    fs_id = efs.create_file_system(CreationToken="crash-runs")["FileSystemId"]
    ap = efs.create_access_point(
        FileSystemId=fs_id,
        PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory={
            "Path": "/runs",
            "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "755"},
        },
    )
    failing = create_function(
        lam,
        code=FAIL_AND_COUNT,
        Timeout=120,
        FileSystemConfigs=[{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/fs"}],
    )
    recorder = create_function(lam, code=RECORDER)
    arn = lam.get_function(FunctionName=recorder)["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName=failing,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    return failing, srv.data_dir / "filesystems" / fs_id / "runs" / "log"


def _runs(path: Path) -> Counter[int]:
    return Counter(int(line) for line in path.read_text().split()) if path.exists() else Counter()


def _records(srv: ShoalServer, recorder: str) -> list[dict[str, Any]]:
    prefix = "RECORD "
    return [json.loads(m[len(prefix) :]) for m in log_messages(srv.endpoint, recorder)
            if m.startswith(prefix)]  # fmt: skip


def _reports(srv: ShoalServer, function: str) -> int:
    return sum(m.startswith("REPORT ") for m in log_messages(srv.endpoint, function))


def _recorder_of(srv: ShoalServer, failing: str) -> str:
    config = srv.client("lambda").get_function_event_invoke_config(FunctionName=failing)
    return str(config["DestinationConfig"]["OnFailure"]["Destination"].rsplit(":", 1)[-1])


def _send(srv: ShoalServer, failing: str, events: list[dict[str, Any]]) -> None:
    lam = srv.client("lambda")
    for event in events:
        r = lam.invoke(FunctionName=failing, InvocationType="Event", Payload=json.dumps(event))
        assert r["StatusCode"] == 202


def _counts_after_restart(
    tmp_path: Path, delay: str, failing: str, runs: Path, events: int
) -> tuple[Counter[int], dict[int, int]]:
    """Restart on the same data, wait for every record; (runs per event, record counts)."""
    srv = start_server(tmp_path, "--async-retry-base-delay", delay)
    try:
        recorder = _recorder_of(srv, failing)
        found = wait_for(lambda: (r := _records(srv, recorder)) and len(r) >= events and r, 90)
        counts = {rec["requestPayload"]["n"]: rec["requestContext"]["approximateInvokeCount"]
                  for rec in found}  # fmt: skip
        assert len(found) == events, found  # one record per event
        assert all(r["requestContext"]["condition"] == "RetriesExhausted" for r in found)
        return _runs(runs), counts
    finally:
        srv.stop()


def test_sigkill_while_events_wait_for_retry_runs_no_extra_attempt(tmp_path: Path) -> None:
    """Killed between an attempt's failure and its retry, an event is not run again as if cut
    off: 3 executions with 2 retries, and the record says 3."""
    srv = start_server(tmp_path, "--async-retry-base-delay", "2")
    try:
        failing, runs = _setup(srv)
        _send(srv, failing, [{"n": n} for n in range(3)])
        # Every first attempt has ended: its REPORT is written once the run is over. The queue
        # stores the outcome as the invoker returns (one small SQLite write); the synchronous
        # call after it gives that write a whole request's round trip to land.
        wait_for(lambda: _reports(srv, failing) >= 3, 60, 0.02)
        srv.client("lambda").get_function(FunctionName=failing)
    finally:
        srv.stop(signal.SIGKILL)
    # No retry had begun (they wait 2 s): the kill fell while the three events waited.
    assert _runs(runs) == Counter({0: 1, 1: 1, 2: 1})
    ran, counts = _counts_after_restart(tmp_path, "0.05", failing, runs, 3)
    assert ran == Counter({0: 3, 1: 3, 2: 3})
    assert counts == {0: 3, 1: 3, 2: 3}


def test_sigkill_mid_execution_reruns_it_once_and_counts_it(tmp_path: Path) -> None:
    """An attempt cut off by the kill runs once more after the restart; the record counts
    every execution, the cut-off one included (1 + 2 retries + 1 re-run)."""
    srv = start_server(tmp_path, "--async-retry-base-delay", "0.05")
    try:
        failing, runs = _setup(srv)
        _send(srv, failing, [{"n": 7, "hold": 60}])
        wait_for(lambda: _runs(runs)[7] >= 1, 60, 0.02)
    finally:
        srv.stop(signal.SIGKILL)
    assert _runs(runs) == Counter({7: 1})
    ran, counts = _counts_after_restart(tmp_path, "0.05", failing, runs, 1)
    assert ran[7] <= 1 + 2 + 1
    assert counts == {7: ran[7]}
    assert ran == Counter({7: 4})
