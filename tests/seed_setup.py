"""The seed article's set-up, as the tests and benchmarks make it through boto3: its file
system and access point (POSIX user 1001/1001, root ``/message`` created 1001:1001 mode 750),
its MessageWall handler exactly as printed, and the HTTP API in front of it."""

from __future__ import annotations

from typing import Any

from conftest import ROOT, RUNTIME, make_role, make_zip, unique_name, wait_for

# The article's handler, byte for byte as printed, kept in the repository as the example's code.
SEED_HANDLER = ROOT / "examples" / "message_wall" / "lambda_function.py"
ROLE_NAME = "MessageWall-role"
SEED_ROOT_DIRECTORY = {
    "Path": "/message",
    "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "750"},
}


def article_handler() -> str:
    """The article's code, from ``import os`` to ``return messages``, exactly as printed."""
    return SEED_HANDLER.read_text()


# The kinds of file system the POSIX suite runs on: every check must pass on each.
POSIX_KINDS = ("plain", "encrypted", "throttled")
THROTTLED_MIBPS = 8


def seed_access_point(efs: Any, token: str = "seed", encrypted: bool = False,
                      provisioned_mibps: float | None = None) -> dict[str, Any]:  # fmt: skip
    """A new file system with the article's access point, both ``available``."""
    throughput: dict[str, Any] = {}
    if provisioned_mibps is not None:
        throughput = {"ThroughputMode": "provisioned",
                      "ProvisionedThroughputInMibps": float(provisioned_mibps)}  # fmt: skip
    fs_id = efs.create_file_system(CreationToken=unique_name(token), Encrypted=encrypted,
                                   **throughput)["FileSystemId"]  # fmt: skip
    wait_for(lambda: efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0][
        "LifeCycleState"] == "available")  # fmt: skip
    ap: dict[str, Any] = efs.create_access_point(
        FileSystemId=fs_id, PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory=SEED_ROOT_DIRECTORY,
    )
    wait_for(lambda: efs.describe_access_points(AccessPointId=ap["AccessPointId"])[
        "AccessPoints"][0]["LifeCycleState"] == "available")  # fmt: skip
    return ap


def message_wall(efs: Any, lam: Any, apigw: Any) -> tuple[str, str]:
    """Everything the article sets up; returns (function name, the API's MessageWall URL)."""
    access_point = seed_access_point(efs, "msg-fs")
    name = unique_name("MessageWall")
    lam.create_function(
        FunctionName=name,
        Runtime=RUNTIME,
        Role=make_role(lam.meta.endpoint_url, ROLE_NAME),
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": make_zip({"lambda_function.py": article_handler()})},
        FileSystemConfigs=[{"Arn": access_point["AccessPointArn"], "LocalMountPath": "/mnt/msg"}],
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    function_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api = apigw.create_api(Name=f"{name}-API", ProtocolType="HTTP")
    integration = apigw.create_integration(
        ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=function_arn,
        PayloadFormatVersion="2.0",
    )
    apigw.create_route(
        ApiId=api["ApiId"], RouteKey="ANY /MessageWall",
        Target=f"integrations/{integration['IntegrationId']}",
    )
    apigw.create_stage(ApiId=api["ApiId"], StageName="default", AutoDeploy=True)
    return name, f"{api['ApiEndpoint']}/default/MessageWall"


def posix_access_point(srv: Any, efs: Any, kind: str) -> dict[str, Any]:
    """The POSIX suite's access point on a file system of ``kind`` (:data:`POSIX_KINDS`); a
    throttled one is provisioned at 8 MiB/s and returned once its device is held to it (8 MiB/s
    written, 24 read)."""
    from shoal.filesystems import blkio

    mibps = THROTTLED_MIBPS if kind == "throttled" else None
    ap = seed_access_point(efs, "posix", encrypted=kind == "encrypted", provisioned_mibps=mibps)
    if kind == "throttled":
        dev = blkio.loop_device_of(srv.data_dir / "filesystems" / ap["FileSystemId"])
        assert dev is not None
        want = (3 * THROTTLED_MIBPS << 20, THROTTLED_MIBPS << 20)
        wait_for(lambda: blkio.limits(dev) == want, timeout=10)
    return ap
