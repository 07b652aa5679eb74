"""The POSIX conformance suite on a throttled file system: a provisioned 8 MiB/s file system
on a volume of its own, whose device the server holds to 8 MiB/s written and 24 MiB/s read.
Throttling is below the file system (the block device), so every check must pass unchanged,
inside a function and on the host tree alike."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import posix_checks
import pytest

from conftest import ROOT, RUNTIME, ShoalServer, make_zip, start_server, unique_name, wait_for
from seed_setup import SEED_ROOT_DIRECTORY
from shoal.filesystems import blkio

sys.path.insert(0, str(ROOT / "tests" / "process" / "filesystems"))
from loop_volume import loop_volume  # noqa: E402

MiB = 1 << 20
HANDLER = """
import os
import posix_checks

def handler(event, context):
    return {"uid": os.getuid(), "results": posix_checks.run_all("/mnt/fs", event.get("only"))}
"""


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("throttled")
    srv: ShoalServer = start_server(base / "data")
    try:
        efs, lam = srv.client("efs"), srv.client("lambda")
        fs_id = efs.create_file_system(
            CreationToken=unique_name("posix-throttled"), ThroughputMode="provisioned",
            ProvisionedThroughputInMibps=8.0,
        )["FileSystemId"]  # fmt: skip
        root = srv.data_dir / "filesystems" / fs_id
        with loop_volume(root) as dev:
            wait_for(lambda: blkio.limits(dev) == (24 * MiB, 8 * MiB), timeout=10)
            ap = efs.create_access_point(FileSystemId=fs_id, PosixUser={"Uid": 1001, "Gid": 1001},
                                         RootDirectory=SEED_ROOT_DIRECTORY)  # fmt: skip
            name = unique_name("posix-throttled")
            checks = Path(posix_checks.__file__).read_text()
            lam.create_function(
                FunctionName=name, Runtime=RUNTIME,
                Role="arn:aws:iam::123456789012:role/lambda-role", Handler="app.handler",
                Code={"ZipFile": make_zip({"app.py": HANDLER, "posix_checks.py": checks})},
                Timeout=300, MemorySize=512,
                FileSystemConfigs=[{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/fs"}],
            )  # fmt: skip
            lam.get_waiter("function_active_v2").wait(FunctionName=name)
            yield {"srv": srv, "name": name, "root": root, "dev": dev}
            srv.stop()  # the server removes its rules at stop
            assert blkio.limits(dev) == (None, None)
    finally:
        srv.stop()


def test_every_check_passes_inside_a_function_on_a_throttled_file_system(
    throttled: dict[str, Any],
) -> None:
    lam = throttled["srv"].client("lambda")
    r = lam.invoke(FunctionName=throttled["name"], Payload=b"{}")
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    assert body["uid"] == 1001
    assert set(body["results"]) == set(posix_checks.CHECKS)
    assert {k: v for k, v in body["results"].items() if v != "ok"} == {}
    assert blkio.limits(throttled["dev"]) == (24 * MiB, 8 * MiB)  # it was throttled throughout


@pytest.mark.parametrize("check", sorted(posix_checks.CHECKS))
def test_every_check_passes_on_the_host_tree_of_a_throttled_file_system(
    throttled: dict[str, Any], check: str
) -> None:
    where = throttled["root"] / unique_name("host")
    where.mkdir()
    posix_checks.run(check, str(where))
