"""The json and smithy-rpc-v2-cbor protocols on the real server, with real boto3 clients: CloudWatch
Logs and KMS speak json 1.1; CloudWatch (``monitoring``) json 1.0 from boto3 (botocore prefers
json to cbor among the protocols its model lists) and rpc-v2-cbor from the SDKs that prefer it,
here a boto3 client whose model lists only cbor (:func:`cbor_client`).

Shoal serves CloudWatch Logs (tests/process/logs), none of the others' operations yet: every
call to those must come back as an error boto3 parses
(``UnknownOperationException``, the auth failures), never a parse error. A second server,
started with a few operations registered by this test only (``_TEST_OPERATIONS``, never product
code), shows a whole round trip, the signing-name check, the query codes of an
``awsQueryCompatible`` service and a denial worded in each protocol's shape.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import cbor2
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import conftest
from conftest import ShoalServer, signed_headers, start_server, unique_name, wait_for

CONFIG = Config(retries={"max_attempts": 0})
INVALID = "The security token included in the request is invalid."
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def client(endpoint: str, service: str, key: str = "shoal", secret: str = "shoal") -> Any:
    if service == "cloudwatch-cbor":
        return cbor_client(endpoint, key, secret)
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, config=CONFIG,
    )  # fmt: skip


_CBOR_MODELS: list[str] = []  # the data directory of CloudWatch's cbor-only model, made once


def cbor_client(endpoint: str, key: str, secret: str) -> Any:
    """A boto3 CloudWatch client that speaks rpc-v2-cbor: botocore's own model, listing only
    that protocol, found ahead of botocore's data."""
    if not _CBOR_MODELS:
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="shoal-cbor-model-"))
        loader = botocore.session.get_session().get_component("data_loader")
        raw = loader.load_service_model("cloudwatch", "service-2")
        raw["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
        target = root / "cloudwatch" / raw["metadata"]["apiVersion"] / "service-2.json"
        target.parent.mkdir(parents=True)
        target.write_text(json.dumps(raw))
        _CBOR_MODELS.append(str(root))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, _CBOR_MODELS[0])
    return session.create_client(
        "cloudwatch", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, config=CONFIG,
    )  # fmt: skip


def error_of(call: Any) -> tuple[str, int, str, dict[str, str]]:
    with pytest.raises(ClientError) as e:
        call()
    err = e.value.response
    meta = err["ResponseMetadata"]
    return err["Error"]["Code"], meta["HTTPStatusCode"], err["Error"]["Message"], meta[
        "HTTPHeaders"
    ]


CALLS = [
    ("logs", lambda c: c.describe_log_groups(), "application/x-amz-json-1.1"),
    ("kms", lambda c: c.list_keys(), "application/x-amz-json-1.1"),
    ("cloudwatch", lambda c: c.list_metrics(), "application/x-amz-json-1.0"),
    ("cloudwatch-cbor", lambda c: c.list_metrics(), "application/cbor"),
    ("dynamodb", lambda c: c.list_tables(), "application/x-amz-json-1.0"),
]


# Logs, KMS and CloudWatch are served: only the services nobody registered (DynamoDB).
UNSERVED = [c for c in CALLS if c[0] == "dynamodb"]


@pytest.mark.parametrize("service, call, content_type", UNSERVED)
def test_a_service_shoal_does_not_serve_answers_unknown_operation_in_its_protocol(
    server: ShoalServer, service: str, call: Any, content_type: str
) -> None:
    code, status, message, headers = error_of(lambda: call(client(server.endpoint, service)))
    assert (code, status) == ("UnknownOperationException", 400)
    assert headers["content-type"] == content_type and headers["x-amzn-requestid"]
    assert "Shoal does not serve" in message


@pytest.mark.parametrize("service, call, content_type", UNSERVED)
def test_a_wrong_secret_or_an_unknown_key_is_refused_as_json_services_word_it(
    server: ShoalServer, service: str, call: Any, content_type: str
) -> None:
    wrong = client(server.endpoint, service, "shoal", "x")
    code, status, message, _ = error_of(lambda: call(wrong))
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith("The request signature we calculated does not match")
    unknown = client(server.endpoint, service, "AKIAX", "x")
    code, status, message, _ = error_of(lambda: call(unknown))
    assert (code, status, message) == ("UnrecognizedClientException", 400, INVALID)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, dict(e.headers), e.read()


def test_an_incomplete_signature_is_refused_in_the_protocols_shape(server: ShoalServer) -> None:
    # A presigned credential in the query string and nothing else: an incomplete signature.
    status, headers, body = _post(
        server.endpoint + "/?X-Amz-Credential=nobody", b"{}",
        {"X-Amz-Target": "TrentService.ListKeys", "Content-Type": "application/x-amz-json-1.1"},
    )  # fmt: skip
    assert status == 400 and json.loads(body)["__type"] == "IncompleteSignatureException"
    status, headers, body = _post(
        server.endpoint + "/service/GraniteServiceVersion20100801/operation/ListMetrics"
        "?X-Amz-Credential=nobody", b"",
        {"smithy-protocol": "rpc-v2-cbor", "Accept": "application/cbor"},
    )  # fmt: skip
    # CloudWatch is query-compatible: the query protocol's code, as its status.
    assert status == 403 and headers["smithy-protocol"] == "rpc-v2-cbor"
    assert cbor2.loads(body)["__type"] == "IncompleteSignature"


@pytest.mark.parametrize(
    "body", [b"{not json", b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000]
)
def test_a_malformed_or_deep_json_body_to_an_unknown_service_is_still_its_error(
    server: ShoalServer, body: bytes
) -> None:
    url = server.endpoint + "/"
    headers = {"X-Amz-Target": "DynamoDB_20120810.ListTables",
               "Content-Type": "application/x-amz-json-1.0"}  # fmt: skip
    signed = signed_headers("POST", url, body, "dynamodb", headers=headers)
    status, _, answer = _post(url, body, signed)
    assert status == 400 and json.loads(answer)["__type"] == "UnknownOperationException"


# --------------------------------------------------------- a server with test-only operations

_TEST_OPERATIONS = '''
"""Operations registered for tests/process/api/test_rpc_protocols.py only."""
import runpy
from shoal.api.rpc_router import RpcApiService
from shoal.errors import AwsError
import shoal.api.cloudwatch_alarms, shoal.api.cloudwatch_data  # the real ones: replaced here
import shoal.api.kms_aliases, shoal.api.kms_crypto, shoal.api.kms_keys, shoal.api.kms_tags

kms = RpcApiService("kms")
cloudwatch = RpcApiService("cloudwatch")


@kms.handles("ListKeys")
async def list_keys(call):
    return {"Keys": [{"KeyId": "k1", "KeyArn": f"arn:aws:kms:{call.region}:123456789012:key/k1"}],
            "Truncated": False}


@kms.handles("Encrypt")
async def encrypt(call):
    p = call.params
    return {"CiphertextBlob": p["Plaintext"][::-1] + repr(sorted(p.get("EncryptionContext", {})
            .items())).encode(), "KeyId": p["KeyId"], "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


@kms.handles("GenerateRandom")
async def generate_random(call):
    raise RuntimeError("a bug in a handler")


@cloudwatch.handles("GetMetricData")
async def get_metric_data(call):
    p = call.params
    return {"MetricDataResults": [
        {"Id": q["Id"], "Label": q["MetricStat"]["Metric"]["MetricName"],
         "Timestamps": [p["StartTime"], p["EndTime"]], "Values": [1.5, float(len(q))],
         "StatusCode": "Complete"} for q in p["MetricDataQueries"]]}


@cloudwatch.handles("GetDashboard")
async def get_dashboard(call):
    raise AwsError("ResourceNotFound", f"Dashboard {call.params['DashboardName']} does not exist")


runpy.run_module("shoal", run_name="__main__")
'''


@pytest.fixture(scope="module")
def rpc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
    script = tmp_path_factory.mktemp("rpc-ops") / "serve_with_test_operations.py"
    script.write_text(_TEST_OPERATIONS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conftest, "SHOAL", [sys.executable, str(script)])
        srv = start_server(tmp_path_factory.mktemp("rpc-data"))
    yield srv
    srv.stop()


def test_a_registered_json_operation_round_trips_through_boto3(rpc_server: ShoalServer) -> None:
    kms = client(rpc_server.endpoint, "kms")
    keys = kms.list_keys()
    assert keys["Keys"] == [{"KeyId": "k1", "KeyArn": "arn:aws:kms:us-east-1:123456789012:key/k1"}]
    assert keys["Truncated"] is False
    out = kms.encrypt(KeyId="alias/a", Plaintext=b"\x00\xffdata", EncryptionContext={"b": "2"})
    assert out["CiphertextBlob"] == b"atad\xff\x00" + repr([("b", "2")]).encode()
    assert out["KeyId"] == "alias/a"
    # An operation of the model that no handler serves yet.
    code, status, _, _ = error_of(lambda: kms.describe_key(KeyId="k1"))
    assert (code, status) == ("UnsupportedOperation", 501)


@pytest.mark.parametrize("flavour, content_type", [
    ("cloudwatch-cbor", "application/cbor"), ("cloudwatch", "application/x-amz-json-1.0"),
])  # fmt: skip
def test_a_registered_cloudwatch_operation_round_trips_in_either_protocol(
    rpc_server: ShoalServer, flavour: str, content_type: str
) -> None:
    cw = client(rpc_server.endpoint, flavour)
    end = T0.replace(hour=13)
    query = {"Id": "q1", "MetricStat": {
        "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations",
                   "Dimensions": [{"Name": "FunctionName", "Value": "f"}]},
        "Period": 60, "Stat": "Sum"}}  # fmt: skip
    out = cw.get_metric_data(StartTime=T0, EndTime=end, MetricDataQueries=[query])
    assert out["ResponseMetadata"]["HTTPHeaders"]["content-type"] == content_type
    [result] = out["MetricDataResults"]
    assert (result["Id"], result["Label"], result["Values"]) == ("q1", "Invocations", [1.5, 2.0])
    assert result["Timestamps"] == [T0, end]
    # A modeled error: CloudWatch's query code, from x-amzn-query-error.
    code, status, message, headers = error_of(lambda: cw.get_dashboard(DashboardName="d"))
    assert (code, status, message) == ("ResourceNotFound", 404, "Dashboard d does not exist")
    assert headers["x-amzn-query-error"] == "ResourceNotFound;Sender"


@pytest.mark.parametrize(
    "body", [b"{not json", b"[" * 5000 + b"]" * 5000, b'{"KeyId":' * 5000 + b"1" + b"}" * 5000,
             b'{"KeyId": "k", "Plaintext": "not base64!"}', b'{"KeyId": 7, "Plaintext": ""}'],
)  # fmt: skip
def test_a_malformed_json_body_to_a_served_operation_is_a_serialization_error(
    rpc_server: ShoalServer, body: bytes
) -> None:
    url = rpc_server.endpoint + "/"
    headers = {"X-Amz-Target": "TrentService.Encrypt",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    status, headers, answer = _post(url, body, signed_headers("POST", url, body, "kms",
                                                              headers=headers))  # fmt: skip
    assert status == 400 and json.loads(answer)["__type"] == "SerializationException", answer
    assert headers["content-type"] == "application/x-amz-json-1.1"


@pytest.mark.parametrize(
    "body", [b"\xff", b"\xa1\x61", b"\x81" * 100000 + b"\x01", cbor2.dumps([1]),
             b"\xd8\x1c\xa1\x69StartTime\xd8\x1d\x00", cbor2.dumps({"StartTime": "soon"})],
)  # fmt: skip
def test_a_malformed_cbor_body_to_a_served_operation_is_a_serialization_error(
    rpc_server: ShoalServer, body: bytes
) -> None:
    url = rpc_server.endpoint + "/service/GraniteServiceVersion20100801/operation/GetMetricData"
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
    status, headers, answer = _post(url, body, signed_headers("POST", url, body, "monitoring",
                                                              headers=headers))  # fmt: skip
    assert status == 400 and headers["smithy-protocol"] == "rpc-v2-cbor"
    assert cbor2.loads(answer)["__type"] == "SerializationException", answer


def test_a_handlers_bug_is_the_services_internal_error(rpc_server: ShoalServer) -> None:
    kms = client(rpc_server.endpoint, "kms")
    code, status, message, _ = error_of(lambda: kms.generate_random(NumberOfBytes=8))
    assert (code, status, message) == ("KMSInternalException", 500, "Internal error in Shoal")
    # Logged (the server's output reaches the test through a pipe, a moment later), not answered.
    wait_for(lambda: "a bug in a handler" in "".join(rpc_server.output))


def test_a_cross_site_request_is_refused_in_the_protocols_shape(server: ShoalServer) -> None:
    url = server.endpoint + "/"
    headers = {"X-Amz-Target": "TrentService.ListKeys", "Origin": "http://evil.example",
               "Content-Type": "text/plain"}  # fmt: skip
    status, _, answer = _post(url, b"{}", headers)
    assert status == 403 and json.loads(answer)["__type"] == "AccessDeniedException"
    url = server.endpoint + "/service/GraniteServiceVersion20100801/operation/ListMetrics"
    status, headers_, answer = _post(url, b"", {**headers, "smithy-protocol": "rpc-v2-cbor"})
    assert status == 403 and headers_["smithy-protocol"] == "rpc-v2-cbor"
    assert cbor2.loads(answer)["__type"] == "AccessDeniedException"


def test_a_request_signed_for_another_service_is_refused(rpc_server: ShoalServer) -> None:
    url = rpc_server.endpoint + "/"
    body = b"{}"
    headers = {"X-Amz-Target": "TrentService.ListKeys",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    status, _, answer = _post(url, body, signed_headers("POST", url, body, "logs", headers=headers))
    doc = json.loads(answer)
    assert (status, doc["__type"]) == (400, "InvalidSignatureException")
    assert doc["message"] == "Credential should be scoped to correct service: 'kms'. "
    status, _, answer = _post(url, body, signed_headers("POST", url, body, "kms", headers=headers))
    assert status == 200 and json.loads(answer)["Keys"][0]["KeyId"] == "k1"
    # CloudWatch signs as "monitoring", not as its model's name.
    path = "/service/GraniteServiceVersion20100801/operation/GetDashboard"
    cbor = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
    body = cbor2.dumps({"DashboardName": "d"})
    for service, expected in (("cloudwatch", 403), ("monitoring", 404)):
        signed = signed_headers("POST", rpc_server.endpoint + path, body, service, headers=cbor)
        status, headers, answer = _post(rpc_server.endpoint + path, body, signed)
        assert status == expected and headers["smithy-protocol"] == "rpc-v2-cbor", answer


def test_a_query_compatible_service_refuses_a_bad_signature_with_its_query_codes(
    rpc_server: ShoalServer,
) -> None:
    cw = client(rpc_server.endpoint, "cloudwatch", "shoal", "wrong")
    code, status, _, headers = error_of(cw.list_metrics)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert headers["x-amzn-query-error"] == "SignatureDoesNotMatch;Sender"
    cw = client(rpc_server.endpoint, "cloudwatch", "AKIANOBODY", "x")
    assert error_of(cw.list_metrics)[:3] == ("InvalidClientTokenId", 403, INVALID)


def test_an_unsigned_request_is_refused_in_each_protocol(rpc_server: ShoalServer) -> None:
    url = rpc_server.endpoint + "/"
    headers = {"X-Amz-Target": "TrentService.ListKeys",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    status, _, answer = _post(url, b"{}", headers)
    assert status == 400 and json.loads(answer) == {
        "__type": "MissingAuthenticationTokenException",
        "message": "Request is missing Authentication Token",
    }
    url = rpc_server.endpoint + "/service/GraniteServiceVersion20100801/operation/ListMetrics"
    status, headers, answer = _post(url, b"", {"smithy-protocol": "rpc-v2-cbor"})
    # CloudWatch is awsQueryCompatible: the query protocol's code and status.
    assert status == 403 and headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["x-amzn-query-error"] == "MissingAuthenticationToken;Sender"
    assert cbor2.loads(answer) == {
        "__type": "MissingAuthenticationToken",
        "message": "Request is missing Authentication Token",
    }
    # Logs, a json service without awsQueryCompatible: json's words.
    headers = {"X-Amz-Target": "Logs_20140328.DescribeLogGroups"}
    status, _, answer = _post(rpc_server.endpoint + "/", b"{}", headers)
    assert (status, json.loads(answer)["__type"]) == (400, "MissingAuthenticationTokenException")


def test_a_user_without_permission_is_denied_in_each_protocols_shape(
    rpc_server: ShoalServer,
) -> None:
    iam = client(rpc_server.endpoint, "iam")
    name = unique_name("dev")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    kms = client(rpc_server.endpoint, "kms", key["AccessKeyId"], key["SecretAccessKey"])
    code, status, message, _ = error_of(kms.list_keys)
    assert (code, status) == ("AccessDeniedException", 400)
    assert message.startswith(f"User: {arn} is not authorized to perform: kms:ListKeys")
    cw = client(rpc_server.endpoint, "cloudwatch", key["AccessKeyId"], key["SecretAccessKey"])
    code, status, message, _ = error_of(lambda: cw.get_dashboard(DashboardName="d"))
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: {arn} is not authorized to perform: cloudwatch:GetDashboard")
