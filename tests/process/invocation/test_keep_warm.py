"""Keep-warm and shutdown policy against private servers: the reaper keeps provisioned
environments and reaps idle on-demand ones; SIGTERM lets a running async event finish and it
does not run again after the restart."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from invocation_helpers import environments, log_messages

from conftest import create_function, start_server, wait_for

SLEEPY = """
import json, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    print("RAN " + json.dumps({"n": event.get("n")}))
    return event.get("n")
"""


def ran(endpoint: str, function: str) -> list[int]:
    return [
        json.loads(m[len("RAN ") :])["n"]
        for m in log_messages(endpoint, function)
        if m.startswith("RAN ")
    ]


def test_idle_on_demand_reaped_provisioned_kept(tmp_path: Path) -> None:
    srv = start_server(tmp_path, "--idle-timeout", "2")
    try:
        client = srv.client("lambda")
        name = create_function(client, code=SLEEPY)
        version = client.publish_version(FunctionName=name)["Version"]
        client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1
        )
        client.invoke(FunctionName=name, Payload=b"{}")  # an on-demand $LATEST environment
        kinds = {(e["version"], e["init_type"]) for e in environments(srv.endpoint, name)}
        assert ("$LATEST", "on-demand") in kinds
        wait_for(
            lambda: (
                [(e["version"], e["init_type"]) for e in environments(srv.endpoint, name)]
                == [(version, "provisioned-concurrency")]
            )
        )
        (env,) = environments(srv.endpoint, name)
        assert env["state"] == "idle" and env["idle_s"] >= 2.0  # idle, yet kept
    finally:
        srv.stop()


def test_sigterm_drains_a_running_event_which_is_not_run_again(tmp_path: Path) -> None:
    srv = start_server(tmp_path, "--async-retry-base-delay", "0.05")
    try:
        client = srv.client("lambda")
        name = create_function(client, code=SLEEPY, Timeout=30)
        client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1, "sleep": 1.0}')
        wait_for(lambda: [e for e in environments(srv.endpoint, name) if e["state"] == "busy"])
        # One slot: after the restart a replayed event would run before any new one.
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
        assert srv.stop(signal.SIGTERM) == 0
        srv = start_server(tmp_path, "--async-retry-base-delay", "0.05")
        assert ran(srv.endpoint, name) == [1]  # it finished during the drain
        client = srv.client("lambda")
        client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 2}')
        wait_for(lambda: 2 in ran(srv.endpoint, name))
        assert ran(srv.endpoint, name) == [1, 2]
    finally:
        srv.stop()
