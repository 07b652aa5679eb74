"""The ``shoal fs`` commands as a user types them, against a running server: the README's
file-system walk-through (create, access point, policy, mount, install files, du, unmount)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ShoalServer, unique_name


def shoal(server: ShoalServer, *argv: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHOAL_ENDPOINT": server.endpoint}
    result = subprocess.run([sys.executable, "-m", "shoal", *argv], capture_output=True,
                            text=True, timeout=120, env=env)  # fmt: skip
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def test_file_system_walk_through(server: ShoalServer, tmp_path: Path) -> None:
    name = unique_name("wall")
    fs = json.loads(shoal(server, "fs", "create", "--name", name).stdout)
    fs_id = fs["FileSystemId"]
    assert fs["ThroughputMode"] == "elastic" and fs["Name"] == name
    assert fs_id in shoal(server, "fs", "list").stdout
    ap = json.loads(shoal(server, "fs", "access-point", "create", fs_id, "--uid", "1001",
                          "--gid", "1001", "--path", "/ml", "--permissions", "750",
                          "--name", "ml").stdout)  # fmt: skip
    ap_id = ap["AccessPointId"]
    assert ap["RootDirectory"]["CreationInfo"] == {
        "OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "750"}  # fmt: skip
    listed = shoal(server, "fs", "access-point", "list", fs_id).stdout
    assert ap_id in listed and "1001:1001" in listed and "/ml" in listed
    got = json.loads(shoal(server, "fs", "get", fs_id).stdout)
    assert [a["AccessPointId"] for a in got["AccessPoints"]] == [ap_id]

    # Populate it from the host, as the seed does with pip install -t.
    target = tmp_path / "efs"
    out = shoal(server, "fs", "mount", fs_id, str(target), "--access-point", ap_id).stdout
    assert "acting as 1001:1001" in out
    try:
        (target / "lib" / "pkg").mkdir(parents=True)
        (target / "lib" / "pkg" / "__init__.py").write_bytes(b"x" * 300_000)
        disk = server.data_dir / "filesystems" / fs_id / "ml" / "lib" / "pkg" / "__init__.py"
        assert (disk.stat().st_uid, disk.stat().st_gid) == (1001, 1001)
        du = shoal(server, "fs", "du", fs_id).stdout.splitlines()
        assert du[0].endswith("  /") and any(line.endswith("  /ml/lib") for line in du)
    finally:
        shoal(server, "fs", "unmount", str(target))
    assert not (target / "lib").exists()

    policy = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*",
                                        "Action": "elasticfilesystem:ClientMount"}]})  # fmt: skip
    shoal(server, "fs", "policy", "put", fs_id, policy)
    assert json.loads(shoal(server, "fs", "policy", "get", fs_id).stdout) == json.loads(policy)
    ro = shoal(server, "fs", "mount", fs_id, str(target), "--access-point", ap_id).stdout
    try:
        assert "read-only" in ro
        try:
            (target / "new").write_text("x")
            raise AssertionError("wrote through a read-only mount")
        except OSError as e:
            assert e.errno == 30  # EROFS
    finally:
        shoal(server, "fs", "unmount", str(target))
    shoal(server, "fs", "policy", "delete", fs_id)
    missing = shoal(server, "fs", "policy", "get", fs_id, ok=False)
    assert missing.returncode != 0 and "PolicyNotFound" in missing.stderr

    mt = json.loads(shoal(server, "fs", "mount-target", "create", fs_id).stdout)
    assert mt["MountTargetId"] in shoal(server, "fs", "mount-target", "list", fs_id).stdout
    busy = shoal(server, "fs", "delete", fs_id, ok=False)
    assert busy.returncode != 0 and "FileSystemInUse" in busy.stderr
    shoal(server, "fs", "mount-target", "delete", mt["MountTargetId"])
    shoal(server, "fs", "access-point", "delete", ap_id)
    shoal(server, "fs", "delete", fs_id)
    assert fs_id not in shoal(server, "fs", "list").stdout
