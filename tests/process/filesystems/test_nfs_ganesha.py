"""Mount targets with real ganesha.nfsd processes, reached with libnfs's userspace NFSv4 tools.

Each test exports a temporary tree through a :class:`GaneshaSupervisor` and talks to it with
``nfs-cp``/``nfs-cat``/``nfs-ls`` (``nfs://127.0.0.1/<pseudo>?version=4&nfsport=PORT``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shoal.filesystems.nfs import Export, GaneshaError, GaneshaSupervisor, render_config

pytestmark = [pytest.mark.anyio, pytest.mark.nfs]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def url(port: int, path: str, **query: int) -> str:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"nfs://127.0.0.1{path}?version=4&nfsport={port}{extra}"


@dataclass
class Run:
    returncode: int
    out: str


async def tool(*argv: str) -> Run:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return Run(proc.returncode or 0, out.decode(errors="replace"))


def ganesha_pids(run_dir: Path) -> list[int]:
    """Live ganesha.nfsd processes whose configuration lies under run_dir."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "ganesha.nfsd" in cmdline and str(run_dir) in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


async def until(predicate, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """Await a condition on another process's state (the async twin of conftest's wait_for)."""
    async with asyncio.timeout(timeout):
        while not (value := predicate()):
            await asyncio.sleep(0.05)
    return value


@dataclass
class Tree:
    """A file system directory with an access point root 'message' (1001:1001, 750)."""

    root: Path
    message: Path
    whole: Export
    ap: Export


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    root = tmp_path / "fs-0123456789abcdef0"
    message = root / "message"
    message.mkdir(parents=True)
    os.chown(message, 1001, 1001)
    message.chmod(0o750)
    (root / "secret.txt").write_text("outside the access point\n")
    whole = Export(1, str(root), "/fs-0123456789abcdef0", None, None)
    ap = Export(2, str(message), "/fsap-0123456789abcdef0", 1001, 1001)
    return Tree(root, message, whole, ap)


@pytest.fixture
async def supervisor(tmp_path: Path) -> AsyncIterator[GaneshaSupervisor]:
    sup = GaneshaSupervisor(tmp_path / "run" / "nfs")
    try:
        yield sup
    finally:
        await sup.stop()
        assert ganesha_pids(sup.run_dir) == []


async def test_write_through_access_point_is_owned_by_its_user(
    supervisor: GaneshaSupervisor, tree: Tree, tmp_path: Path
) -> None:
    port = free_port()
    await supervisor.ensure_target("fsmt-a", "127.0.0.1", port, [tree.whole, tree.ap])
    assert supervisor.status() == {"fsmt-a": "available"}
    local = tmp_path / "local.txt"
    local.write_text("hello over nfs\n")
    # As the client's root, then as an arbitrary uid: both become the access point's user.
    for name, ids in (("root.txt", {}), ("other.txt", {"uid": 4242, "gid": 4343})):
        run = await tool("nfs-cp", str(local), url(port, f"{tree.ap.pseudo}/{name}", **ids))
        assert run.returncode == 0, run.out
        st = (tree.message / name).stat()
        assert (st.st_uid, st.st_gid) == (1001, 1001)
        assert (tree.message / name).read_text() == "hello over nfs\n"


async def test_host_written_file_is_read_over_nfs_without_stale_cache(
    supervisor: GaneshaSupervisor, tree: Tree
) -> None:
    port = free_port()
    await supervisor.ensure_target("fsmt-b", "127.0.0.1", port, [tree.whole, tree.ap])
    note = tree.message / "note.txt"
    note.write_text("first\n")
    run = await tool("nfs-cat", url(port, f"{tree.ap.pseudo}/note.txt"))
    assert (run.returncode, run.out) == (0, "first\n")
    # Changed behind ganesha's back (by a function or a host process): the next read sees it.
    note.write_text("second, longer\n")
    run = await tool("nfs-cat", url(port, f"{tree.ap.pseudo}/note.txt"))
    assert (run.returncode, run.out) == (0, "second, longer\n")
    run = await tool("nfs-ls", url(port, tree.ap.pseudo))
    assert "note.txt" in run.out


async def test_access_point_does_not_expose_its_parent(
    supervisor: GaneshaSupervisor, tree: Tree
) -> None:
    port = free_port()
    await supervisor.ensure_target("fsmt-c", "127.0.0.1", port, [tree.whole, tree.ap])
    (tree.message / "link").symlink_to("../secret.txt")
    assert (tree.message / "link").read_text() == "outside the access point\n"  # on the host
    for path in (f"{tree.ap.pseudo}/../secret.txt", f"{tree.ap.pseudo}/link"):
        run = await tool("nfs-cat", url(port, path))
        assert run.returncode != 0, run.out
        assert "outside the access point" not in run.out
    # Above the access point is the pseudo root: export names only, never the file system.
    run = await tool("nfs-ls", url(port, f"{tree.ap.pseudo}/.."))
    assert run.returncode == 0, run.out
    assert "secret.txt" not in run.out
    assert "message" not in run.out
    # The whole-file-system export does show it.
    run = await tool("nfs-cat", url(port, f"{tree.whole.pseudo}/secret.txt"))
    assert (run.returncode, run.out) == (0, "outside the access point\n")


async def test_whole_file_system_export_keeps_client_identity(
    supervisor: GaneshaSupervisor, tree: Tree, tmp_path: Path
) -> None:
    port = free_port()
    shared = tree.root / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    await supervisor.ensure_target("fsmt-d", "127.0.0.1", port, [tree.whole])
    local = tmp_path / "x.txt"
    local.write_text("x")
    run = await tool("nfs-cp", str(local), url(port, f"{tree.whole.pseudo}/shared/u.txt",
                                                uid=4242, gid=4343))  # fmt: skip
    assert run.returncode == 0, run.out
    st = (shared / "u.txt").stat()
    assert (st.st_uid, st.st_gid) == (4242, 4343)
    run = await tool("nfs-cp", str(local), url(port, f"{tree.whole.pseudo}/root.txt"))
    assert run.returncode == 0, run.out
    assert (tree.root / "root.txt").stat().st_uid == 0  # no root squashing
    # Permission checks are the kernel's, with the client's identity: 4242 may not write here.
    run = await tool("nfs-cp", str(local), url(port, f"{tree.whole.pseudo}/no.txt", uid=4242,
                                                gid=4343))  # fmt: skip
    assert run.returncode != 0
    assert not (tree.root / "no.txt").exists()


async def test_readonly_export_refuses_writes(
    supervisor: GaneshaSupervisor, tree: Tree, tmp_path: Path
) -> None:
    port = free_port()
    ro = Export(2, tree.ap.path, tree.ap.pseudo, 1001, 1001, readonly=True)
    await supervisor.ensure_target("fsmt-e", "127.0.0.1", port, [ro])
    (tree.message / "r.txt").write_text("readable")
    local = tmp_path / "w.txt"
    local.write_text("w")
    run = await tool("nfs-cp", str(local), url(port, f"{ro.pseudo}/w.txt"))
    assert run.returncode != 0
    assert not (tree.message / "w.txt").exists()
    run = await tool("nfs-cat", url(port, f"{ro.pseudo}/r.txt"))
    assert (run.returncode, run.out) == (0, "readable")


async def test_targets_coexist_and_remove_target_stops_only_its_process(
    supervisor: GaneshaSupervisor, tree: Tree, tmp_path: Path
) -> None:
    other = tmp_path / "fs-other"
    other.mkdir()
    (other / "which.txt").write_text("other\n")
    (tree.root / "which.txt").write_text("first\n")
    p1, p2 = free_port(), free_port()
    await supervisor.ensure_target("fsmt-1", "127.0.0.1", p1, [tree.whole, tree.ap])
    await supervisor.ensure_target("fsmt-2", "127.0.0.1", p2, [Export(1, str(other), "/", None,
                                                                      None)])  # fmt: skip
    assert (await tool("nfs-cat", url(p1, f"{tree.whole.pseudo}/which.txt"))).out == "first\n"
    # libnfs splits a URL into export and file at the last "/": "//" names the pseudo root.
    assert (await tool("nfs-cat", url(p2, "//which.txt"))).out == "other\n"
    pid1, pid2 = supervisor.pid("fsmt-1"), supervisor.pid("fsmt-2")
    assert pid1 and pid2 and sorted(ganesha_pids(supervisor.run_dir)) == sorted([pid1, pid2])

    await supervisor.remove_target("fsmt-1")
    assert not Path(f"/proc/{pid1}").exists()
    assert supervisor.status() == {"fsmt-2": "available"}
    assert ganesha_pids(supervisor.run_dir) == [pid2]
    assert (await tool("nfs-cat", url(p1, f"{tree.whole.pseudo}/which.txt"))).returncode != 0
    await supervisor.remove_target("fsmt-1")  # idempotent
    await supervisor.remove_target("never-existed")


async def test_killed_ganesha_is_restarted(supervisor: GaneshaSupervisor, tree: Tree) -> None:
    port = free_port()
    await supervisor.ensure_target("fsmt-k", "127.0.0.1", port, [tree.whole, tree.ap])
    first = supervisor.pid("fsmt-k")
    assert first is not None
    os.kill(first, signal.SIGKILL)
    await until(lambda: supervisor.status()["fsmt-k"].startswith("error:"))
    await until(lambda: supervisor.status()["fsmt-k"] == "available")
    second = supervisor.pid("fsmt-k")
    assert second is not None and second != first
    (tree.message / "after.txt").write_text("back\n")
    run = await tool("nfs-cat", url(port, f"{tree.ap.pseudo}/after.txt"))
    assert (run.returncode, run.out) == (0, "back\n")
    # Both runs logged to the target's own log file.
    assert (supervisor.run_dir / "fsmt-k" / "ganesha.log").read_text().count("INITIALIZED") == 2


async def test_reconfiguring_restarts_only_on_change(
    supervisor: GaneshaSupervisor, tree: Tree
) -> None:
    port = free_port()
    await supervisor.ensure_target("fsmt-r", "127.0.0.1", port, [tree.whole])
    first = supervisor.pid("fsmt-r")
    await supervisor.ensure_target("fsmt-r", "127.0.0.1", port, [tree.whole])
    assert supervisor.pid("fsmt-r") == first
    assert (await tool("nfs-ls", url(port, tree.ap.pseudo))).returncode != 0
    await supervisor.ensure_target("fsmt-r", "127.0.0.1", port, [tree.whole, tree.ap])
    assert supervisor.pid("fsmt-r") != first
    assert first is not None and not Path(f"/proc/{first}").exists()
    (tree.message / "new.txt").write_text("ap now exported")
    run = await tool("nfs-cat", url(port, f"{tree.ap.pseudo}/new.txt"))
    assert (run.returncode, run.out) == (0, "ap now exported")


async def test_failed_start_is_reported_and_removable(
    supervisor: GaneshaSupervisor, tree: Tree
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(GaneshaError, match="exited"):
            await supervisor.ensure_target("fsmt-f", "127.0.0.1", port, [tree.whole])
    assert supervisor.status()["fsmt-f"].startswith("error: ganesha exited")
    assert supervisor.pid("fsmt-f") is None
    await supervisor.remove_target("fsmt-f")
    assert "fsmt-f" not in supervisor.status()
    with pytest.raises(FileNotFoundError):
        missing = Export(1, str(tree.root / "missing"), "/", None, None)
        await supervisor.ensure_target("fsmt-f", "127.0.0.1", port, [missing])


async def test_stale_ganesha_of_a_killed_shoal_is_stopped(tree: Tree, tmp_path: Path) -> None:
    run_dir = tmp_path / "run" / "nfs"
    target = run_dir / "fsmt-s"
    target.mkdir(parents=True)
    (target / "recovery").mkdir()
    port = free_port()
    conf = target / "ganesha.conf"
    conf.write_text(render_config(target, "127.0.0.1", port, [tree.whole]))
    # What a Shoal killed outright leaves behind: a ganesha it is no longer the parent of.
    stale = subprocess.Popen(["ganesha.nfsd", "-F", "-f", str(conf), "-L", str(target / "g.log"),
                              "-p", str(target / "ganesha.pid")])  # fmt: skip
    sup = GaneshaSupervisor(run_dir)
    try:
        await until(lambda: (target / "ganesha.pid").exists())
        await until(lambda: ganesha_pids(run_dir) == [stale.pid])
        await sup.ensure_target("fsmt-s", "127.0.0.1", port, [tree.whole, tree.ap])
        assert stale.wait(10) == -signal.SIGKILL
        assert ganesha_pids(run_dir) == [sup.pid("fsmt-s")]
        assert (await tool("nfs-ls", url(port, tree.ap.pseudo))).returncode == 0
    finally:
        await sup.stop()
        if stale.poll() is None:
            stale.kill()
            stale.wait()
    assert ganesha_pids(run_dir) == []
