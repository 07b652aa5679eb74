"""EFS details a third-party suite checks, through boto3 on a real server: unknown file
systems are FileSystemNotFound (404) and only malformed ids are ValidationExceptions (as on
AWS); lifecycle and backup policies are kept across a restart, One Zone file systems have
backups by default; a mount target address Shoal cannot use is a 400, not a 500."""

from __future__ import annotations

import signal
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ShoalServer, default_subnet, start_server

MISSING = "fs-0123456789abcdef0"
ARN = f"arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/{MISSING}"


def _error(e: ClientError) -> tuple[str, int]:
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def _fs(efs: Any, **kwargs: Any) -> str:
    fs_id: str = efs.create_file_system(CreationToken=uuid.uuid4().hex, **kwargs)["FileSystemId"]
    return fs_id


def test_unknown_file_systems_are_not_found(efs_client: Any) -> None:
    calls = {
        "describe": lambda fs: efs_client.describe_file_systems(FileSystemId=fs),
        "delete": lambda fs: efs_client.delete_file_system(FileSystemId=fs),
        "lifecycle": lambda fs: efs_client.describe_lifecycle_configuration(FileSystemId=fs),
        "put lifecycle": lambda fs: efs_client.put_lifecycle_configuration(
            FileSystemId=fs, LifecyclePolicies=[]
        ),
        "backup": lambda fs: efs_client.describe_backup_policy(FileSystemId=fs),
    }
    for label, call in calls.items():
        for fs in (MISSING, "fs-29879313", ARN):
            with pytest.raises(ClientError) as e:
                call(fs)
            assert _error(e.value) == ("FileSystemNotFound", 404), (label, fs)
            assert e.value.response["Error"]["Message"] == (
                f"File system '{fs.rsplit('/', 1)[-1]}' does not exist."
            )
        # A malformed id is refused by its pattern, worded as AWS words it.
        with pytest.raises(ClientError) as e:
            call("testvolume-wscc7")
        assert _error(e.value) == ("ValidationException", 400), label
        assert (
            "Value 'testvolume-wscc7' at 'fileSystemId' failed to satisfy constraint"
            in (e.value.response["Error"]["Message"])
        )


def test_size_reports_its_storage_classes(efs_client: Any) -> None:
    fs_id = _fs(efs_client)
    size = efs_client.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["SizeInBytes"]
    assert size["ValueInIA"] == 0 and size["ValueInArchive"] == 0
    assert size["Value"] == size["ValueInStandard"] + size["ValueInIA"] + size["ValueInArchive"]


def test_lifecycle_configuration_is_checked(efs_client: Any) -> None:
    fs_id = _fs(efs_client)
    assert (
        efs_client.describe_lifecycle_configuration(FileSystemId=fs_id)["LifecyclePolicies"] == []
    )
    bad = [
        [{"TransitionToIA": "AFTER_30_DAYS", "TransitionToArchive": "AFTER_90_DAYS"}],
        [{"TransitionToIA": "AFTER_30_DAYS"}, {"TransitionToIA": "AFTER_7_DAYS"}],
        [{}],
    ]
    for policies in bad:
        with pytest.raises(ClientError) as e:
            efs_client.put_lifecycle_configuration(FileSystemId=fs_id, LifecyclePolicies=policies)
        assert _error(e.value) == ("BadRequest", 400), policies
    with pytest.raises(ClientError) as e:
        efs_client.put_lifecycle_configuration(
            FileSystemId=fs_id, LifecyclePolicies=[{"TransitionToIA": "AFTER_2_DAYS"}]
        )
    assert _error(e.value) == ("ValidationException", 400)
    assert (
        efs_client.describe_lifecycle_configuration(FileSystemId=fs_id)["LifecyclePolicies"] == []
    )
    with pytest.raises(ClientError) as e:
        efs_client.put_backup_policy(FileSystemId=fs_id, BackupPolicy={"Status": "ENABLING"})
    assert _error(e.value) == ("BadRequest", 400)


def test_mount_target_addresses_shoal_cannot_use_are_a_400(
    server: ShoalServer, efs_client: Any
) -> None:
    fs_id = _fs(efs_client)
    subnet = default_subnet(server)
    for address in ("192.0.2.77", "999.1.1.1"):  # not this host's (TEST-NET-1); not an address
        with pytest.raises(ClientError) as e:
            efs_client.create_mount_target(FileSystemId=fs_id, SubnetId=subnet, IpAddress=address)
        assert _error(e.value) == ("BadRequest", 400), address
        assert address in e.value.response["Error"]["Message"]
    # Nothing was made, and the file system can still get its mount target.
    assert efs_client.describe_mount_targets(FileSystemId=fs_id)["MountTargets"] == []
    made = efs_client.create_mount_target(
        FileSystemId=fs_id, SubnetId=subnet, IpAddress="127.0.0.1"
    )
    assert made["IpAddress"] == "127.0.0.1"
    efs_client.delete_mount_target(MountTargetId=made["MountTargetId"])


@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <_io.FileIO:pytest.PytestUnraisableExceptionWarning"
)
def test_lifecycle_and_backup_policies_are_kept_across_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_server(data_dir)
    policies = [{"TransitionToIA": "AFTER_30_DAYS"}, {"TransitionToArchive": "AFTER_90_DAYS"},
                {"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"}]  # fmt: skip
    try:
        efs = first.client("efs")
        regional = _fs(efs)
        one_zone = _fs(efs, AvailabilityZoneName="us-east-1a")
        one_zone_off = _fs(efs, AvailabilityZoneName="us-east-1a", Backup=False)
        regional_on = _fs(efs, Backup=True)
        put = efs.put_lifecycle_configuration(FileSystemId=regional, LifecyclePolicies=policies)
        assert put["LifecyclePolicies"] == policies
        out = efs.put_backup_policy(FileSystemId=regional, BackupPolicy={"Status": "ENABLED"})
        assert out["BackupPolicy"] == {"Status": "ENABLED"}
        efs.put_backup_policy(FileSystemId=one_zone, BackupPolicy={"Status": "DISABLED"})
        doomed = _fs(efs, Backup=True)
        efs.put_lifecycle_configuration(FileSystemId=doomed, LifecyclePolicies=policies[:1])
        efs.delete_file_system(FileSystemId=doomed)
        fresh_one_zone = _fs(efs, AvailabilityZoneName="us-east-1a")
    finally:
        assert first.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    second = start_server(data_dir)
    try:
        efs = second.client("efs")
        got = efs.describe_lifecycle_configuration(FileSystemId=regional)
        assert got["LifecyclePolicies"] == policies
        status = {
            fs: efs.describe_backup_policy(FileSystemId=fs)["BackupPolicy"]["Status"]
            for fs in (regional, one_zone, one_zone_off, regional_on, fresh_one_zone)
        }
        assert status == {
            regional: "ENABLED",
            one_zone: "DISABLED",
            one_zone_off: "DISABLED",
            regional_on: "ENABLED",
            fresh_one_zone: "ENABLED",
        }
        # Removing the policies: an empty list.
        efs.put_lifecycle_configuration(FileSystemId=regional, LifecyclePolicies=[])
        assert (
            efs.describe_lifecycle_configuration(FileSystemId=regional)["LifecyclePolicies"] == []
        )
    finally:
        second.stop()
    # The deleted file system left no settings behind.
    db = sqlite3.connect(str(data_dir / "shoal.db"))
    keys = {k for (k,) in db.execute("SELECT key FROM resources WHERE kind LIKE 'fs%'")}
    db.close()
    assert doomed not in keys and regional in keys
