"""What reaches a function behind the gateway, as API Gateway sends it: the forwarded headers,
the domain fields, and one trace id shared by the event and the function's environment; and
the trace id of direct (sync and async) invokes. A real server, curl as the client."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from test_framing_node import deploy, package

from conftest import create_function, shoal_urlopen, signed_request, unique_name, wait_for

ECHO_ENV = """
import json, os

def handler(event, context):
    trace = os.environ.get("_X_AMZN_TRACE_ID")
    print("TRACE", trace)
    if "requestContext" not in event:  # a direct invoke
        return {"trace": trace}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"event": event, "trace": trace})}
"""

ROOT = "1-5e6722a7-cc56a0b246db7ae02d4da47e"
SHAPE = re.compile(r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=[0-9a-f]{16};Sampled=0")


def curl(url: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        ["curl", "-s", "--fail", *args, url], capture_output=True, check=True, timeout=60
    ).stdout
    doc: dict[str, Any] = json.loads(out)
    return doc


@pytest.fixture(scope="module")
def echo_env(lambda_client: Any) -> str:
    name = create_function(lambda_client, unique_name("echoenv"), ECHO_ENV)
    arn: str = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return arn


@pytest.fixture(scope="module")
def port(server: Any) -> int:
    value = urlsplit(server.endpoint).port
    assert value is not None
    return value


def api_with_both_payloads(apigw_client: Any, arn: str) -> str:
    """An API whose ``GET /v2`` is payload 2.0 and ``$default`` payload 1.0 (stage $default)."""
    api_id: str = apigw_client.create_api(Name=unique_name("fwd"), ProtocolType="HTTP")["ApiId"]
    for key, version in (("GET /v2", "2.0"), ("$default", "1.0")):
        integration = apigw_client.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn,
            PayloadFormatVersion=version,
        )["IntegrationId"]  # fmt: skip
        apigw_client.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
    apigw_client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return api_id


@pytest.mark.parametrize("style", ["path", "host"])
def test_forwarded_headers_domain_and_trace(
    apigw_client: Any, echo_env: str, port: int, style: str
) -> None:
    api_id = api_with_both_payloads(apigw_client, echo_env)
    if style == "path":
        base, host = f"http://127.0.0.1:{port}/execute-api/{api_id}", f"127.0.0.1:{port}"
        prefix = "127"
    else:
        base = host = f"http://{api_id}.execute-api.localhost:{port}"
        host, prefix = host.removeprefix("http://"), api_id

    # Payload 2.0, a client that sends its own X-Forwarded-For and a trace header.
    out = curl(
        base + "/v2",
        "-H", "X-Forwarded-For: 203.0.113.7", "-H", "X-Forwarded-Proto: https",
        "-H", f"X-Amzn-Trace-Id: Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1",
    )  # fmt: skip
    event, trace = out["event"], out["trace"]
    m = SHAPE.fullmatch(trace)
    assert m is not None and m.group(1) == ROOT, trace
    headers = event["headers"]
    assert headers["x-amzn-trace-id"] == trace  # the event and the environment agree
    assert headers["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert headers["x-forwarded-port"] == str(port)
    assert headers["x-forwarded-proto"] == "http"
    assert headers["host"] == host
    ctx = event["requestContext"]
    assert ctx["http"]["sourceIp"] == "127.0.0.1"
    assert (ctx["domainName"], ctx["domainPrefix"]) == (host, prefix)

    # Payload 1.0, no client headers: a new trace, the peer alone in X-Forwarded-For.
    out = curl(base + "/one")
    event, trace = out["event"], out["trace"]
    m = SHAPE.fullmatch(trace)
    assert m is not None and m.group(1) != ROOT, trace
    assert event["version"] == "1.0"
    assert event["headers"]["x-amzn-trace-id"] == trace
    assert event["multiValueHeaders"]["x-amzn-trace-id"] == [trace]
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["multiValueHeaders"]["x-forwarded-for"] == ["127.0.0.1"]
    assert event["multiValueHeaders"]["x-forwarded-port"] == [str(port)]
    assert event["multiValueHeaders"]["x-forwarded-proto"] == ["http"]
    ctx = event["requestContext"]
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert (ctx["domainName"], ctx["domainPrefix"]) == (host, prefix)
    assert curl(base + "/one")["trace"] != trace  # one trace per request


def test_function_url_gets_them_too(lambda_client: Any, echo_env: str, port: int) -> None:
    url = lambda_client.create_function_url_config(FunctionName=echo_env, AuthType="NONE")
    url_id = urlsplit(url["FunctionUrl"]).path.strip("/").split("/")[-1]
    try:
        named = f"{url_id}.lambda-url.localhost:{port}"
        for base, host, prefix in (
            (url["FunctionUrl"], f"127.0.0.1:{port}", "127"),
            (f"http://{named}/", named, url_id),
        ):
            out = curl(base + "p", "-H", "X-Forwarded-For: 198.51.100.1")
            event = out["event"]
            assert event["headers"]["x-forwarded-for"] == "198.51.100.1, 127.0.0.1"
            assert event["headers"]["x-forwarded-proto"] == "http"
            assert event["headers"]["x-amzn-trace-id"] == out["trace"]
            ctx = event["requestContext"]
            assert (ctx["domainName"], ctx["domainPrefix"]) == (host, prefix)
    finally:
        lambda_client.delete_function_url_config(FunctionName=echo_env)


def invoke_raw(endpoint: str, name: str, headers: dict[str, str]) -> dict[str, Any]:
    url = f"{endpoint}/2015-03-31/functions/{name}/invocations"
    request = signed_request("POST", url, b"{}", headers=headers)
    with urllib.request.urlopen(request, timeout=60) as r:
        doc: dict[str, Any] = json.load(r) if r.status == 200 else {"status": r.status}
        return doc


def test_invoke_api_propagates_a_callers_trace(server: Any, echo_env: str) -> None:
    trace = invoke_raw(server.endpoint, echo_env, {"X-Amzn-Trace-Id": f"Root={ROOT}"})["trace"]
    m = SHAPE.fullmatch(trace)
    assert m is not None and m.group(1) == ROOT
    first = invoke_raw(server.endpoint, echo_env, {})["trace"]
    second = invoke_raw(server.endpoint, echo_env, {})["trace"]
    assert SHAPE.fullmatch(first) and SHAPE.fullmatch(second)
    assert ROOT not in first and first != second  # a new trace per invocation


def test_async_invoke_runs_under_the_trace_it_was_queued_with(server: Any, echo_env: str) -> None:
    root = "1-5e6722a7-0123456789abcdef01234567"
    name = echo_env.rsplit(":", 1)[1]
    assert invoke_raw(
        server.endpoint,
        echo_env,
        {"X-Amzn-Trace-Id": f"Root={root};Sampled=1", "X-Amz-Invocation-Type": "Event"},
    ) == {"status": 202}

    def logged() -> bool:
        with shoal_urlopen(f"{server.endpoint}/shoal/logs/{name}", timeout=30) as r:
            events = json.load(r)["events"]
        return any(f"TRACE Root={root};Parent=" in e["message"] for e in events)

    wait_for(logged)


POWERTOOLS = ["aws-lambda-powertools==3.37.0"]

POWERTOOLS_APP = """
from aws_lambda_powertools import Logger

logger = Logger(service="shoal-test")

@logger.inject_lambda_context
def handler(event, context):
    logger.info("hello from powertools")
    return {"statusCode": 200, "body": "ok"}
"""


def test_powertools_logger_shows_the_requests_trace(
    lambda_client: Any, apigw_client: Any, server: Any, tmp_path: Path
) -> None:
    """Powertools' Logger reads ``_X_AMZN_TRACE_ID`` and logs its root as ``xray_trace_id``."""
    name = unique_name("powertools")
    code = package(tmp_path, POWERTOOLS, POWERTOOLS_APP)
    endpoint = deploy(lambda_client, apigw_client, name, code)
    root = "1-5e6722a7-feedfacecafebeef00112233"
    assert subprocess.run(
        ["curl", "-s", "--fail", "-H", f"X-Amzn-Trace-Id: Root={root}", endpoint + "/x"],
        capture_output=True, check=True, timeout=60,
    ).stdout == b"ok"  # fmt: skip

    def logged() -> list[dict[str, Any]]:
        with shoal_urlopen(f"{server.endpoint}/shoal/logs/{name}", timeout=30) as r:
            events = json.load(r)["events"]
        mine = [e["message"] for e in events if '"hello from powertools"' in e["message"]]
        return [json.loads(message) for message in mine]

    (line,) = wait_for(logged)
    assert line["xray_trace_id"] == root
    assert line["service"] == "shoal-test"
