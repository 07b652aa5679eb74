"""Asynchronous invocations against private servers: durability across SIGKILL, retries,
destinations, concurrency limits, event invoke configs, and settings that survive a restart.

The servers run with ``--async-retry-base-delay 0.05`` so that retries take milliseconds.
"""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from invocation_helpers import environments, error_of, log_messages, starts

from conftest import ShoalServer, create_function, signed_request, start_server, wait_for

FAST = ("--async-retry-base-delay", "0.05")

MARK = """
import json, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    print("RAN " + json.dumps({"n": event.get("n"), "start": time.time()}))
    return {"n": event.get("n")}
"""

FAIL = """
def handler(event, context):
    raise RuntimeError("boom " + str(event.get("n")))
"""

RECORDER = """
import json

def handler(event, context):
    print("RECORD " + json.dumps(event))
"""


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
    srv = start_server(tmp_path_factory.mktemp("shoal-async"), *FAST)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(fast_server: ShoalServer):  # type: ignore[no-untyped-def]
    return fast_server.client("lambda")


def records(endpoint: str, function: str) -> list[dict]:  # type: ignore[type-arg]
    return [
        json.loads(m[len("RECORD ") :])
        for m in log_messages(endpoint, function)
        if m.startswith("RECORD ")
    ]


def ran(endpoint: str, function: str) -> list[dict]:  # type: ignore[type-arg]
    return [
        json.loads(m[len("RAN ") :])
        for m in log_messages(endpoint, function)
        if m.startswith("RAN ")
    ]


def test_event_survives_sigkill(tmp_path: Path) -> None:
    """202 means stored: killed right after it, Shoal runs the event after the restart."""
    srv = start_server(tmp_path, *FAST)
    try:
        client = srv.client("lambda")
        name = create_function(client, code=MARK)
        # Reserved 0 holds the event in the queue, so it cannot have run before the kill.
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
        r = client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 42}')
        assert r["StatusCode"] == 202
        srv.stop(signal.SIGKILL)
        srv = start_server(tmp_path, *FAST)
        client = srv.client("lambda")
        # The reservation survived the crash too.
        assert (
            client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 0
        )
        assert ran(srv.endpoint, name) == []
        client.delete_function_concurrency(FunctionName=name)
        found = wait_for(lambda: ran(srv.endpoint, name))
        assert [e["n"] for e in found] == [42]
    finally:
        srv.stop()


def test_sigkill_right_after_202_runs_the_event_at_least_once(tmp_path: Path) -> None:
    srv = start_server(tmp_path, *FAST)
    try:
        client = srv.client("lambda")
        name = create_function(client, code=MARK)
        r = client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 7}')
        assert r["StatusCode"] == 202
        srv.stop(signal.SIGKILL)
        srv = start_server(tmp_path, *FAST)
        found = wait_for(lambda: ran(srv.endpoint, name))
        assert {e["n"] for e in found} == {7}
    finally:
        srv.stop()


@pytest.mark.parametrize("retries", [0, 1, None])
def test_retries_then_on_failure_destination(fast_server, client, retries) -> None:  # type: ignore[no-untyped-def]
    failing = create_function(client, code=FAIL)
    recorder = create_function(client, code=RECORDER)
    recorder_arn = client.get_function(FunctionName=recorder)["Configuration"]["FunctionArn"]
    params: dict = {"DestinationConfig": {"OnFailure": {"Destination": recorder_arn}}}  # type: ignore[type-arg]
    if retries is not None:
        params["MaximumRetryAttempts"] = retries
    client.put_function_event_invoke_config(FunctionName=failing, **params)
    assert (
        client.invoke(FunctionName=failing, InvocationType="Event", Payload=b'{"n": 5}')[
            "StatusCode"
        ]
        == 202
    )
    (record,) = wait_for(lambda: records(fast_server.endpoint, recorder))
    attempts = 1 + (2 if retries is None else retries)
    assert starts(fast_server.endpoint, failing) == attempts
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == attempts
    assert record["requestContext"]["functionArn"].endswith(f"function:{failing}:$LATEST")
    assert record["requestPayload"] == {"n": 5}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorMessage"] == "boom 5"
    assert record["responsePayload"]["errorType"] == "RuntimeError"


def test_on_success_destination(fast_server, client) -> None:  # type: ignore[no-untyped-def]
    fn = create_function(client, code=MARK)
    recorder = create_function(client, code=RECORDER)
    arn = client.get_function(FunctionName=recorder)["Configuration"]["FunctionArn"]
    client.put_function_event_invoke_config(
        FunctionName=fn, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    client.invoke(FunctionName=fn, InvocationType="Event", Payload=b'{"n": 1}')
    (record,) = wait_for(lambda: records(fast_server.endpoint, recorder))
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"n": 1}
    assert starts(fast_server.endpoint, fn) == 1


def test_events_wait_for_the_reserved_concurrency(fast_server, client) -> None:  # type: ignore[no-untyped-def]
    """Reserved 1: five events all run, one at a time; a throttled try is not an attempt."""
    fn = create_function(client, code=MARK, Timeout=30)
    client.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=1)
    for n in range(5):
        payload = json.dumps({"n": n, "sleep": 0.3}).encode()
        client.invoke(FunctionName=fn, InvocationType="Event", Payload=payload)
    found = wait_for(lambda: (r := ran(fast_server.endpoint, fn)) and len(r) == 5 and r)
    assert sorted(e["n"] for e in found) == list(range(5))
    assert starts(fast_server.endpoint, fn) == 5
    begins = sorted(e["start"] for e in found)
    # One environment only, so the runs were serial: starts are at least the sleep apart.
    assert len(environments(fast_server.endpoint, fn)) == 1
    assert all(b - a >= 0.29 for a, b in zip(begins, begins[1:], strict=False))


def test_alias_events_follow_the_alias_config(fast_server, client) -> None:  # type: ignore[no-untyped-def]
    failing = create_function(client, code=FAIL)
    version = client.publish_version(FunctionName=failing)["Version"]
    client.create_alias(FunctionName=failing, Name="live", FunctionVersion=version)
    recorder = create_function(client, code=RECORDER)
    arn = client.get_function(FunctionName=recorder)["Configuration"]["FunctionArn"]
    client.put_function_event_invoke_config(
        FunctionName=failing,
        Qualifier="live",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    client.invoke(FunctionName=failing, Qualifier="live", InvocationType="Event", Payload=b"{}")
    (record,) = wait_for(lambda: records(fast_server.endpoint, recorder))
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"]["executedVersion"] == version


def test_event_invoke_config_api(client) -> None:  # type: ignore[no-untyped-def]
    fn = create_function(client, code=MARK)
    other = create_function(client, code=RECORDER)
    other_arn = client.get_function(FunctionName=other)["Configuration"]["FunctionArn"]
    arn = client.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    with pytest.raises(ClientError) as e:
        client.get_function_event_invoke_config(FunctionName=fn)
    assert error_of(e) == (
        "ResourceNotFoundException",
        404,
        f"The function {arn}:$LATEST doesn't have an EventInvokeConfig",
    )
    with pytest.raises(ClientError) as e:
        client.update_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=1)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    put = client.put_function_event_invoke_config(
        FunctionName=fn, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=120
    )
    assert put["FunctionArn"] == f"{arn}:$LATEST"
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (1, 120)
    updated = client.update_function_event_invoke_config(
        FunctionName=fn, DestinationConfig={"OnSuccess": {"Destination": other_arn}}
    )
    assert updated["MaximumRetryAttempts"] == 1  # kept by an update
    assert updated["DestinationConfig"]["OnSuccess"] == {"Destination": other_arn}
    replaced = client.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=0)
    assert "MaximumEventAgeInSeconds" not in replaced  # a put replaces everything
    assert replaced["DestinationConfig"]["OnSuccess"] == {}
    listed = client.list_function_event_invoke_configs(FunctionName=fn)
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [f"{arn}:$LATEST"]
    with pytest.raises(ClientError) as e:
        client.put_function_event_invoke_config(
            FunctionName=fn, DestinationConfig={"OnFailure": {"Destination": arn}}
        )
    assert error_of(e) == (
        "InvalidParameterValueException",
        400,
        "You can't specify the function as a destination for itself.",
    )
    with pytest.raises(ClientError) as e:
        client.put_function_event_invoke_config(FunctionName=fn)
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)
    client.delete_function_event_invoke_config(FunctionName=fn)
    assert (
        client.list_function_event_invoke_configs(FunctionName=fn)["FunctionEventInvokeConfigs"]
        == []
    )


def test_settings_survive_a_restart_and_provisioned_is_reprovisioned(tmp_path: Path) -> None:
    srv = start_server(tmp_path, *FAST)
    try:
        client = srv.client("lambda")
        name = create_function(client, code=MARK)
        version = client.publish_version(FunctionName=name)["Version"]
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
        client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1
        )
        client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
        srv.stop()
        srv = start_server(tmp_path, *FAST)
        client = srv.client("lambda")
        assert (
            client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
        )
        assert (
            client.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 1
        )
        wait_for(
            lambda: (
                client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)[
                    "Status"
                ]
                == "READY"
            )
        )
        envs = environments(srv.endpoint, name)
        assert [(e["version"], e["init_type"]) for e in envs] == [
            (version, "provisioned-concurrency")
        ]
    finally:
        srv.stop()


def test_event_invoke_config_ranges_are_validated(fast_server, client) -> None:  # type: ignore[no-untyped-def]
    """Out-of-range values, sent without botocore's client-side checks."""
    fn = create_function(client, code=MARK)
    for body, member in (
        ({"MaximumRetryAttempts": 3}, "maximumRetryAttempts"),
        ({"MaximumEventAgeInSeconds": 59}, "maximumEventAgeInSeconds"),
    ):
        request = signed_request(
            "PUT", f"{fast_server.endpoint}/2019-09-25/functions/{fn}/event-invoke-config",
            json.dumps(body).encode(), headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(request, timeout=30)
        assert e.value.code == 400
        assert e.value.headers["x-amzn-ErrorType"].startswith("ValidationException")
        assert member in json.loads(e.value.read())["message"]
