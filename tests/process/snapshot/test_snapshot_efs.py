"""Snapshot starts with a file system: every restored environment has the access point
mounted, runs as its POSIX user, and the template's init wrote to it exactly once."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import create_function, unique_name

APP = """
import os, time
with open("/mnt/fs/init-runs", "a") as f:
    f.write(f"{time.time()}\\n")

def handler(event, context):
    name = os.uname().nodename
    time.sleep(0.3)
    with open(f"/mnt/fs/from-{name}", "w") as f:
        f.write(name)
    return {"env": name, "uid": os.getuid(), "gid": os.getgid(),
            "runs": open("/mnt/fs/init-runs").read().count("\\n"),
            "listing": sorted(os.listdir("/mnt/fs")), "tmp": os.listdir("/tmp")}
"""


def test_restored_environments_have_the_access_point(lambda_client: Any, efs_client: Any) -> None:
    fs_id = efs_client.create_file_system(CreationToken=unique_name("fs"))["FileSystemId"]
    ap = efs_client.create_access_point(
        FileSystemId=fs_id,
        PosixUser={"Uid": 1001, "Gid": 1002},
        RootDirectory={
            "Path": "/snap",
            "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1002, "Permissions": "750"},
        },
    )
    name = create_function(
        lambda_client,
        code=APP,
        Timeout=30,
        SnapStart={"ApplyOn": "PublishedVersions"},
        FileSystemConfigs=[{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/fs"}],
    )

    def invoke(_: int) -> Any:
        response = lambda_client.invoke(FunctionName=name, Payload=b"{}")
        body = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, body
        return body

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(invoke, range(4)))
    assert len({r["env"] for r in results}) == 4
    for r in results:
        assert (r["uid"], r["gid"]) == (1001, 1002)  # the access point's user
        assert r["runs"] == 1  # init wrote once, in the template
        assert r["tmp"] == []
    final = invoke(0)["listing"]
    assert final == sorted(["init-runs"] + [f"from-{r['env']}" for r in results])
