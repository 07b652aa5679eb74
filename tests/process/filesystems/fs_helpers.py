"""Helpers for the file-system process tests: access points and functions that use them, and
the ``shoal`` CLI as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from conftest import create_function, unique_name


def make_fs(efs: Any) -> str:
    return str(efs.create_file_system(CreationToken=unique_name("fs"))["FileSystemId"])


def make_ap(efs: Any, fs_id: str, uid: int = 1001, gid: int = 1001, path: str = "/message",
            mode: str = "750", secondary: list[int] | None = None) -> dict[str, Any]:  # fmt: skip
    user: dict[str, Any] = {"Uid": uid, "Gid": gid}
    if secondary:
        user["SecondaryGids"] = secondary
    return efs.create_access_point(  # type: ignore[no-any-return]
        FileSystemId=fs_id,
        PosixUser=user,
        RootDirectory={
            "Path": path,
            "CreationInfo": {"OwnerUid": uid, "OwnerGid": gid, "Permissions": mode},
        },
    )


def make_fn(lam: Any, code: str, ap_arn: str, mount: str = "/mnt/fs", **kwargs: Any) -> str:
    return create_function(  # type: ignore[no-any-return]
        lam,
        code=code,
        FileSystemConfigs=[{"Arn": ap_arn, "LocalMountPath": mount}],
        Timeout=kwargs.pop("Timeout", 60),
        **kwargs,
    )


def shoal_cli(srv: Any, *argv: str) -> subprocess.CompletedProcess[str]:
    """``shoal ARGV…`` against ``srv`` (``SHOAL_ENDPOINT``), as a user on the server's host."""
    env = {**os.environ, "SHOAL_ENDPOINT": srv.endpoint}
    return subprocess.run([sys.executable, "-m", "shoal", *argv], capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip


def invoke(lam: Any, name: str, event: Any = None) -> Any:
    r = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    return body


# A handler that runs the Python source in event["code"] and returns its `result`; tests
# probe the environment with small snippets instead of one function per probe.
PROBE = """
import errno, fcntl, json, os, time

def attempt(fn):
    try:
        return {"ok": fn()}
    except OSError as e:
        return {"errno": errno.errorcode.get(e.errno, str(e.errno)), "error": str(e)}

def handler(event, context):
    scope = {"attempt": attempt, "os": os, "fcntl": fcntl, "time": time, "errno": errno}
    exec(event["code"], scope)
    return scope.get("result")
"""
