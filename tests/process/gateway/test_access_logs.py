"""A stage's AccessLogSettings and detailed route metrics against a real server: known traffic
over HTTP, then its access log lines read back from CloudWatch Logs (boto3) and its
per-route ``AWS/ApiGateway`` series from CloudWatch; the stage set up with boto3 and the AWS
CLI v2, bad settings refused as API Gateway refuses them."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from conftest import ShoalServer, create_function, start_server, unique_name, wait_for

FAST = {"SHOAL_METRICS_FLUSH_S": "0.2"}
CODE = """
def handler(event, context):
    if event["rawPath"].endswith("/boom"):
        raise RuntimeError("boom")
    return {"statusCode": 201, "body": "x" * 10}
"""
JSON_FORMAT = json.dumps({
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime", "epoch": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod", "routeKey": "$context.routeKey",
    "status": "$context.status", "protocol": "$context.protocol",
    "responseLength": "$context.responseLength", "path": "$context.path",
    "stage": "$context.stage", "apiId": "$context.apiId",
    "integrationStatus": "$context.integration.status",
    "integrationError": "$context.integrationErrorMessage",
    "integrationLatency": "$context.integrationLatency",
    "responseLatency": "$context.responseLatency", "authorizerError": "$context.authorizer.error",
    "domainName": "$context.domainName", "dataProcessed": "$context.dataProcessed",
})  # fmt: skip
CLF = ('$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod '
       '$context.routeKey $context.protocol" $context.status $context.responseLength '
       "$context.requestId")  # fmt: skip


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
    server = start_server(tmp_path_factory.mktemp("access-logs"), env=FAST)
    try:
        yield server
    finally:
        server.stop()


def group_arn(name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:logs:{region}:123456789012:log-group:{name}"


def request(url: str, method: str = "GET", body: bytes = b"") -> tuple[int, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.request(method, parts.path, body=body)
        response = conn.getresponse()
        response.read()
        return response.status, response.headers["apigw-requestid"]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def api(srv: ShoalServer) -> dict[str, Any]:
    lam, apigw = srv.client("lambda"), srv.client("apigatewayv2")
    name = create_function(lam, code=CODE)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api_id = apigw.create_api(Name=unique_name("logged"), ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                     IntegrationUri=arn, PayloadFormatVersion="2.0")  # fmt: skip
    for key in ("GET /items/{id}", "$default"):
        apigw.create_route(ApiId=api_id, RouteKey=key,
                           Target=f"integrations/{integ['IntegrationId']}")  # fmt: skip
    group = f"/shoal/access/{unique_name('g')}"
    srv.client("logs").create_log_group(logGroupName=group)
    apigw.create_stage(
        ApiId=api_id, StageName="$default", AutoDeploy=True,
        AccessLogSettings={"DestinationArn": group_arn(group), "Format": JSON_FORMAT},
        RouteSettings={"GET /items/{id}": {"DetailedMetricsEnabled": True}},
    )  # fmt: skip
    endpoint = apigw.get_api(ApiId=api_id)["ApiEndpoint"]
    return {"id": api_id, "group": group, "endpoint": endpoint}


def events_of(srv: ShoalServer, group: str, count: int) -> list[dict[str, Any]]:
    logs = srv.client("logs")

    def read() -> list[dict[str, Any]] | None:
        found = logs.filter_log_events(logGroupName=group)["events"]
        return found if len(found) >= count else None

    found: list[dict[str, Any]] = wait_for(read)
    return found


def test_one_json_line_per_request(srv: ShoalServer, api: dict[str, Any]) -> None:
    before = time.time()
    sent = [request(api["endpoint"] + f"/items/{i}") for i in range(3)]
    sent.append(request(api["endpoint"] + "/other", "POST", b"12345"))
    sent.append(request(api["endpoint"] + "/boom", "POST"))
    assert [s for s, _ in sent] == [201, 201, 201, 201, 500]
    events = events_of(srv, api["group"], 5)
    assert len(events) == 5
    lines = {json.loads(e["message"])["requestId"]: (e, json.loads(e["message"])) for e in events}
    assert set(lines) == {rid for _, rid in sent}  # one line per request, named by its id
    event, first = lines[sent[0][1]]
    assert event["logStreamName"].startswith(f"{api['id']}_$default-")
    assert first["ip"] == "127.0.0.1" and first["httpMethod"] == "GET"
    assert first["routeKey"] == "GET /items/{id}" and first["path"] == "/items/0"
    assert first["status"] == "201" and first["responseLength"] == "10"
    assert first["protocol"] == "HTTP/1.1" and first["stage"] == "$default"
    assert first["apiId"] == api["id"] and first["integrationStatus"] == "200"
    assert first["integrationError"] == "-" and first["authorizerError"] == "-"
    assert int(first["integrationLatency"]) <= int(first["responseLatency"])
    assert before * 1000 - 1000 <= int(first["epoch"]) <= time.time() * 1000 + 1000
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", first["requestTime"])
    _, other = lines[sent[3][1]]
    assert other["routeKey"] == "$default" and other["dataProcessed"] == "15"
    _, boom = lines[sent[4][1]]
    assert boom["status"] == "500" and boom["integrationError"] != "-"


def test_unmatched_request_is_logged_with_dashes(srv: ShoalServer) -> None:
    apigw = srv.client("apigatewayv2")
    api_id = apigw.create_api(Name=unique_name("empty"), ProtocolType="HTTP")["ApiId"]
    group = f"/shoal/access/{unique_name('e')}"
    apigw.create_stage(ApiId=api_id, StageName="$default",
                       AccessLogSettings={"DestinationArn": group_arn(group), "Format": CLF})
    endpoint = apigw.get_api(ApiId=api_id)["ApiEndpoint"]
    status, rid = request(endpoint + "/nothing")
    assert status == 404
    (event,) = events_of(srv, group, 1)  # the group is made with its first line
    assert re.fullmatch(
        r'127\.0\.0\.1 - - \[[^\]]+\] "GET - HTTP/1\.1" 404 23 ' + re.escape(rid),
        event["message"],
    ), event["message"]


def test_detailed_route_metrics(srv: ShoalServer, api: dict[str, Any]) -> None:
    for i in range(4):
        assert request(api["endpoint"] + f"/items/m{i}")[0] == 201
    cw = srv.client("cloudwatch")
    dims = {"ApiId": api["id"], "Method": "GET", "Resource": "/items/{id}", "Stage": "$default"}

    def count(d: dict[str, str]) -> float | None:
        now = time.time()
        points = cw.get_metric_statistics(
            Namespace="AWS/ApiGateway", MetricName="Count",
            Dimensions=[{"Name": k, "Value": v} for k, v in d.items()],
            StartTime=now - 3600, EndTime=now + 600, Period=3600, Statistics=["Sum"],
        )["Datapoints"]  # fmt: skip
        return sum(p["Sum"] for p in points) if points else None

    # This route's requests (here and in the test before, when the module runs whole) only.
    got = wait_for(lambda: (c := count(dims)) is not None and c >= 4 and c)
    assert got in (4.0, 7.0)
    listed = cw.list_metrics(Namespace="AWS/ApiGateway", MetricName="Count",
                             Dimensions=[{"Name": "ApiId", "Value": api["id"]}])["Metrics"]
    sets = {tuple(sorted(d["Name"] for d in m["Dimensions"])) for m in listed}
    assert ("ApiId", "Method", "Resource", "Stage") in sets
    # The $default route's detailed metrics are off: no series of its own...
    resources = {d["Value"] for m in listed for d in m["Dimensions"] if d["Name"] == "Resource"}
    assert resources == {"/items/{id}"}
    # ...until the stage's default route settings turn them on.
    srv.client("apigatewayv2").update_stage(
        ApiId=api["id"], StageName="$default",
        DefaultRouteSettings={"DetailedMetricsEnabled": True})  # fmt: skip
    assert request(api["endpoint"] + "/else", "PUT")[0] == 201
    default = {"ApiId": api["id"], "Method": "ANY", "Resource": "$default", "Stage": "$default"}
    assert wait_for(lambda: count(default)) == 1.0


def test_cli_v2_sets_clf_access_logs(srv: ShoalServer, api: dict[str, Any]) -> None:
    group = f"/shoal/access/{unique_name('cli')}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
           "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    settings = json.dumps({"DestinationArn": group_arn(group), "Format": CLF})
    out = subprocess.run(
        ["/usr/bin/aws", "--endpoint-url", srv.endpoint, "--output", "json", "apigatewayv2",
         "create-stage", "--api-id", api["id"], "--stage-name", "prod",
         "--access-log-settings", settings],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["AccessLogSettings"]["DestinationArn"] == group_arn(group)
    status, rid = request(api["endpoint"] + "/prod/items/9")
    assert status == 201
    (event,) = events_of(srv, group, 1)
    assert event["message"].endswith(f'"GET GET /items/{{id}} HTTP/1.1" 201 10 {rid}')
    assert event["logStreamName"].startswith(f"{api['id']}_prod-")
    out = subprocess.run(
        ["/usr/bin/aws", "--endpoint-url", srv.endpoint, "apigatewayv2",
         "delete-access-log-settings", "--api-id", api["id"], "--stage-name", "prod"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert request(api["endpoint"] + "/prod/items/10")[0] == 201
    # Readers see every line written before they ask: still the one line.
    assert len(srv.client("logs").filter_log_events(logGroupName=group)["events"]) == 1


@pytest.mark.parametrize(("settings", "says"), [
    ({"DestinationArn": "not-an-arn", "Format": "$context.requestId"}, "Invalid ARN"),
    ({"DestinationArn": group_arn("g", "eu-west-1"), "Format": "$context.requestId"},
     "region"),
    ({"DestinationArn": group_arn("g"), "Format": "$context.status"}, "requestId"),
    ({"DestinationArn": group_arn("g"), "Format": "$context.requestId\n$context.status"},
     "single line"),
    ({"DestinationArn": group_arn("g")}, "format"),
])  # fmt: skip
def test_bad_settings_are_refused(srv: ShoalServer, api: dict[str, Any],
                                  settings: dict[str, str], says: str) -> None:  # fmt: skip
    apigw = srv.client("apigatewayv2")
    with pytest.raises(ClientError) as e:
        apigw.update_stage(ApiId=api["id"], StageName="$default", AccessLogSettings=settings)
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert says in e.value.response["Error"]["Message"]
    # A trailing newline is allowed.
    apigw.update_stage(ApiId=api["id"], StageName="$default", AccessLogSettings={
        "DestinationArn": group_arn(api["group"]), "Format": JSON_FORMAT + "\n"})  # fmt: skip
