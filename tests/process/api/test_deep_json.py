"""JSON nested deeper than the decoder's stack is bad input (400 in AWS's shape), never a 500.

5000 levels overflow Python's JSON decoder (RecursionError); each entry point that parses JSON
must answer it as it answers any body it cannot parse.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ShoalServer, create_function

DEEP = b"[" * 5000 + b"]" * 5000
DEEP_OBJECT = b'{"a":' * 5000 + b"1" + b"}" * 5000


def raw(server: ShoalServer, service: str, method: str, path: str, body: bytes) -> Any:
    """Send ``body`` as is, signed as boto3 would sign it; (status, headers, JSON body)."""
    url = server.endpoint + path
    request = AWSRequest(method, url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("shoal", "shoal"), service, "us-east-1").add_auth(request)
    prepared = urllib.request.Request(url, data=body, method=method, headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, json.loads(e.read())


def test_invoke_with_a_deeply_nested_payload_is_invalid_request_content(lambda_client: Any) -> None:
    name = create_function(lambda_client, code="def handler(e, c):\n    return 1\n")
    for payload in (DEEP, DEEP_OBJECT):
        for kind in ("RequestResponse", "Event", "DryRun"):
            with pytest.raises(ClientError) as info:
                lambda_client.invoke(FunctionName=name, Payload=payload, InvocationType=kind)
            err = info.value.response
            assert err["Error"]["Code"] == "InvalidRequestContentException"
            assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert err["Error"]["Message"].startswith("Could not parse request body into json")
    # A payload nested as deep as ordinary data still runs.
    ok = lambda_client.invoke(FunctionName=name, Payload=b"[" * 100 + b"]" * 100)
    assert ok["StatusCode"] == 200 and "FunctionError" not in ok


@pytest.mark.parametrize(
    "service, method, path",
    [
        ("lambda", "POST", "/2015-03-31/functions"),
        ("lambda", "PUT", "/2015-03-31/functions/nope/configuration"),
        ("elasticfilesystem", "POST", "/2015-02-01/file-systems"),
        ("apigateway", "POST", "/v2/apis"),
    ],
)
def test_a_deeply_nested_body_is_a_serialization_error(
    server: ShoalServer, service: str, method: str, path: str
) -> None:
    for body in (DEEP, DEEP_OBJECT):
        status, headers, doc = raw(server, service, method, path, body)
        assert status == 400, doc
        # API Gateway v2 has no SerializationException: its model's BadRequestException.
        expected = "BadRequestException" if service == "apigateway" else "SerializationException"
        assert headers["x-amzn-ErrorType"] == expected
        assert "Could not parse request body into json" in doc["message"]


def test_a_deeply_nested_file_system_policy_is_an_invalid_policy(efs_client: Any) -> None:
    fs_id = efs_client.create_file_system(CreationToken="deep-policy")["FileSystemId"]
    with pytest.raises(ClientError) as info:
        efs_client.put_file_system_policy(FileSystemId=fs_id, Policy=DEEP.decode())
    assert info.value.response["Error"]["Code"] == "InvalidPolicyException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
