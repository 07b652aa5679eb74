"""What every execution environment and host process share: data (read-after-write), flock and
fcntl locks, and atomic directory renames, through one access point."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fs_helpers import PROBE, invoke, make_ap, make_fn, make_fs

from conftest import ShoalServer, unique_name, wait_for

HOLD = """
import fcntl, os, time

def handler(event, context):
    f = open("/mnt/fs/" + event["file"], "a+")
    lock = fcntl.flock if event["kind"] == "flock" else fcntl.lockf
    lock(f, fcntl.LOCK_EX)
    open("/mnt/fs/" + event["file"] + ".held", "w").close()
    deadline = time.time() + 30
    while not os.path.exists("/mnt/fs/" + event["file"] + ".release"):
        if time.time() > deadline:
            return "never released"
        time.sleep(0.01)
    lock(f, fcntl.LOCK_UN)
    return "released"
"""

APPEND = """
import fcntl

def handler(event, context):
    for i in range(event["n"]):
        with open("/mnt/fs/wall", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(f"{event['who']} {i} " + "x" * 200 + "\\n")
            fcntl.flock(f, fcntl.LOCK_UN)
    return event["n"]
"""

HOST_APPEND = """
import fcntl, sys
for i in range(int(sys.argv[3])):
    with open(sys.argv[1], "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(f"{sys.argv[2]} {i} " + "x" * 200 + "\\n")
        fcntl.flock(f, fcntl.LOCK_UN)
"""


@pytest.fixture(scope="module")
def shared(server: ShoalServer, efs_client: Any, lambda_client: Any) -> dict[str, Any]:
    fs_id = make_fs(efs_client)
    ap = make_ap(efs_client, fs_id)
    return {
        "ap": ap,
        "probe": make_fn(lambda_client, PROBE, ap["AccessPointArn"]),
        "other": make_fn(lambda_client, PROBE, ap["AccessPointArn"]),
        "hold": make_fn(lambda_client, HOLD, ap["AccessPointArn"]),
        "append": make_fn(lambda_client, APPEND, ap["AccessPointArn"]),
        "dir": server.data_dir / "filesystems" / fs_id / "message",
    }


def test_write_in_one_environment_is_read_in_another(
    lambda_client: Any, shared: dict[str, Any]
) -> None:
    for i in range(5):
        value = unique_name("v")
        invoke(lambda_client, shared["probe"],
               {"code": f"open('/mnt/fs/value', 'w').write({value!r}); result = 1"})  # fmt: skip
        seen = invoke(lambda_client, shared["other"],
                      {"code": "result = open('/mnt/fs/value').read()"})  # fmt: skip
        assert seen == value
        assert (shared["dir"] / "value").read_text() == value
        host_value = f"host-{i}"
        (shared["dir"] / "value").write_text(host_value)
        assert invoke(lambda_client, shared["probe"],
                      {"code": "result = open('/mnt/fs/value').read()"}) == host_value  # fmt: skip


@pytest.mark.parametrize("kind", ["flock", "lockf"])
def test_locks_exclude_across_environments_and_host(
    lambda_client: Any, shared: dict[str, Any], kind: str
) -> None:
    name = unique_name(kind)
    path = shared["dir"] / name
    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(invoke, lambda_client, shared["hold"], {"file": name, "kind": kind})
        wait_for(lambda: (shared["dir"] / f"{name}.held").exists() or holder.done())
        assert not holder.done(), holder.result()
        # Another environment cannot take it...
        other = invoke(
            lambda_client,
            shared["probe"],
            {
                "code": f"""
f = open("/mnt/fs/{name}", "a+")
lock = fcntl.flock if {kind!r} == "flock" else fcntl.lockf
result = attempt(lambda: lock(f, fcntl.LOCK_EX | fcntl.LOCK_NB))"""
            },
        )
        assert other.get("errno") in ("EAGAIN", "EACCES"), other
        # ...nor a host process.
        probe = subprocess.run([sys.executable, "-c", (
            "import fcntl, sys\nf = open(sys.argv[1], 'a+')\n"
            f"lock = fcntl.{kind}\n"
            "try:\n    lock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); print('got')\n"
            "except OSError: print('blocked')")
            , str(path)], capture_output=True, text=True, timeout=30)  # fmt: skip
        assert probe.stdout.strip() == "blocked", probe.stderr
        (shared["dir"] / f"{name}.release").touch()
        assert holder.result(timeout=60) == "released"
    # And the other way round: the host holds, an environment is refused.
    with open(path, "a+") as f:
        (fcntl.flock if kind == "flock" else fcntl.lockf)(f, fcntl.LOCK_EX)
        refused = invoke(
            lambda_client,
            shared["probe"],
            {
                "code": f"""
f = open("/mnt/fs/{name}", "a+")
lock = fcntl.flock if {kind!r} == "flock" else fcntl.lockf
result = attempt(lambda: lock(f, fcntl.LOCK_EX | fcntl.LOCK_NB))"""
            },
        )
    assert refused.get("errno") in ("EAGAIN", "EACCES"), refused


def test_flock_appends_from_environments_and_host_lose_nothing(
    lambda_client: Any, shared: dict[str, Any]
) -> None:
    wall = shared["dir"] / "wall"
    wall.touch()
    os.chown(wall, 1001, 1001)  # as the function's first append would have made it
    n = 100
    with ThreadPoolExecutor(8) as pool:
        envs = [pool.submit(invoke, lambda_client, shared["append"], {"who": f"env{i}", "n": n})
                for i in range(6)]  # fmt: skip
        hosts = [subprocess.Popen([sys.executable, "-c", HOST_APPEND, str(wall), f"host{i}",
                                   str(n)]) for i in range(2)]  # fmt: skip
        assert [f.result(timeout=120) for f in envs] == [n] * 6
        assert [p.wait(timeout=120) for p in hosts] == [0, 0]
    lines = wall.read_text().splitlines()
    assert len(lines) == 8 * n
    assert all(line.endswith(" " + "x" * 200) for line in lines)
    for who in [f"env{i}" for i in range(6)] + ["host0", "host1"]:
        assert [int(line.split()[1]) for line in lines if line.startswith(who + " ")] == list(
            range(n)
        )


def test_directory_rename_is_atomic(lambda_client: Any, shared: dict[str, Any]) -> None:
    staged = shared["dir"] / "stage"
    staged.mkdir()
    for i in range(200):
        (staged / f"f{i}").write_text(str(i))
    os.chown(staged, 1001, 1001)
    with ThreadPoolExecutor(1) as pool:
        renamer = pool.submit(
            invoke,
            lambda_client,
            shared["probe"],
            {
                "code": """
for i in range(300):
    os.rename("/mnt/fs/stage", "/mnt/fs/live")
    os.rename("/mnt/fs/live", "/mnt/fs/stage")
result = 300"""
            },
        )
        seen = []
        while not renamer.done():
            for name in ("stage", "live"):
                try:
                    seen.append(len(os.listdir(shared["dir"] / name)))
                except FileNotFoundError:
                    pass
        assert renamer.result() == 300
    assert seen and set(seen) == {200}
