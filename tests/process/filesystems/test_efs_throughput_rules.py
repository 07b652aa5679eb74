"""UpdateFileSystem's rules on throughput changes and CreateFileSystem's defaults, through
boto3 on a real server, checked against EFS's documentation: the User Guide's "Managing file
system throughput" (after a change to provisioned throughput or an increase of it, wait 24
hours before changing the mode again or decreasing it), the knowledge-center note that quotes
``TooManyRequests``' message, and the service model (``TooManyRequests``: 429 with
``ErrorCode``; CreateFileSystem: bursting, generalPurpose, unencrypted by default)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ShoalServer


def _refused(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response  # type: ignore[no-any-return]


def test_an_increase_is_followed_by_24_hours_without_a_decrease_or_a_mode_change(
    efs_client: Any,
) -> None:
    efs = efs_client
    fs_id = efs.create_file_system(CreationToken=uuid.uuid4().hex, ThroughputMode="provisioned",
                                   ProvisionedThroughputInMibps=8.0)["FileSystemId"]  # fmt: skip
    assert efs.update_file_system(FileSystemId=fs_id, ProvisionedThroughputInMibps=16.0)[
        "ProvisionedThroughputInMibps"] == 16.0  # fmt: skip
    for change in ({"ProvisionedThroughputInMibps": 8.0}, {"ThroughputMode": "bursting"},
                   {"ThroughputMode": "elastic"}):  # fmt: skip
        r = _refused(lambda c=change: efs.update_file_system(FileSystemId=fs_id, **c))
        assert r["Error"]["Code"] == "TooManyRequests", change
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert r["ErrorCode"] == "TooManyRequests"  # the model's required member
        assert re.fullmatch(
            r"You have reached the maximum number of throughput mode changes or provisioned "
            r"throughput value decreases\. Wait until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ UTC and "
            r"try again\.", r["Error"]["Message"]), r["Error"]["Message"]  # fmt: skip
    # Increases are never refused.
    assert efs.update_file_system(FileSystemId=fs_id, ProvisionedThroughputInMibps=32.0)[
        "ProvisionedThroughputInMibps"] == 32.0  # fmt: skip
    (fs,) = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"]
    assert (fs["ThroughputMode"], fs["ProvisionedThroughputInMibps"]) == ("provisioned", 32.0)


def test_the_wire_error_carries_error_code_and_message(server: ShoalServer) -> None:
    """The raw body, as the AWS CLI and other SDKs read it: ``ErrorCode`` and ``Message``."""
    efs = server.client("efs")
    fs_id = efs.create_file_system(CreationToken=uuid.uuid4().hex)["FileSystemId"]
    efs.update_file_system(FileSystemId=fs_id, ThroughputMode="elastic")
    seen: dict[str, Any] = {}

    def keep(http_response: Any, **_: Any) -> None:
        seen["body"] = http_response.content
        seen["type"] = http_response.headers.get("x-amzn-ErrorType")

    efs.meta.events.register("after-call.efs.UpdateFileSystem", keep)
    _refused(lambda: efs.update_file_system(FileSystemId=fs_id, ThroughputMode="bursting"))
    body = json.loads(seen["body"])
    assert body["ErrorCode"] == "TooManyRequests" and seen["type"] == "TooManyRequests"
    assert body["Message"].startswith("You have reached the maximum number of throughput")


def test_create_file_system_defaults_are_efs_apis(efs_client: Any) -> None:
    created = efs_client.create_file_system(CreationToken=uuid.uuid4().hex)
    (described,) = efs_client.describe_file_systems(FileSystemId=created["FileSystemId"])[
        "FileSystems"]  # fmt: skip
    for fs in (created, described):
        assert fs["ThroughputMode"] == "bursting"
        assert fs["PerformanceMode"] == "generalPurpose"
        assert fs["Encrypted"] is False
        assert "KmsKeyId" not in fs and "ProvisionedThroughputInMibps" not in fs


def test_max_io_is_refused_where_efs_refuses_it(efs_client: Any) -> None:
    # The model: maxIO "is not supported on One Zone file systems", nor with Elastic throughput.
    for extra in ({"AvailabilityZoneName": "us-east-1a"}, {"ThroughputMode": "elastic"}):
        r = _refused(lambda e=extra: efs_client.create_file_system(
            CreationToken=uuid.uuid4().hex, PerformanceMode="maxIO", **e))  # fmt: skip
        assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == (
            "BadRequest", 400), extra  # fmt: skip
    one_zone = efs_client.create_file_system(CreationToken=uuid.uuid4().hex,
                                             AvailabilityZoneName="us-east-1a")  # fmt: skip
    assert one_zone["PerformanceMode"] == "generalPurpose"
