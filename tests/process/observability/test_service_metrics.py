"""The AWS/ApiGateway metrics of an HTTP API and the AWS/EFS storage metrics, read back with
boto3 after known traffic."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from metrics_helpers import metrics_server, total

from conftest import ShoalServer, create_function, unique_name, wait_for

__all__ = ["metrics_server"]

CODE = """
def handler(event, context):
    if event["rawPath"].endswith("/boom"):
        raise RuntimeError("boom")
    return {"statusCode": 200, "body": "x" * 100}
"""


def request(url: str, body: bytes = b"") -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.request("POST", parts.path, body=body)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_http_api_count_errors_latency_and_data(metrics_server: ShoalServer) -> None:
    lam = metrics_server.client("lambda")
    name = create_function(lam, code=CODE)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    apigw = metrics_server.client("apigatewayv2")
    api = apigw.create_api(Name=unique_name("api"), ProtocolType="HTTP", Target=arn)
    api_id = api["ApiId"]
    statuses = [request(api["ApiEndpoint"] + "/ok", b"y" * 10) for _ in range(3)]
    statuses.append(request(api["ApiEndpoint"] + "/boom"))
    assert statuses == [200, 200, 200, 500]
    cw = metrics_server.client("cloudwatch")
    ns = "AWS/ApiGateway"
    by_stage = {"ApiId": api_id, "Stage": "$default"}
    assert total(cw, ns, "Count", {"ApiId": api_id}) == 4
    assert total(cw, ns, "Count", by_stage) == 4
    assert total(cw, ns, "5xx", by_stage) == 1
    assert total(cw, ns, "4xx", by_stage) == 0
    assert total(cw, ns, "Latency", by_stage, "SampleCount") == 4
    assert total(cw, ns, "IntegrationLatency", by_stage, "SampleCount") == 4
    # Request bodies (3 x 10 bytes) and the three 100-byte answers, and the error's body.
    data = total(cw, ns, "DataProcessed", by_stage)
    assert data is not None and data >= 330
    assert (total(cw, ns, "Latency", by_stage, "Maximum") or 0) >= (
        total(cw, ns, "IntegrationLatency", by_stage, "Maximum") or 0)  # fmt: skip


def test_efs_storage_bytes_and_connections(metrics_server: ShoalServer) -> None:
    efs = metrics_server.client("efs")
    fs_id = efs.create_file_system(CreationToken=unique_name("tok"))["FileSystemId"]
    cw = metrics_server.client("cloudwatch")
    dims = {"FileSystemId": fs_id, "StorageClass": "Total"}
    wait_for(lambda: total(cw, "AWS/EFS", "StorageBytes", dims, "SampleCount"), timeout=30)
    size = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["SizeInBytes"]
    assert total(cw, "AWS/EFS", "StorageBytes", dims, "Maximum") == size["Value"]
    standard = {"FileSystemId": fs_id, "StorageClass": "Standard"}
    assert total(cw, "AWS/EFS", "StorageBytes", standard, "Maximum") == size["Value"]
    assert total(cw, "AWS/EFS", "ClientConnections", {"FileSystemId": fs_id}, "Maximum") == 0


def test_function_url_metrics(metrics_server: ShoalServer) -> None:
    lam = metrics_server.client("lambda")
    name = create_function(lam, code=CODE)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    statuses = [request(url + "ok") for _ in range(2)] + [request(url + "boom")]
    assert statuses[:2] == [200, 200] and statuses[2] >= 500
    cw = metrics_server.client("cloudwatch")
    for dims in ({"FunctionName": name}, {"FunctionName": name, "Resource": name}):
        assert total(cw, "AWS/Lambda", "UrlRequestCount", dims) == 3
        assert total(cw, "AWS/Lambda", "Url5xxCount", dims) == 1
        assert total(cw, "AWS/Lambda", "Url4xxCount", dims) == 0
        assert total(cw, "AWS/Lambda", "UrlRequestLatency", dims, "SampleCount") == 3
    assert total(cw, "AWS/Lambda", "Invocations", {"FunctionName": name}) == 3
