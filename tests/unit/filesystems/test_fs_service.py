"""FileSystemService without a server: mounts_for, policies, idempotency, deletion rules."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shoal.config import Settings
from shoal.errors import AwsError
from shoal.filesystems.models import CreationInfo, PosixUser
from shoal.filesystems.service import FileSystemService
from shoal.functions.models import FileSystemConfig, FunctionVersion
from shoal.store.sqlite import Store

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


@dataclass
class FakeHttp:
    mounts: list[tuple[str, Any]] = field(default_factory=list)

    def mount(self, prefix: str, app: Any) -> None:
        self.mounts.append((prefix, app))


@dataclass
class FakeFunctions:
    versions: list[FunctionVersion] = field(default_factory=list)

    def all_versions(self) -> list[FunctionVersion]:
        return self.versions


class FakeShoal:
    def __init__(self, data: Path) -> None:
        self.settings = Settings(data_dir=data)
        self.settings.fs_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.settings.db_path)
        self.http = FakeHttp()
        self.functions = FakeFunctions()


@pytest.fixture
def shoal(tmp_path: Path) -> Iterator[FakeShoal]:
    s = FakeShoal(tmp_path)
    yield s
    s.store.close()


def service(shoal: FakeShoal) -> FileSystemService:
    return FileSystemService(shoal)  # type: ignore[arg-type]


def fn(*arns: str, role: str = ROLE) -> FunctionVersion:
    return FunctionVersion(
        name="f", version="$LATEST",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        runtime="python3.11", handler="app.handler", role=role, code_dir="/nonexistent",
        code_sha256="", code_size=0,
        file_system_configs=tuple(FileSystemConfig(a, f"/mnt/m{i}") for i, a in enumerate(arns)),
    )  # fmt: skip


def test_ids_and_arns_have_aws_shapes(shoal: FakeShoal) -> None:
    svc = service(shoal)
    fs = svc.create_file_system("tok")
    ap = svc.create_access_point(fs.id, "c")
    assert fs.id.startswith("fs-") and len(fs.id) == 20
    assert ap.id.startswith("fsap-") and len(ap.id) == 22
    assert fs.arn == f"arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/{fs.id}"
    assert ap.arn.endswith(f":access-point/{ap.id}")
    assert ("/shoal/fs/", svc.targets.service.shoal.http.mounts[0][1]) == shoal.http.mounts[0]


def test_state_survives_a_restart(shoal: FakeShoal) -> None:
    svc = service(shoal)
    fs = svc.create_file_system("tok", tags=[("Name", "n")])
    ap = svc.create_access_point(
        fs.id,
        "c",
        posix_user=PosixUser(1, 2, (3,)),
        path="/x",
        creation_info=CreationInfo(1, 2, "700"),
    )
    svc.policies.put(fs.id, json.dumps({"Statement": []}))
    again = service(shoal)
    assert again.get_file_system(fs.id) == fs
    assert again.get_access_point(ap.id) == ap
    assert again.policies.get(fs.id) == json.dumps({"Statement": []})


def test_mounts_for_creates_root_and_runs_as_posix_user(shoal: FakeShoal) -> None:
    svc = service(shoal)
    fs = svc.create_file_system("tok")
    ap = svc.create_access_point(
        fs.id,
        "c",
        posix_user=PosixUser(1001, 1002, (7, 8)),
        path="/message",
        creation_info=CreationInfo(1001, 1001, "750"),
    )
    root = svc.root(fs.id) / "message"
    assert not root.exists()  # created at first mount, not at CreateAccessPoint
    ident = svc.mounts_for(fn(ap.arn))
    assert (ident.uid, ident.gid, ident.groups) == (1001, 1002, (7, 8))
    assert [(m.source, m.target, m.readonly) for m in ident.mounts] == [
        (str(root), "/mnt/m0", False)
    ]
    st = root.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1001, 1001, 0o750)


def test_no_file_system_means_default_user(shoal: FakeShoal) -> None:
    ident = service(shoal).mounts_for(fn())
    assert ident.mounts == () and ident.uid is None


def test_mount_failures(shoal: FakeShoal) -> None:
    svc = service(shoal)
    fs = svc.create_file_system("tok")
    missing = svc.create_access_point(fs.id, "a", path="/nope")
    with pytest.raises(AwsError, match="does not exist") as e:
        svc.mounts_for(fn(missing.arn))
    assert e.value.code == "EFSMountFailureException"
    with pytest.raises(AwsError) as e:
        svc.mounts_for(fn(missing.arn.replace(missing.id, "fsap-00000000000000000")))
    assert e.value.code == "EFSMountFailureException"
    rooted = svc.create_access_point(fs.id, "b", posix_user=PosixUser(0, 0))
    with pytest.raises(AwsError, match="never run as root"):
        svc.mounts_for(fn(rooted.arn))


def test_policy_decides_mount_write_and_root_squash(shoal: FakeShoal) -> None:
    svc = service(shoal)
    fs = svc.create_file_system("tok")
    ap = svc.create_access_point(fs.id, "c", posix_user=PosixUser(0, 0))
    mount_only = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ROLE},
                "Action": "elasticfilesystem:ClientMount",
            }
        ]
    }
    svc.policies.put(fs.id, json.dumps(mount_only))
    ident = svc.mounts_for(fn(ap.arn))
    assert ident.mounts[0].readonly
    assert (ident.uid, ident.gid) == (65534, 65534)  # root squashed
    with pytest.raises(AwsError, match="ClientMount") as e:
        svc.mounts_for(fn(ap.arn, role="arn:aws:iam::123456789012:role/other"))
    assert e.value.code == "EFSMountFailureException"
    svc.policies.delete(fs.id)
    with pytest.raises(AwsError) as e:
        svc.policies.get(fs.id)
    assert e.value.code == "PolicyNotFound"


def test_creation_token_and_client_token_idempotency(shoal: FakeShoal) -> None:
    svc = service(shoal)
    fs = svc.create_file_system("tok")
    with pytest.raises(AwsError) as e:
        svc.create_file_system("tok")
    assert e.value.code == "FileSystemAlreadyExists"
    assert e.value.fields == {"FileSystemId": fs.id}
    ap = svc.create_access_point(fs.id, "c", path="/a")
    assert svc.create_access_point(fs.id, "c", path="/a") == ap
    with pytest.raises(AwsError) as e:
        svc.create_access_point(fs.id, "c", path="/b")
    assert e.value.code == "AccessPointAlreadyExists"


@pytest.mark.parametrize("path", ["a", "/a/b/c/d/e", "/a/../b", "/a//b", "/.hidden"])
def test_bad_root_paths(shoal: FakeShoal, path: str) -> None:
    svc = service(shoal)
    fs = svc.create_file_system("tok")
    with pytest.raises(AwsError) as e:
        svc.create_access_point(fs.id, "c", path=path)
    assert e.value.code == "BadRequest"


def test_throughput_rules(shoal: FakeShoal) -> None:
    svc = service(shoal)
    with pytest.raises(AwsError, match="required"):
        svc.create_file_system("a", throughput_mode="provisioned")
    with pytest.raises(AwsError, match="only when"):
        svc.create_file_system("b", throughput_mode="elastic", provisioned=10.0)
    with pytest.raises(AwsError) as e:
        svc.create_file_system("c", throughput_mode="provisioned", provisioned=100000.0)
    assert e.value.code == "ThroughputLimitExceeded"
    fs = svc.create_file_system("d", throughput_mode="provisioned", provisioned=64.0)
    fs = svc.update_file_system(fs.id, "elastic", None)
    assert (fs.throughput_mode, fs.provisioned_throughput) == ("elastic", None)


def test_delete_refused_while_a_function_uses_it(shoal: FakeShoal) -> None:
    async def run() -> None:
        svc = service(shoal)
        fs = svc.create_file_system("tok")
        ap = svc.create_access_point(fs.id, "c")
        (svc.root(fs.id) / "data").write_text("x")
        shoal.functions.versions.append(fn(ap.arn))
        with pytest.raises(AwsError) as e:
            svc.delete_file_system(fs.id)
        assert e.value.code == "FileSystemInUse"
        shoal.functions.versions.clear()
        svc.delete_file_system(fs.id)
        await svc.stop()
        assert not svc.root(fs.id).exists()
        assert svc.access_points() == []
        with pytest.raises(AwsError) as e:
            svc.get_file_system(fs.id)
        assert e.value.code == "FileSystemNotFound"
        assert list(shoal.settings.fs_dir.iterdir()) == []

    asyncio.run(run())


NO_ROOT_POLICY = {
    "Statement": [{
        "Effect": "Allow", "Principal": "*",
        "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
    }]
}  # fmt: skip
READ_ONLY_POLICY = {
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "elasticfilesystem:ClientMount"}]
}


@pytest.mark.parametrize(
    ("user", "doc", "function_user", "nfs", "whole_nfs"),
    [
        # (PosixUser, policy) -> the function's (uid, gid, groups, read-only), the AP export's
        # (squash uid, gid, root squash, read-only) and the whole-file-system export's.
        (PosixUser(1001, 1002, (7,)), None, (1001, 1002, (7,), False), (1001, 1002, False, False),
         (None, None, False, False)),
        (PosixUser(0, 0, (0,)), NO_ROOT_POLICY, (65534, 65534, (), False),
         (65534, 65534, False, False), (None, None, True, False)),
        (PosixUser(1001, 1002), READ_ONLY_POLICY, (1001, 1002, (), True),
         (1001, 1002, False, True), (None, None, True, True)),
        (None, NO_ROOT_POLICY, (None, None, (), False), (None, None, True, False),
         (None, None, True, False)),
        (None, None, (None, None, (), False), (None, None, False, False),
         (None, None, False, False)),
    ],
)
def test_functions_and_nfs_exports_apply_the_same_rule(
    shoal: FakeShoal, user: PosixUser | None, doc: Any, function_user: Any, nfs: Any,
    whole_nfs: Any,
) -> None:  # fmt: skip
    svc = service(shoal)
    fs = svc.create_file_system("tok")
    ap = svc.create_access_point(fs.id, "c", posix_user=user)
    if doc is not None:
        svc.policies.put(fs.id, json.dumps(doc))
    ident = svc.mounts_for(fn(ap.arn))
    assert (ident.uid, ident.gid, ident.groups, ident.mounts[0].readonly) == function_user
    whole, export = svc.targets.exports(fs.id)
    assert (export.squash_uid, export.squash_gid, export.root_squash, export.readonly) == nfs
    assert (whole.squash_uid, whole.squash_gid, whole.root_squash, whole.readonly) == whole_nfs
