from __future__ import annotations

import json
import os
from pathlib import Path

from sandbox_helpers import (
    GID,
    PROBE_HELPERS,
    UID,
    Mount,
    Output,
    make_code,
    make_spec,
    request,
    run,
)

from shoal.sandbox.forkserver import ForkServerFactory

PROBE = (
    """
import errno, getpass, json, os, pwd
"""
    + PROBE_HELPERS
    + """

def handler(event, context):
    out = {
        "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
        "groups": sorted(os.getgroups()),
        "write_task": attempt(write("/var/task/new.txt")),
        "write_root": attempt(write("/evil")),
        "write_etc": attempt(write("/etc/passwd")),
        "write_usr": attempt(write("/usr/evil")),
        "tmp": attempt(write("/tmp/mine-" + event["name"])),
        "tmp_listing": sorted(os.listdir("/tmp")),
        "kill_server": attempt(lambda: os.kill(event["server_pid"], 0)),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "root_listing": sorted(os.listdir("/")),
        "proc1_root": sorted(os.listdir("/proc/1/root")),
        "host_paths": {p: os.path.exists(p) or os.path.exists("/proc/1/root" + p)
                       for p in event["host_paths"]},
        "root_home": sorted(os.listdir("/root")) if os.path.isdir("/root") else None,
        "mnt_rw": attempt(write("/mnt/rw/from-env")),
        "mnt_ro": attempt(write("/mnt/ro/from-env")),
        "mnt_ro_read": open("/mnt/ro/seed.txt").read(),
        "hostname": os.uname().nodename,
        "mounts": open("/proc/self/mounts").read(),
        "setuid_root": attempt(lambda: os.setuid(0)),
        "user": pwd.getpwuid(os.getuid()).pw_name,
        "getuser": getpass.getuser(),
        "accounts": [line.split(":")[0] for line in open("/etc/passwd")],
    }
    return out
"""
)


def test_sandbox_isolation(code_root: Path) -> None:
    code = make_code(code_root, PROBE)
    secret = code_root / "secret"
    secret.mkdir()
    rw = code_root / "rw"
    rw.mkdir()
    os.chown(rw, UID, GID)
    ro = code_root / "ro"
    ro.mkdir()
    (ro / "seed.txt").write_text("seed")
    mounts = (Mount(str(rw), "/mnt/rw"), Mount(str(ro), "/mnt/ro", readonly=True))
    host_paths = [str(code), str(secret), "/work/main", "/sys/fs/cgroup", "/root/.bashrc"]

    async def body(factory: ForkServerFactory) -> list[dict]:
        results = []
        for name in ("a", "b"):
            spec = make_spec(
                code, mounts=mounts, groups=(4242,), env_id=f"iso-{name}-{os.getpid()}"
            )
            env = await factory.spawn(spec, Output())
            await env.init()
            event = {"name": name, "server_pid": os.getpid(), "host_paths": host_paths}
            result = await env.invoke(request(json.dumps(event).encode()))
            assert result.kind == "success", result.payload
            results.append(json.loads(result.payload))
        return results

    a, b = run(body)
    assert a["uid"] == a["euid"] == UID and a["gid"] == GID and a["groups"] == [4242]
    assert a["write_task"] == "EROFS"
    assert a["write_root"] == "EROFS"
    assert a["write_etc"] in ("EROFS", "EACCES")
    assert a["write_usr"] in ("EROFS", "EACCES")
    assert a["setuid_root"] == "EPERM"
    assert a["tmp"] == "ok" and b["tmp"] == "ok"
    assert a["tmp_listing"] == ["mine-a"] and b["tmp_listing"] == ["mine-b"]  # not shared
    # Its own account, named as on Lambda; none of the host's (this host has "daemon").
    assert a["user"] == a["getuser"] == "sbx_user1051"
    assert a["accounts"] == ["root", "sbx_user1051", "nobody"]
    assert a["kill_server"] == "ESRCH"
    assert a["pids"] == [1, 2]  # the init and the runtime: nothing else is visible
    assert a["proc1_root"] == a["root_listing"]
    assert set(a["root_listing"]) <= {
        "bin",
        "dev",
        "etc",
        "lib",
        "lib64",
        "mnt",
        "opt",
        "proc",
        "sbin",
        "tmp",
        "usr",
        "var",
        "root",
        "sys",
    }
    assert not any(a["host_paths"].values()), a["host_paths"]
    assert a["root_home"] in (None, [".pyenv"])
    assert a["mnt_rw"] == "ok" and (rw / "from-env").exists()
    assert a["mnt_ro"] == "EROFS" and a["mnt_ro_read"] == "seed"
    assert a["hostname"].startswith("iso-a-")
    assert "/work" not in a["mounts"] and str(code_root) not in a["mounts"]
    assert not (code / "new.txt").exists()


def test_mount_namespace_hides_other_functions_code(code_root: Path) -> None:
    other = make_code(code_root, "SECRET = 1\n")
    code = make_code(
        code_root,
        """
import os
def handler(e, c):
    found = []
    for top in ("/",):
        for dirpath, dirnames, filenames in os.walk(top):
            if dirpath.startswith("/proc"):
                dirnames[:] = []
                continue
            found += [os.path.join(dirpath, f) for f in filenames if f == "app.py"]
            if dirpath.count("/") > 4:
                dirnames[:] = []
    return found
""",
    )

    async def body(factory: ForkServerFactory) -> list[str]:
        env = await factory.spawn(make_spec(code), Output())
        await env.init()
        return json.loads((await env.invoke(request())).payload)

    assert run(body) == ["/var/task/app.py"]
    assert other.exists()
