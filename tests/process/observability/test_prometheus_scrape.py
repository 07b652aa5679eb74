"""``GET /metrics``: the same series in Prometheus' exposition format, parsed with
``prometheus_client``'s own parser; refused to anyone not authorized. And who may read and
publish through the API (IAM users, the ``cloudwatch:namespace`` condition)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from metrics_helpers import metrics_server
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, ShoalServer, create_function, signed_headers, unique_name

__all__ = ["metrics_server"]


def get(url: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode()


def signed_as(url: str, key: str, secret: str, service: str = "monitoring") -> dict[str, str]:
    request = AWSRequest("GET", url, data=b"")
    SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(request)
    return dict(request.headers)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def test_scrape_with_sigv4_has_the_lambda_and_custom_series(metrics_server: ShoalServer) -> None:
    lam = metrics_server.client("lambda")
    cw = metrics_server.client("cloudwatch")
    name = create_function(lam, code="def handler(e, c):\n    return 1\n")
    for _ in range(3):
        lam.invoke(FunctionName=name, Payload=b"{}")
    ns = unique_name("Prom")
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "QueueDepth", "Dimensions": [{"Name": "QueueName", "Value": "jobs"}],
         "Values": [1, 2, 3], "Unit": "Count"}])  # fmt: skip
    url = f"{metrics_server.endpoint}/metrics"
    status, text = get(url, signed_headers("GET", url, b"", "monitoring"))
    assert status == 200
    found = samples(text)
    labels = frozenset({("region", "us-east-1"), ("unit", "Count"), ("function_name", name)})
    assert found[("aws_lambda_invocations_count", labels)] == 3
    assert found[("aws_lambda_invocations_sum", labels)] == 3
    assert found[("aws_lambda_errors_sum", labels)] == 0
    resource = labels | {("resource", name)}
    assert found[("aws_lambda_invocations_sum", resource)] == 3
    account = frozenset({("region", "us-east-1"), ("unit", "Count")})
    assert found[("aws_lambda_invocations_sum", account)] >= 3
    custom = frozenset({("region", "us-east-1"), ("unit", "Count"), ("queue_name", "jobs")})
    prefix = ns.lower().replace("-", "_")
    assert found[(f"{prefix}_queue_depth_sum", custom)] == 6
    assert found[(f"{prefix}_queue_depth_count", custom)] == 3


def test_unauthorized_scrapes_are_refused(metrics_server: ShoalServer) -> None:
    url = f"{metrics_server.endpoint}/metrics"
    assert get(url, {})[0] == 403
    assert get(url, {"Authorization": "Bearer not-the-token"})[0] == 403
    assert get(url, signed_as(url, "shoal", "wrong"))[0] == 403
    assert get(url, signed_headers("GET", url, b"", "lambda"))[0] == 403  # signed for another
    # An IAM user without cloudwatch:GetMetricData is refused; one with it may scrape.
    iam = metrics_server.client("iam")

    def user(policy: dict[str, object] | None) -> tuple[str, str]:
        name = unique_name("scraper")
        iam.create_user(UserName=name)
        if policy is not None:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    nobody = user(None)
    assert get(url, signed_as(url, *nobody))[0] == 403
    allowed = user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"}]})  # fmt: skip
    status, text = get(url, signed_as(url, *allowed))
    assert status == 200 and "# TYPE" in text
    # The same user is still refused the API operations it was not given.
    cw = boto3.client("cloudwatch", endpoint_url=metrics_server.endpoint, region_name="us-east-1",
                      aws_access_key_id=allowed[0], aws_secret_access_key=allowed[1])  # fmt: skip
    try:
        cw.put_metric_data(Namespace="X", MetricData=[{"MetricName": "m", "Value": 1}])
        raise AssertionError("PutMetricData was allowed")
    except cw.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied"


def test_bearer_token_from_shoal_metrics_token(metrics_server: ShoalServer) -> None:
    url = f"{metrics_server.endpoint}/metrics"

    def token(*extra: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "shoal", "metrics-token", "--data-dir",
             str(metrics_server.data_dir), *extra],
            capture_output=True, text=True, timeout=60, cwd=ROOT, check=True,
        )  # fmt: skip
        return out.stdout.strip()

    first = token()
    assert len(first) >= 40 and token() == first  # shown again, not remade
    path = metrics_server.data_dir / "metrics-token"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    status, text = get(url, {"Authorization": f"Bearer {first}"})
    assert status == 200 and "# TYPE" in text
    rotated = token("--rotate")
    assert rotated != first
    assert get(url, {"Authorization": f"Bearer {first}"})[0] == 403
    assert get(url, {"Authorization": f"Bearer {rotated}"})[0] == 200


def test_put_metric_data_by_namespace_condition(metrics_server: ShoalServer) -> None:
    """``cloudwatch:namespace``: a user allowed one namespace publishes there only."""
    iam = metrics_server.client("iam")
    name = unique_name("publisher")
    iam.create_user(UserName=name)
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": "Mine"}}}]}  # fmt: skip
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    cw = boto3.client("cloudwatch", endpoint_url=metrics_server.endpoint, region_name="us-east-1",
                      aws_access_key_id=key["AccessKeyId"],
                      aws_secret_access_key=key["SecretAccessKey"])  # fmt: skip
    cw.put_metric_data(Namespace="Mine", MetricData=[{"MetricName": "m", "Value": 1}])
    try:
        cw.put_metric_data(Namespace="Theirs", MetricData=[{"MetricName": "m", "Value": 1}])
        raise AssertionError("PutMetricData to another namespace was allowed")
    except cw.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied"
        assert "cloudwatch:PutMetricData" in e.response["Error"]["Message"]
