"""Provisioned concurrency through boto3 against a real server."""

from __future__ import annotations

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError
from invocation_helpers import environments, error_of

from conftest import create_function, wait_for

PROBE = """
import os, time, uuid

ENV = uuid.uuid4().hex  # one per environment: set by its init

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"init_type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "env": ENV}
"""


def published(lambda_client) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=PROBE, Timeout=30)
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=name, Qualifier=version, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    return name, version


def ready(lambda_client, name: str, qualifier: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    def check() -> dict | None:  # type: ignore[type-arg]
        got = lambda_client.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier
        )
        return got if got["Status"] == "READY" else None

    result: dict = wait_for(check, timeout=60)  # type: ignore[type-arg]
    return result


def test_latest_is_refused(lambda_client) -> None:  # type: ignore[no-untyped-def]
    name = create_function(lambda_client, code=PROBE)
    with pytest.raises(ClientError) as e:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert error_of(e) == (
        "InvalidParameterValueException",
        400,
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
    )
    with pytest.raises(ClientError) as e:
        lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="7")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_ready_before_first_invoke_used_first_then_spill_over(server, lambda_client) -> None:  # type: ignore[no-untyped-def]
    name, version = published(lambda_client)
    put = lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=2
    )
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")
    got = ready(lambda_client, name, version)
    assert got["AllocatedProvisionedConcurrentExecutions"] == 2
    assert got["AvailableProvisionedConcurrentExecutions"] == 2
    # Initialised ahead: two idle provisioned environments before any invocation.
    envs = environments(server.endpoint, name)
    assert (
        sorted((e["version"], e["init_type"], e["state"]) for e in envs)
        == [(version, "provisioned-concurrency", "idle")] * 2
    )

    r = lambda_client.invoke(FunctionName=name, Qualifier=version, Payload=b"{}", LogType="Tail")
    assert json.loads(r["Payload"].read())["init_type"] == "provisioned-concurrency"
    tail = base64.b64decode(r["LogResult"]).decode()
    report = [line for line in tail.splitlines() if line.startswith("REPORT")]
    assert report and "Init Duration" not in report[-1]

    # Three at once: two run on the provisioned environments, the third spills over.
    barrier = threading.Barrier(3)

    def call(_: int) -> dict:  # type: ignore[type-arg]
        barrier.wait()
        out = lambda_client.invoke(
            FunctionName=name, Qualifier=version, Payload=json.dumps({"sleep": 1.0})
        )
        result: dict = json.loads(out["Payload"].read())  # type: ignore[type-arg]
        return result

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(call, range(3)))
    assert sorted(r["init_type"] for r in results) == [
        "on-demand",
        "provisioned-concurrency",
        "provisioned-concurrency",
    ]
    assert len({r["env"] for r in results}) == 3

    listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=name)
    items = listed["ProvisionedConcurrencyConfigs"]
    assert [i["FunctionArn"].rsplit(":", 1)[1] for i in items] == [version]
    assert items[0]["Status"] == "READY"

    lambda_client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    with pytest.raises(ClientError) as e:
        lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert error_of(e) == (
        "ProvisionedConcurrencyConfigNotFoundException",
        404,
        "No Provisioned Concurrency Config found for this function",
    )
    # The idle provisioned environments are stopped.
    wait_for(
        lambda: (
            not [
                e
                for e in environments(server.endpoint, name)
                if e["init_type"] == "provisioned-concurrency"
            ]
        )
    )


def test_alias_and_reserved_rules(server, lambda_client) -> None:  # type: ignore[no-untyped-def]
    name, version = published(lambda_client)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    with pytest.raises(ClientError) as e:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=3
        )
    assert error_of(e) == (
        "InvalidParameterValueException",
        400,
        "Requested Provisioned Concurrency should not be greater than the "
        "reservedConcurrentExecution for function",
    )
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    got = ready(lambda_client, name, "live")
    assert got["AllocatedProvisionedConcurrentExecutions"] == 1
    envs = environments(server.endpoint, name)
    assert [(e["version"], e["init_type"]) for e in envs] == [(version, "provisioned-concurrency")]
    r = lambda_client.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")
    assert json.loads(r["Payload"].read())["init_type"] == "provisioned-concurrency"
    # The version itself cannot get a second config while the alias holds one.
    with pytest.raises(ClientError) as e:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1
        )
    assert error_of(e)[:2] == ("ResourceConflictException", 409)
    # Reserved concurrency may not go below what is provisioned.
    with pytest.raises(ClientError) as e:
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)
    # Deleting the alias deletes its config and its environments.
    lambda_client.delete_alias(FunctionName=name, Name="live")
    assert (
        lambda_client.list_provisioned_concurrency_configs(FunctionName=name)[
            "ProvisionedConcurrencyConfigs"
        ]
        == []
    )
    wait_for(
        lambda: (
            not environments(server.endpoint, name)
            or all(
                e["init_type"] != "provisioned-concurrency"
                for e in environments(server.endpoint, name)
            )
        )
    )
