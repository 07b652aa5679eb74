"""Snapshot starts through the Lambda API, with a real server and boto3: the setting is
Lambda's own ``SnapStart: {ApplyOn: PublishedVersions}``, init runs once per function revision,
the hooks run, and a function with a 3-second (CPU-bound) init scales out at fork speed."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import create_function, shoal_urlopen

SNAP = {"ApplyOn": "PublishedVersions"}

# Init burns 3 s of CPU: run once per environment, eight inits would need 8 x 3 s of CPU.
SLOW_INIT = """
import os, random, time
from snapshot_restore_py import register_after_restore, register_before_snapshot

START = time.time()
while time.time() < START + 3.0:
    pass
INIT = {"time": START, "pid": os.getpid()}
HOOKS = {"before": 0, "after": 0}
RNG = random.Random(1)


@register_before_snapshot
def before():
    HOOKS["before"] += 1


@register_after_restore
def after():
    HOOKS["after"] += 1
    RNG.seed()


def handler(event, context):
    time.sleep(event.get("hold", 0))
    with open("/tmp/mine", "a") as f:
        f.write("x")
    return {"init": INIT, "hooks": dict(HOOKS), "random": RNG.random(),
            "env": os.uname().nodename, "uid": os.getuid(),
            "tmp": open("/tmp/mine").read(), "stream": context.log_stream_name,
            "init_type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
            "omp": os.environ.get("OMP_NUM_THREADS")}
"""


def _invoke(client: Any, name: str, event: dict[str, Any], qualifier: str | None = None) -> Any:
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    response = client.invoke(FunctionName=name, Payload=json.dumps(event), **kwargs)
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def _burst(client: Any, name: str, n: int, hold: float) -> tuple[float, list[Any]]:
    start = time.monotonic()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda _: _invoke(client, name, {"hold": hold}), range(n)))
    return time.monotonic() - start, results


def test_snapstart_setting_is_lambdas_own(lambda_client: Any) -> None:
    name = create_function(lambda_client, code="def handler(e, c):\n    return 1\n", SnapStart=SNAP)
    config = lambda_client.get_function_configuration(FunctionName=name)
    assert config["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    version = lambda_client.publish_version(FunctionName=name)
    assert version["SnapStart"]["ApplyOn"] == "PublishedVersions"
    lambda_client.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "None"})
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
    config = lambda_client.get_function_configuration(FunctionName=name)
    assert config["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    # The published version keeps the setting it was published with.
    config = lambda_client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert config["SnapStart"]["OptimizationStatus"] == "On"


def test_eight_concurrent_invocations_share_one_three_second_init(
    lambda_client: Any, server: Any
) -> None:
    name = create_function(
        lambda_client, code=SLOW_INIT, SnapStart=SNAP, Timeout=30, MemorySize=256
    )
    elapsed, results = _burst(lambda_client, name, 8, hold=0.5)
    # One init (3 s of CPU) and eight forks: far less than 8 x 3 s of init on any machine,
    # and less than two inits' worth here.
    print(f"8 concurrent first invocations: {elapsed:.2f} s")
    assert elapsed < 8 * 3.0, elapsed  # eight inits would take 8 x 3 s of CPU at least
    assert len({r["env"] for r in results}) == 8  # eight environments...
    assert len({json.dumps(r["init"]) for r in results}) == 1  # ...one init
    for r in results:
        assert r["hooks"] == {"before": 1, "after": 1}
        assert r["tmp"] == "x"  # its own /tmp
        assert r["init_type"] == "snap-start"
        assert r["omp"] == "1"  # OpenMP thread pools do not survive the fork
        assert r["uid"] != 0
        assert r["stream"].endswith(r["env"])  # its own log stream
    assert len({r["random"] for r in results}) == 8  # reseeded after each restore

    # Scale out again: the template exists, so every extra environment is a fork.
    warm = _burst(lambda_client, name, 8, hold=0.0)[1]
    assert {r["init"]["time"] for r in warm} == {results[0]["init"]["time"]}
    elapsed, more = _burst(lambda_client, name, 16, hold=1.0)
    assert len({r["env"] for r in more}) == 16  # 8 new environments, forked
    print(f"8 -> 16 environments under a 1 s hold: {elapsed:.2f} s")
    assert {r["init"]["time"] for r in more} == {results[0]["init"]["time"]}  # still one init
    # Restored environments report their restore, as Lambda's SnapStart does, not an init.
    with shoal_urlopen(f"{server.endpoint}/shoal/logs/{name}") as r:
        reports = [
            e["message"] for e in json.load(r)["events"] if e["message"].startswith("REPORT")
        ]
    assert sum("Restore Duration: " in m for m in reports) == 16
    assert not any("Init Duration" in m for m in reports)


def test_published_versions_have_their_own_template(lambda_client: Any) -> None:
    name = create_function(
        lambda_client, code=SLOW_INIT.replace("3.0", "0.2"), SnapStart=SNAP, Timeout=30
    )
    latest = _invoke(lambda_client, name, {})
    lambda_client.publish_version(FunctionName=name)
    published = [_invoke(lambda_client, name, {}, qualifier="1") for _ in range(2)]
    assert published[0]["init"] == published[1]["init"] != latest["init"]
    assert published[0]["hooks"] == {"before": 1, "after": 1}


def test_functions_without_the_setting_run_init_in_every_environment(lambda_client: Any) -> None:
    name = create_function(lambda_client, code=SLOW_INIT.replace("3.0", "0.2"), Timeout=30)
    _, results = _burst(lambda_client, name, 3, hold=0.5)
    assert len({json.dumps(r["init"]) for r in results}) == 3
    assert all(r["hooks"] == {"before": 0, "after": 0} for r in results)  # never run
    assert all(r["init_type"] == "on-demand" for r in results)
    assert all(r["omp"] is None for r in results)
