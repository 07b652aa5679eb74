"""What an HTTP API stage's access log costs a request: the same function behind two stages of
one API, one without ``AccessLogSettings`` and one writing API Gateway's JSON format (every
variable of its example, and more) into a log group; warm p50 with one client, throughput
with 10, and the server's CPU per request. Then the line itself in-process: rendering the
format from a request's record and appending it to the log service's batch.
"""

from __future__ import annotations

import json
import time

from bench.common import aws_client, load, server_cpu_s, shoal_server, table, test_support

SECONDS = 5.0
FORMAT = json.dumps({
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime", "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey", "status": "$context.status",
    "protocol": "$context.protocol", "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integration.status", "path": "$context.path",
    "error": "$context.integrationErrorMessage", "domainName": "$context.domainName",
})  # fmt: skip


def _render_us(n: int = 100_000) -> float:
    """Microseconds to render one line and append it to a batch, in-process."""
    from shoal.gateway.access_logs import Template
    from shoal.gateway.exchange import Exchange
    from shoal.observability.logstore import Pending

    x = Exchange("req-1", time.perf_counter(), time.time())
    x.api_id, x.stage, x.method, x.path, x.status = "abc", "$default", "GET", "/hello", 200
    x.route_key, x.integration_ms, x.integration_status = "$default", 1.2, 200
    template, pending = Template(FORMAT), []
    t0 = time.perf_counter()
    for _ in range(n):
        pending.append(Pending("us-east-1", "/g", "s", 1, 1, template.render(x)))
    return (time.perf_counter() - t0) / n * 1e6


def _cpu_per_request_us(endpoint: str, url: str) -> float:
    before = server_cpu_s(endpoint)
    result = load(url, 10, SECONDS, "GET", b"")
    return (server_cpu_s(endpoint) - before) / max(1, result.requests) * 1e6


def run() -> str:
    test_support()
    from conftest import create_function

    with shoal_server() as endpoint:
        lam = aws_client(endpoint, "lambda")
        name = create_function(lam, "bench-logged", "def handler(e, c):\n    return 'hello'\n")
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        apigw = aws_client(endpoint, "apigatewayv2")
        api = apigw.create_api(Name="bench-logs", ProtocolType="HTTP", Target=arn)
        aws_client(endpoint, "logs").create_log_group(logGroupName="/bench/access")
        apigw.create_stage(ApiId=api["ApiId"], StageName="logged", AutoDeploy=True,
                           AccessLogSettings={"Format": FORMAT, "DestinationArn":
                               "arn:aws:logs:us-east-1:123456789012:log-group:/bench/access"})
        plain, logged = api["ApiEndpoint"] + "/hello", api["ApiEndpoint"] + "/logged/hello"
        for url in (plain, logged):
            load(url, 10, 2, "GET", b"")  # warm: the environments, the code paths
        lat = {u: load(u, 1, SECONDS, "GET", b"") for u in (plain, logged)}
        tp = {u: load(u, 10, SECONDS, "GET", b"").throughput for u in (plain, logged)}
        cpu = {u: _cpu_per_request_us(endpoint, u) for u in (plain, logged)}
    render = _render_us()
    rows = [
        ("warm p50, 1 client (ms): access log / none", f"{lat[logged].pct(50):.3f}",
         f"{lat[plain].pct(50):.3f}", f"+{lat[logged].pct(50) - lat[plain].pct(50):.3f} ms",
         "≤ +0.05 ms"),
        ("throughput, 10 clients, asyncio (req/s)", f"{tp[logged]:.0f}", f"{tp[plain]:.0f}",
         f"{tp[logged] / tp[plain]:.2f}×", "≥ 0.9×"),
        ("server CPU per request (µs), 10 clients", f"{cpu[logged]:.0f}", f"{cpu[plain]:.0f}",
         f"+{cpu[logged] - cpu[plain]:.0f} µs", ""),
        ("one line rendered and batched, in-process (µs)", f"{render:.2f}", "", "", "≤ 10 µs"),
    ]  # fmt: skip
    return table("HTTP API access logs (JSON format, 13 variables)", rows)
