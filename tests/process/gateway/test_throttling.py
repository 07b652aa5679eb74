"""Stage and route throttling against a real server: a stage's DefaultRouteSettings and one
route's RouteSettings set with boto3, bursts fired with httpx and Node's fetch at HTTP_PROXY
routes to the loopback echo upstream; the right count passes and the rest answer API
Gateway's 429."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from test_http_proxy import Upstream

from conftest import unique_name

SLOW = 0.001  # tokens per second: none come back within a test


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


@pytest.fixture(scope="module")
def api(apigw_client: Any, upstream: Upstream) -> dict[str, Any]:
    apigw = apigw_client
    api_id = apigw.create_api(Name=unique_name("throttle"), ProtocolType="HTTP")["ApiId"]
    integration = apigw.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationUri=upstream.url + "/{proxy}",
        IntegrationMethod="ANY",
        PayloadFormatVersion="1.0",
    )["IntegrationId"]
    for key in ("GET /{proxy+}", "GET /own/{proxy+}", "GET /closed/{proxy+}"):
        apigw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
    apigw.create_stage(
        ApiId=api_id,
        StageName="limited",
        AutoDeploy=True,
        DefaultRouteSettings={"ThrottlingRateLimit": SLOW, "ThrottlingBurstLimit": 3},
        RouteSettings={
            "GET /own/{proxy+}": {"ThrottlingBurstLimit": 5},  # the default's rate, its burst
            "GET /closed/{proxy+}": {"ThrottlingRateLimit": 0, "ThrottlingBurstLimit": 0},
        },
    )
    apigw.create_stage(ApiId=api_id, StageName="open", AutoDeploy=True)
    endpoint = apigw.get_api(ApiId=api_id)["ApiEndpoint"]
    return {"id": api_id, "endpoint": endpoint}


def burst(url: str, n: int) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return list(await asyncio.gather(*(client.get(url) for _ in range(n))))

    return asyncio.run(run())


def test_stage_settings_are_kept(apigw_client: Any, api: dict[str, Any]) -> None:
    stage = apigw_client.get_stage(ApiId=api["id"], StageName="limited")
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 3
    assert stage["RouteSettings"]["GET /own/{proxy+}"] == {"ThrottlingBurstLimit": 5}


def test_negative_limits_are_refused(apigw_client: Any, api: dict[str, Any]) -> None:
    for settings in (
        {"DefaultRouteSettings": {"ThrottlingRateLimit": -1.0}},
        {"RouteSettings": {"GET /own/{proxy+}": {"ThrottlingBurstLimit": -5}}},
    ):
        with pytest.raises(ClientError) as e:
            apigw_client.update_stage(ApiId=api["id"], StageName="open", **settings)
        assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert (
        "ThrottlingRateLimit"
        not in apigw_client.get_stage(ApiId=api["id"], StageName="open")["DefaultRouteSettings"]
    )


def test_default_route_settings_throttle_each_route(api: dict[str, Any]) -> None:
    answers = burst(api["endpoint"] + "/limited/x", 8)
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 3 + [429] * 5
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json() == {"message": "Too Many Requests"}
    assert "apigw-requestid" in refused.headers


def test_route_settings_override_the_default(api: dict[str, Any]) -> None:
    statuses = sorted(r.status_code for r in burst(api["endpoint"] + "/limited/own/y", 9))
    assert statuses == [200] * 5 + [429] * 4
    closed = burst(api["endpoint"] + "/limited/closed/z", 2)
    assert [r.status_code for r in closed] == [429, 429]


def test_a_stage_without_settings_is_not_throttled(api: dict[str, Any]) -> None:
    statuses = {r.status_code for r in burst(api["endpoint"] + "/open/x", 20)}
    assert statuses == {200}


def test_update_stage_applies_at_once(apigw_client: Any, api: dict[str, Any]) -> None:
    apigw_client.create_stage(
        ApiId=api["id"],
        StageName="later",
        AutoDeploy=True,
        DefaultRouteSettings={"ThrottlingRateLimit": SLOW, "ThrottlingBurstLimit": 1},
    )
    statuses = sorted(r.status_code for r in burst(api["endpoint"] + "/later/x", 3))
    assert statuses == [200, 429, 429]
    apigw_client.update_stage(
        ApiId=api["id"],
        StageName="later",
        DefaultRouteSettings={"ThrottlingRateLimit": SLOW, "ThrottlingBurstLimit": 4},
    )
    statuses = sorted(r.status_code for r in burst(api["endpoint"] + "/later/x", 6))
    assert statuses == [200] * 4 + [429] * 2


def test_node_fetch_burst(apigw_client: Any, api: dict[str, Any]) -> None:
    apigw_client.create_stage(
        ApiId=api["id"],
        StageName="node",
        AutoDeploy=True,
        DefaultRouteSettings={"ThrottlingRateLimit": SLOW, "ThrottlingBurstLimit": 2},
    )
    script = (
        "const url = process.argv[1];"
        "Promise.all(Array.from({length: 6}, () => fetch(url).then(async r => "
        "({status: r.status, body: await r.text()}))))"
        ".then(rs => console.log(JSON.stringify(rs)))"
    )
    out = subprocess.run(
        ["node", "-e", script, api["endpoint"] + "/node/x"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    got = json.loads(out.stdout)
    assert sorted(r["status"] for r in got) == [200, 200, 429, 429, 429, 429]
    assert {r["body"] for r in got if r["status"] == 429} == {'{"message":"Too Many Requests"}'}
