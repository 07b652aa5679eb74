"""A full disk: every change the store cannot write is refused whole, in AWS's error shape.

The data directory is a small tmpfs filled to the last byte, so SQLite's own writes fail as
they would on a full disk (SQLITE_FULL), not a stand-in. Each refused change must be invisible
at once (Get/List) and after a restart, and the error must say that the disk is full.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, RUNTIME, ShoalServer, create_function, fill_disk, make_zip, start_server

CODE = "def handler(e, c):\n    return 1\n"


def refused(call: Callable[[], Any], code: str) -> str:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    assert err["Error"]["Code"] == code, err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 500
    message = str(err["Error"]["Message"])
    assert "disk is full" in message, message
    return message


def code_of(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def check_unchanged(srv: ShoalServer, fn: str, fs_id: str, api_id: str) -> None:
    """None of the refused changes is visible; what existed before is as it was."""
    lam: Any = srv.client("lambda")
    efs: Any = srv.client("efs")
    apigw: Any = srv.client("apigatewayv2")
    config = lam.get_function_configuration(FunctionName=fn)
    assert config["Description"] == "before"
    assert lam.list_tags(Resource=config["FunctionArn"])["Tags"] == {"t": "1"}
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=fn)["Versions"]] == [
        "$LATEST"
    ]
    assert lam.list_aliases(FunctionName=fn)["Aliases"] == []
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=fn)
    assert code_of(lambda: lam.get_function_event_invoke_config(FunctionName=fn)) == (
        "ResourceNotFoundException"
    )
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == [fn]
    assert code_of(lambda: lam.get_function(FunctionName="full-new")) == (
        "ResourceNotFoundException"
    )
    systems = efs.describe_file_systems()["FileSystems"]
    assert [f["FileSystemId"] for f in systems] == [fs_id]
    assert efs.describe_access_points(FileSystemId=fs_id)["AccessPoints"] == []
    assert efs.list_tags_for_resource(ResourceId=fs_id)["Tags"] == []
    apis = apigw.get_apis()["Items"]
    assert [a["ApiId"] for a in apis] == [api_id]
    assert apigw.get_routes(ApiId=api_id)["Items"] == []


@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <_io.FileIO:pytest.PytestUnraisableExceptionWarning"
)
def test_a_full_disk_refuses_every_change_whole(small_disk: Path) -> None:
    data = small_disk / "data"
    srv = start_server(data)
    try:
        lam: Any = srv.client("lambda")
        efs: Any = srv.client("efs")
        apigw: Any = srv.client("apigatewayv2")
        fn = create_function(lam, "full-old", code=CODE, Description="before", Tags={"t": "1"})
        fs_id = efs.create_file_system(CreationToken="full-old")["FileSystemId"]
        api_id = apigw.create_api(Name="full-old", ProtocolType="HTTP")["ApiId"]
        filler = fill_disk(small_disk)

        message = refused(
            lambda: lam.update_function_configuration(FunctionName=fn, Description="after"),
            "ServiceException",
        )
        assert str(data) in message  # where to free space
        # The package is already stored (same zip): only the metadata write can fail.
        refused(
            lambda: lam.create_function(
                FunctionName="full-new", Runtime=RUNTIME, Role=ROLE, Handler="app.handler",
                Code={"ZipFile": make_zip({"app.py": CODE})},
            ),
            "ServiceException",
        )  # fmt: skip
        # A new package: writing the zip itself fails.
        refused(
            lambda: lam.create_function(
                FunctionName="full-new", Runtime=RUNTIME, Role=ROLE, Handler="app.handler",
                Code={"ZipFile": make_zip({"app.py": CODE + "# other\n"})},
            ),
            "ServiceException",
        )  # fmt: skip
        refused(lambda: lam.publish_version(FunctionName=fn), "ServiceException")
        refused(
            lambda: lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="$LATEST"),
            "ServiceException",
        )
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:{fn}"
        refused(lambda: lam.tag_resource(Resource=arn, Tags={"u": "2"}), "ServiceException")
        refused(
            lambda: lam.put_function_concurrency(
                FunctionName=fn, ReservedConcurrentExecutions=5
            ),
            "ServiceException",
        )
        refused(
            lambda: lam.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=1),
            "ServiceException",
        )
        refused(lambda: lam.delete_function(FunctionName=fn), "ServiceException")
        refused(lambda: efs.create_file_system(CreationToken="full-new"), "InternalServerError")
        refused(lambda: efs.create_access_point(FileSystemId=fs_id), "InternalServerError")
        refused(
            lambda: efs.tag_resource(ResourceId=fs_id, Tags=[{"Key": "k", "Value": "v"}]),
            "InternalServerError",
        )
        refused(lambda: efs.delete_file_system(FileSystemId=fs_id), "InternalServerError")
        refused(lambda: apigw.create_api(Name="full-new", ProtocolType="HTTP"), "InternalFailure")
        refused(
            lambda: apigw.create_route(ApiId=api_id, RouteKey="GET /x"), "InternalFailure"
        )
        check_unchanged(srv, fn, fs_id, api_id)
        assert not (data / "filesystems").exists() or [
            p.name for p in (data / "filesystems").iterdir() if p.name != ".volumes"
        ] == [fs_id]  # (.volumes/ holds the volumes' own mounts, see shoal.filesystems.volumes)

        filler.unlink()  # space again: the same server takes changes again
        lam.update_function_configuration(FunctionName=fn, Description="before")
    finally:
        assert srv.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    again = start_server(data)
    try:
        check_unchanged(again, fn, fs_id, api_id)
    finally:
        again.stop()
