"""``shoal backup`` and ``shoal restore`` across a restart, as a user runs them.

A server with functions (a version, an alias, a file system mounted through an access point),
and an HTTP API is backed up while it runs; then it stops, its data directory is wiped and
restored, and the new server has everything, invokable, with the file-system tree's owners and
modes as they were. Restore refuses a running server's directory and a non-empty one. Layers
come back too, and so do the root credentials and ``--tls auto`` CA a server made: its clients
sign and verify as before.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import ssl
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from conftest import LAMBDA_TRUST, ROOT, RUNTIME, SHOAL, create_function, make_zip, start_server

WRITER = """
import os

def handler(event, context):
    path = "/mnt/fs/data/" + event.get("name", "x")
    if "write" in event:
        os.makedirs("/mnt/fs/data", exist_ok=True)
        with open(path, "w") as f:
            f.write(event["write"])
    with open(path) as f:
        return f.read()
"""

pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <_io.FileIO:pytest.PytestUnraisableExceptionWarning"
)


def shoal(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHOAL, *argv], capture_output=True, text=True, timeout=120, cwd=ROOT)


def invoke(lam: Any, name: str, event: dict[str, str]) -> Any:
    r = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    return body


def tree(root: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """Every path under ``root``: (uid, gid, mode, content of a file)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            content = p.read_bytes() if p.is_file() else b""
            out[str(p.relative_to(root))] = (st.st_uid, st.st_gid, st.st_mode, content)
    return out


def test_backup_while_running_then_restore_into_a_wiped_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    backup_file = tmp_path / "backups" / "shoal.tar.gz"
    backup_file.parent.mkdir()
    srv = start_server(data)
    try:
        lam: Any = srv.client("lambda")
        efs: Any = srv.client("efs")
        apigw: Any = srv.client("apigatewayv2")
        fs_id = efs.create_file_system(CreationToken="backed-up")["FileSystemId"]
        ap = efs.create_access_point(
            FileSystemId=fs_id,
            PosixUser={"Uid": 1001, "Gid": 1001},
            RootDirectory={
                "Path": "/message",
                "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "750"},
            },
        )
        name = create_function(
            lam, code=WRITER,
            FileSystemConfigs=[{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/fs"}],
        )  # fmt: skip
        lam.publish_version(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        assert invoke(lam, f"{name}:live", {"write": "hello"}) == "hello"
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        api_id = apigw.create_api(Name="backed-up", ProtocolType="HTTP", Target=arn)["ApiId"]
        before = tree(data / "filesystems" / fs_id)
        assert before["message/data/x"][:2] == (1001, 1001)

        made = shoal("backup", str(backup_file), "--data-dir", str(data))
        assert made.returncode == 0, made.stderr
        assert "1 code packages, 0 layer packages, with file-system trees" in made.stdout
        # A running server's directory is never restored over.
        busy = shoal("restore", str(backup_file), "--data-dir", str(data), "--force")
        assert busy.returncode == 1 and "is using" in busy.stderr, busy.stderr
        assert "Traceback" not in busy.stderr
        # Changes after the backup are not in it.
        lam.delete_alias(FunctionName=name, Name="live")
    finally:
        srv.stop()

    refused = shoal("restore", str(backup_file), "--data-dir", str(data))
    assert refused.returncode == 1 and "not empty" in refused.stderr, refused.stderr
    shutil.rmtree(data)
    done = shoal("restore", str(backup_file), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr

    assert tree(data / "filesystems" / fs_id) == before
    again = start_server(data)
    try:
        lam = again.client("lambda")
        efs = again.client("efs")
        apigw = again.client("apigatewayv2")
        assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == [name]
        assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
        assert invoke(lam, f"{name}:live", {}) == "hello"
        assert invoke(lam, name, {"name": "y", "write": "after"}) == "after"
        (restored_ap,) = efs.describe_access_points(FileSystemId=fs_id)["AccessPoints"]
        assert restored_ap["AccessPointId"] == ap["AccessPointId"]
        assert restored_ap["PosixUser"] == {"Uid": 1001, "Gid": 1001}
        endpoint = apigw.get_api(ApiId=api_id)["ApiEndpoint"]
        with urllib.request.urlopen(endpoint + "/anything", timeout=60) as response:
            assert response.read() == b"hello"
    finally:
        again.stop()


def test_backup_without_file_systems_and_restore_with_force(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        lam: Any = srv.client("lambda")
        name = create_function(lam, code="def handler(e, c):\n    return 'kept'\n")
        fs_id = srv.client("efs").create_file_system(CreationToken="t")["FileSystemId"]  # type: ignore[attr-defined]
        (data / "filesystems" / fs_id / "file").write_text("not in the backup")
        made = shoal("backup", str(tmp_path / "b.tar"), "--data-dir", str(data),
                     "--no-file-systems")  # fmt: skip
        assert made.returncode == 0, made.stderr
        lam.delete_function(FunctionName=name)
    finally:
        srv.stop()
    done = shoal("restore", str(tmp_path / "b.tar"), "--data-dir", str(data), "--force")
    assert done.returncode == 0, done.stderr
    again = start_server(data)
    try:
        # Trees the backup does not hold are left as they are (in their volumes, mounted again).
        assert (data / "filesystems" / fs_id / "file").read_text() == "not in the backup"
        lam = again.client("lambda")
        assert lam.invoke(FunctionName=name)["Payload"].read() == b'"kept"'
    finally:
        again.stop()


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar"
    bogus.write_bytes(b"not a tar file")
    result = shoal("restore", str(bogus), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1
    assert "is not a Shoal backup" in result.stderr and "Traceback" not in result.stderr


def test_restore_without_trees_into_a_new_directory_gives_each_file_system_its_root(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        efs: Any = srv.client("efs")
        fs_id = efs.create_file_system(CreationToken="roots")["FileSystemId"]
        made = shoal("backup", str(tmp_path / "b.tar"), "--data-dir", str(data),
                     "--no-file-systems")  # fmt: skip
        assert made.returncode == 0, made.stderr
    finally:
        srv.stop()
    fresh = tmp_path / "fresh"
    assert shoal("restore", str(tmp_path / "b.tar"), "--data-dir", str(fresh)).returncode == 0
    root = fresh / "filesystems" / fs_id
    assert root.is_dir() and oct(root.stat().st_mode & 0o7777) == "0o755"


LAYERED = "import greeting\n\ndef handler(event, context):\n    return greeting.WORDS\n"
OWN_CREDENTIALS = {"SHOAL_ROOT_ACCESS_KEY_ID": "", "SHOAL_ROOT_SECRET_ACCESS_KEY": ""}


def own_client(srv: Any, service: str, ca: Path) -> Any:
    """A client signing with the root credentials the server made, trusting its CA."""
    keys = configparser.ConfigParser()
    keys.read(srv.data_dir / "credentials")
    return boto3.client(
        service, endpoint_url=srv.endpoint, region_name="us-east-1", verify=str(ca),
        aws_access_key_id=keys["shoal"]["aws_access_key_id"],
        aws_secret_access_key=keys["shoal"]["aws_secret_access_key"],
        config=Config(retries={"max_attempts": 0}, read_timeout=120),
    )  # fmt: skip


def test_layers_credentials_and_the_local_ca_come_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    backup_file = tmp_path / "shoal.tar"
    ca = tmp_path / "ca.pem"  # what a client was given to trust, kept apart from the server
    srv = start_server(data, "--tls", "auto", env=OWN_CREDENTIALS, execution_role=False)
    try:
        shutil.copy(data / "tls" / "ca.pem", ca)
        lam = own_client(srv, "lambda", ca)
        role = own_client(srv, "iam", ca).create_role(
            RoleName="layered", AssumeRolePolicyDocument=LAMBDA_TRUST
        )["Role"]["Arn"]
        layer = lam.publish_layer_version(
            LayerName="greeting",
            Content={"ZipFile": make_zip({"python/greeting.py": "WORDS = 'from a layer'\n"})},
        )
        lam.create_function(
            FunctionName="layered", Runtime=RUNTIME, Role=role, Handler="app.handler",
            Code={"ZipFile": make_zip({"app.py": LAYERED})}, Layers=[layer["LayerVersionArn"]],
        )  # fmt: skip
        lam.get_waiter("function_active_v2").wait(
            FunctionName="layered", WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
        )
        assert lam.invoke(FunctionName="layered")["Payload"].read() == b'"from a layer"'
        made = shoal("backup", str(backup_file), "--data-dir", str(data))
        assert made.returncode == 0, made.stderr
        assert "1 code packages, 1 layer packages" in made.stdout, made.stdout
    finally:
        srv.stop()
    # It holds the credentials, IAM keys and variables: the owner's alone.
    assert backup_file.stat().st_mode & 0o777 == 0o600
    credentials = (data / "credentials").read_text()
    shutil.rmtree(data)
    done = shoal("restore", str(backup_file), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "1 code packages, 1 layer packages" in done.stdout, done.stdout
    assert (data / "credentials").read_text() == credentials

    again = start_server(data, "--tls", "auto", env=OWN_CREDENTIALS, execution_role=False)
    try:
        # The same keys and the same CA: the client is the one from before the backup.
        assert (data / "tls" / "ca.pem").read_bytes() == ca.read_bytes()
        lam = own_client(again, "lambda", ca)
        assert lam.invoke(FunctionName="layered")["Payload"].read() == b'"from a layer"'
        got = lam.get_layer_version(LayerName="greeting", VersionNumber=1)
        assert got["Content"]["CodeSha256"] == layer["Content"]["CodeSha256"]
        with urllib.request.urlopen(
            got["Content"]["Location"], context=ssl.create_default_context(cafile=str(ca))
        ) as r:
            assert r.read() == make_zip({"python/greeting.py": "WORDS = 'from a layer'\n"})
    finally:
        again.stop()
