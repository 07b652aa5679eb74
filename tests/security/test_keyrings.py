"""Kernel keyrings are not namespaced: every process of one uid shares that uid's user keyring.
Without a filter, a function running as a local user's uid (an access point's PosixUser) could
plant or read that user's keys, and two functions of one uid could talk through them. The
environments' seccomp filter refuses the keyring calls (add_key, request_key, keyctl)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from conftest import LocalUser, ShoalServer, create_function, run_as, unique_name

# One source for the host processes (python3 -c, argv: op desc [data]) and the functions
# (their event): add a key to the user keyring, or find it there and read it.
KEYS = r'''
import ctypes, errno, json, sys

KEY_SPEC_USER_KEYRING = -4
KEYCTL_SEARCH, KEYCTL_READ = 10, 11
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {"add_key": 248, "request_key": 249, "keyctl": 250}  # x86-64


def call(name, *args):
    raw = [ctypes.c_char_p(a.encode()) if isinstance(a, str) else ctypes.c_long(a) for a in args]
    result = libc.syscall(NR[name], *raw)
    if result < 0:
        return None, errno.errorcode[ctypes.get_errno()]
    return result, "ok"


def run(op, desc, data=""):
    if op == "add":
        serial, how = call("add_key", "user", desc, data, len(data), KEY_SPEC_USER_KEYRING)
        return {"add_key": how}
    serial, searched = call("keyctl", KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", desc, 0)
    _, requested = call("request_key", "user", desc, 0, 0)
    out = {"search": searched, "request_key": requested, "data": None}
    if serial is not None:
        buf = ctypes.create_string_buffer(256)
        n = libc.syscall(NR["keyctl"], KEYCTL_READ, ctypes.c_long(serial), buf, 256)
        out["data"] = buf.raw[:n].decode() if n >= 0 else errno.errorcode[ctypes.get_errno()]
    return out


def handler(event, context):
    return run(event["op"], event["desc"], event.get("data", ""))


if __name__ == "__main__":
    print(json.dumps(run(*sys.argv[1:])), flush=True)
    sys.stdin.read()  # an adding process keeps the key's owner alive until told to go
'''


def _host(user: LocalUser, *args: str) -> dict[str, Any]:
    out = run_as(user, ["python3", "-c", KEYS, *args], input="")
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def _holder(user: LocalUser, desc: str, data: str) -> subprocess.Popen[str]:
    """A host process of ``user`` that adds a key to the user keyring and stays alive."""
    proc = subprocess.Popen(
        ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--",
         "python3", "-c", KEYS, "add", desc, data],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/",
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.stdout is not None
    assert json.loads(proc.stdout.readline()) == {"add_key": "ok"}
    return proc


def _functions(srv: ShoalServer, user: LocalUser) -> tuple[Any, list[str]]:
    """Two functions running as ``user``'s uid (an access point's PosixUser)."""
    lam, efs = srv.client("lambda"), srv.client("efs")
    fs_id = efs.create_file_system(CreationToken=unique_name("keys"))["FileSystemId"]
    ap = efs.create_access_point(
        FileSystemId=fs_id,
        PosixUser={"Uid": user.uid, "Gid": user.gid},
        RootDirectory={
            "Path": "/k",
            "CreationInfo": {"OwnerUid": user.uid, "OwnerGid": user.gid, "Permissions": "750"},
        },
    )
    config = [{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/k"}]
    names = [create_function(lam, code=KEYS, FileSystemConfigs=config) for _ in range(2)]
    return lam, names


def _invoke(lam: Any, name: str, event: dict[str, str]) -> dict[str, Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return dict(body)


def test_two_host_processes_of_one_uid_share_a_key(attacker: LocalUser) -> None:
    """The control: without Shoal, the attack works between two processes of one uid."""
    desc = unique_name("shared")
    holder = _holder(attacker, desc, "the-secret")
    try:
        found = _host(attacker, "find", desc)
    finally:
        holder.communicate("")
    assert found["search"] == "ok" and found["data"] == "the-secret"


def test_a_function_cannot_reach_its_users_keyring(
    attacked_server: ShoalServer, attacker: LocalUser
) -> None:
    lam, (first, second) = _functions(attacked_server, attacker)
    assert _invoke(lam, first, {"op": "find", "desc": "none"})["search"] == "EPERM"
    desc = unique_name("host")
    holder = _holder(attacker, desc, "host-secret")
    try:
        # The host user's key, while it exists: a function of that uid cannot find or read it.
        stolen = _invoke(lam, first, {"op": "find", "desc": desc})
        # Nor can a function plant one for the other function (or the host user) to read.
        planted = _invoke(lam, first, {"op": "add", "desc": desc + "-f", "data": "from-fn"})
        read = _invoke(lam, second, {"op": "find", "desc": desc + "-f"})
        on_host = _host(attacker, "find", desc + "-f")
        still_there = _host(attacker, "find", desc)  # the host's own key is untouched
    finally:
        holder.communicate("")
    assert stolen == {"search": "EPERM", "request_key": "EPERM", "data": None}
    assert planted == {"add_key": "EPERM"}
    assert read == {"search": "EPERM", "request_key": "EPERM", "data": None}
    assert on_host["search"] == "ENOKEY"  # nothing arrived from the function
    assert still_there["data"] == "host-secret"
