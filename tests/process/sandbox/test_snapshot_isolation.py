"""Snapshot starts at the sandbox level: init runs once, the hooks run, and every restored
environment is still an environment of its own (real templates, real forks; needs root)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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

APP = (
    """
import ctypes, errno, os, random, time
from snapshot_restore_py import register_after_restore, register_before_snapshot

INIT = {"time": time.time(), "pid": os.getpid(), "host": os.uname().nodename}
with open("/mnt/rw/init-runs", "a") as f:      # one line per run of this module's init
    f.write(f"{os.getpid()}\\n")
with open("/tmp/template-file", "w") as f:     # the template's /tmp
    f.write("template")
print("init ran", flush=True)

ORDER = []
FIXED = random.Random(7)      # never reseeded: the same numbers in every restored environment
RESEEDED = random.Random(7)   # reseeded after each restore: different numbers


@register_before_snapshot
def before_second():
    ORDER.append("before-2")   # registered first: runs last


@register_before_snapshot
def before_first():
    ORDER.append("before-1")
    with open("/mnt/rw/before-runs", "a") as f:
        f.write("x\\n")


def after(tag):
    ORDER.append(tag)
    RESEEDED.seed()


register_after_restore(after, "after-1")
register_after_restore(lambda: ORDER.append("after-2"))

"""
    + PROBE_HELPERS
    + """


def umount(path):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(path.encode(), 2) != 0:
        raise OSError(ctypes.get_errno(), "umount2")


def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return line.split()[1:]


def handler(event, context):
    name = event["name"]
    mine = attempt(write("/tmp/mine-" + name))
    return {
        "init": INIT, "order": ORDER, "pid": os.getpid(),
        "fixed": FIXED.random(), "reseeded": RESEEDED.random(),
        "uid": [os.getuid(), os.geteuid()], "gid": [os.getgid(), os.getegid()],
        "groups": sorted(os.getgroups()),
        "hostname": os.uname().nodename, "stream": context.log_stream_name,
        "env_stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
        "tmp_write": mine, "tmp": sorted(os.listdir("/tmp")),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "cap_eff": status("CapEff"), "cap_prm": status("CapPrm"), "cap_amb": status("CapAmb"),
        "no_new_privs": status("NoNewPrivs"),
        "setuid_root": attempt(lambda: os.setuid(0)),
        "setgid_root": attempt(lambda: os.setgid(0)),
        "secret": attempt(lambda: open("/var/task/secret.txt").read()),
        "task_owner": os.stat("/var/task/app.py").st_uid,
        "write_task": attempt(write("/var/task/new.txt")),
        "write_root": attempt(write("/evil")),
        "mnt_rw": attempt(write("/mnt/rw/from-" + name)),
        "mnt_ro": attempt(write("/mnt/ro/from-" + name)),
        "mnt_ro_read": open("/mnt/ro/seed.txt").read(),
        "umount_tmp": attempt(lambda: umount("/tmp")),  # to uncover the template's /tmp
        "cgroup": open("/proc/self/cgroup").read(),
        "mounts": open("/proc/self/mounts").read(),
    }
"""
)


def _setup(code_root: Path) -> tuple[Path, Path, tuple[Mount, ...]]:
    code = make_code(code_root, APP, **{"secret.txt": "secret"})
    (code / "secret.txt").chmod(0o600)  # root's, unreadable to the function's user
    rw = code_root / "rw"
    rw.mkdir()
    os.chown(rw, UID, GID)
    ro = code_root / "ro"
    ro.mkdir()
    (ro / "seed.txt").write_text("seed")
    return code, rw, (Mount(str(rw), "/mnt/rw"), Mount(str(ro), "/mnt/ro", readonly=True))


def test_restored_environments_share_one_init_and_stay_isolated(code_root: Path) -> None:
    code, rw, mounts = _setup(code_root)
    names = ("a", "b", "c")

    async def body(factory: ForkServerFactory) -> tuple[str, list[dict[str, Any]], list[str]]:
        template_out = Output()
        base = dict(mounts=mounts, groups=(4242,))
        template = await factory.snapshot(make_spec(code, **base), template_out)
        assert template.init.error is None
        results, ids = [], []
        for name in names:
            spec = make_spec(
                code,
                **base,
                env_id=f"snap-{name}-{os.getpid()}",
                environment={"PATH": "/usr/bin", "AWS_LAMBDA_LOG_STREAM_NAME": name},
            )
            env = await factory.spawn_from(template, spec, Output())
            init = await env.init()
            assert init.error is None
            result = await env.invoke(request(json.dumps({"name": name}).encode()))
            assert result.kind == "success", result.payload
            results.append(json.loads(result.payload))
            ids.append(spec.env_id)
            # The whole environment (the fork, its PID 1, its runtime) is in its own cgroup;
            # the template's holds only the template's init and worker.
            assert len(env._cgroup.pids()) == 3  # type: ignore[union-attr]  # noqa: SLF001
        assert len(template.env._cgroup.pids()) == 2  # type: ignore[union-attr]  # noqa: SLF001
        return template_out.text, results, ids

    template_text, results, ids = run(body)
    a, b, c = results
    # Init ran once, in the template: one line in the file, one timestamp for all.
    assert (rw / "init-runs").read_text().count("\n") == 1
    assert template_text == "init ran\n"
    assert a["init"] == b["init"] == c["init"]
    # Before-snapshot hooks: once, in reverse order; after-restore hooks: in each environment,
    # in order.
    assert (rw / "before-runs").read_text() == "x\n"
    for r in results:
        assert r["order"] == ["before-1", "before-2", "after-1", "after-2"]
    assert a["fixed"] == b["fixed"] == c["fixed"]  # the snapshot's state, as on Lambda
    assert len({a["reseeded"], b["reseeded"], c["reseeded"]}) == 3  # the hook made them unique
    # Each environment's own names (variables that differ from the template's).
    assert [r["stream"] for r in results] == list(names)
    assert [r["env_stream"] for r in results] == list(names)
    assert [r["hostname"] for r in results] == ids
    for name, env_id, r in zip(names, ids, results, strict=True):
        # Its own /tmp: neither the template's file nor a sibling's.
        assert r["tmp_write"] == "ok" and r["tmp"] == [f"mine-{name}"]
        # Its own PID namespace: its init and its runtime, nothing else.
        assert r["pids"] == [1, 2] and r["pid"] == 2
        # Its own memory cgroup.
        assert f"memory:/shoal/{env_id}\n" in r["cgroup"]
        # The same user, and no way back to root.
        assert r["uid"] == [UID, UID] and r["gid"] == [GID, GID]
        assert r["cap_eff"] == r["cap_prm"] == r["cap_amb"] == ["0000000000000000"]
        assert r["no_new_privs"] == ["1"]
        assert r["setuid_root"] == "EINVAL" and r["setgid_root"] == "EINVAL"  # 0 is not mapped
        assert r["umount_tmp"] == "EPERM"
        # Host files are checked against the real uid; root's files show as nobody's.
        assert r["secret"] == "EACCES" and r["task_owner"] == 65534
        assert r["groups"] == [65534]  # the supplementary group still applies, unnamed
        assert r["write_task"] == "EROFS" and r["write_root"] == "EROFS"
        # The file-system mounts are there, with their modes.
        assert r["mnt_rw"] == "ok" and (rw / f"from-{name}").exists()
        assert r["mnt_ro"] == "EROFS" and r["mnt_ro_read"] == "seed"
        assert str(code_root) not in r["mounts"] and "/work" not in r["mounts"]


def test_restored_environment_cannot_see_the_template_or_its_siblings(code_root: Path) -> None:
    """Processes started by the template and by a sibling are invisible; /proc shows the
    environment's own PID namespace only."""
    code = make_code(
        code_root,
        """
import os, subprocess, time
KEEP = subprocess.Popen(["/bin/sleep", "300"])   # started by init: lives in the template
def handler(event, context):
    if event.get("spawn"):
        global CHILD
        CHILD = subprocess.Popen(["/bin/sleep", "300"])
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
""",
    )

    async def body(factory: ForkServerFactory) -> tuple[list[int], list[int]]:
        template = await factory.snapshot(make_spec(code), Output())
        first = await factory.spawn_from(template, make_spec(code), Output())
        await first.init()
        mine = json.loads((await first.invoke(request(b'{"spawn": true}'))).payload)
        second = await factory.spawn_from(template, make_spec(code), Output())
        await second.init()
        theirs = json.loads((await second.invoke(request(b"{}"))).payload)
        return mine, theirs

    mine, theirs = run(body)
    assert mine == [1, 2, 3]  # its init, its runtime, the child it started
    assert theirs == [1, 2]  # not the sibling's child, not the template's sleep
