"""Each file system is a loop-backed ext4 volume (shoal.filesystems.volumes): its own block
device, reused (not stacked) after a SIGKILL, released at stop and at DeleteFileSystem;
``Encrypted`` file systems are ciphertext in the image, names and contents, and read back after
a restart; and the volumes never take the data directory's disk past ``--fs-reserve``."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from fs_helpers import PROBE, invoke, make_ap, make_fn

from conftest import ShoalServer, start_server, unique_name, wait_for
from shoal.filesystems import hostmount

SECRET = b"shoal-known-plaintext-0123456789-" * 64
NAME = "shoal-secret-file-name-4242"


def loops_of(image: Path) -> list[str]:
    out = subprocess.run(["losetup", "-n", "-O", "NAME", "-j", str(image)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return out.split()


def mounts_of(device: str) -> list[hostmount.MountEntry]:
    rdev = os.stat(device).st_rdev
    majmin = f"{os.major(rdev)}:{os.minor(rdev)}"
    return [m for m in hostmount.mounts() if m.device == majmin]


def image_contains(image: Path, needles: list[bytes]) -> list[bytes]:
    """The needles found in the image's data (its holes skipped: the image is sparse)."""
    found = set()
    with open(image, "rb") as f:
        fd, end, pos = f.fileno(), os.fstat(f.fileno()).st_size, 0
        while pos < end:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    break
                raise
            stop = os.lseek(fd, start, os.SEEK_HOLE)
            f.seek(start)
            data = f.read(stop - start)
            found |= {n for n in needles if n in data}
            pos = stop
    return sorted(found)


def efs(srv: ShoalServer) -> Any:
    return srv.client("efs")


def test_a_volume_per_file_system_reused_after_sigkill_and_released(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data, execution_role=False)
    try:
        client = efs(srv)
        fs_id = client.create_file_system(CreationToken=unique_name("fs"))["FileSystemId"]
        image = data / "volumes" / f"{fs_id}.img"
        root = data / "filesystems" / fs_id
        assert oct(image.stat().st_mode & 0o777) == "0o600"
        assert image.stat().st_blocks * 512 < image.stat().st_size // 10  # sparse
        (device,) = loops_of(image)
        assert os.stat(root).st_dev == os.stat(device).st_rdev  # the tree is on its own device
        assert sorted(os.listdir(root)) == []  # no lost+found, no ballast in the tree
        (root / "kept").write_bytes(b"before the kill")
        client.close()
        srv.stop(signal.SIGKILL)
        srv = start_server(data, execution_role=False)
        assert loops_of(image) == [device]  # the same loop device, not a second one
        ext4 = [m for m in mounts_of(device) if m.root == "/"]
        assert len(ext4) == 1, ext4  # mounted once
        assert (root / "kept").read_bytes() == b"before the kill"
        assert srv.stop() == 0
        assert mounts_of_path(data) == []
        wait_for(lambda: loops_of(image) == [])  # the kernel frees a lazily released loop soon
        srv = start_server(data, execution_role=False)
        client = efs(srv)
        (device,) = loops_of(image)
        client.delete_file_system(FileSystemId=fs_id)
        wait_for(lambda: not image.exists() and not root.exists() and loops_of_any(data) == [])
        client.close()
    finally:
        srv.stop()
    assert mounts_of_path(data) == []
    wait_for(lambda: loops_of_any(data) == [])


def mounts_of_path(data: Path) -> list[str]:
    return [m.point for m in hostmount.mounts() if m.point.startswith(str(data) + "/")]


def loops_of_any(data: Path) -> list[str]:
    out = subprocess.run(["losetup", "-n", "-l", "-O", "NAME,BACK-FILE"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    return [line for line in out.splitlines() if str(data) in line]


WRITE = f"""
os.makedirs("/mnt/fs/dir", exist_ok=True)
with open("/mnt/fs/dir/{NAME}", "wb") as f:
    f.write(bytes.fromhex(DATA))
    os.fsync(f.fileno())
result = "written"
"""
READ = f"""
result = open("/mnt/fs/dir/{NAME}", "rb").read().hex()
"""


def write_and_scan(tmp_path: Path, encrypted: bool) -> list[bytes]:
    data = tmp_path / ("enc" if encrypted else "plain")
    srv = start_server(data)
    try:
        client, lam = efs(srv), srv.client("lambda")
        fs_id = client.create_file_system(CreationToken=unique_name("fs"), Encrypted=encrypted,
                                          )["FileSystemId"]  # fmt: skip
        ap = make_ap(client, fs_id, path="/app")
        fn = make_fn(lam, PROBE, ap["AccessPointArn"])
        assert invoke(lam, fn, {"code": f"DATA = {SECRET.hex()!r}" + WRITE}) == "written"
        host = data / "filesystems" / fs_id / "host"
        host.mkdir()
        (host / (NAME + "-host")).write_bytes(SECRET[::-1])
        assert srv.stop() == 0  # unmounted: everything is on the image
        image = data / "volumes" / f"{fs_id}.img"
        found = image_contains(image, [SECRET[:256], SECRET[::-1][:256], NAME.encode()])
        if encrypted:
            assert b"shoal" not in (data / "volumes" / f"{fs_id}.key").read_bytes()
            srv = start_server(data)
            lam = srv.client("lambda")
            assert bytes.fromhex(invoke(lam, fn, {"code": READ})) == SECRET
            assert (host / (NAME + "-host")).read_bytes() == SECRET[::-1]
            db = (data / "shoal.db").read_bytes()
            assert (data / "volumes" / f"{fs_id}.key").read_bytes() not in db
        return found
    finally:
        srv.stop()


def test_encrypted_file_system_is_ciphertext_in_its_image(tmp_path: Path) -> None:
    assert write_and_scan(tmp_path, encrypted=False) != []  # the scan finds clear text
    assert write_and_scan(tmp_path, encrypted=True) == []


FILL = """
written = 0
try:
    with open("/mnt/fs/fill", "wb") as f:
        while True:
            written += os.write(f.fileno(), b"x" * (1 << 20))
            os.fsync(f.fileno())
except OSError as e:
    result = {"errno": errno.errorcode[e.errno], "written": written}
"""


def logged(logs: Any, fn: str, marker: str) -> bool:
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{fn}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return False
    return any(marker in e["message"] for e in events)


def test_a_function_fills_its_file_system_not_the_disk(small_disk: Path) -> None:
    data = small_disk / "data"
    reserve = 12 << 20
    srv = start_server(data, "--fs-reserve", "12M")
    try:
        client, lam, logs = efs(srv), srv.client("lambda"), srv.client("logs")
        fs_id = client.create_file_system(CreationToken=unique_name("fs"))["FileSystemId"]
        ap = make_ap(client, fs_id, path="/app")
        fn = make_fn(lam, PROBE, ap["AccessPointArn"])
        out = invoke(lam, fn, {"code": FILL})
        assert out["errno"] == "ENOSPC" and out["written"] >= 8 << 20, out
        st = os.statvfs(data)
        assert st.f_bavail * st.f_frsize >= reserve * 3 // 4  # the reserve is still free
        # Shoal's own metadata, logs and async queue still work.
        client.create_access_point(FileSystemId=fs_id, RootDirectory={"Path": "/other"})
        marker = unique_name("marker")
        code = "print('ping ' + " + repr(marker) + "); result = 'pong'"
        lam.invoke(FunctionName=fn, InvocationType="Event",
                   Payload=json.dumps({"code": code}).encode())  # fmt: skip
        wait_for(lambda: logged(logs, fn, marker), timeout=60)
        # Freeing the file gives the space back: writes succeed again.
        invoke(lam, fn, {"code": "os.remove('/mnt/fs/fill'); result = 1"})
        wait_for(lambda: "ok" in invoke(lam, fn, {"code": WRITE_4M}), timeout=30)
        for c in (client, lam, logs):
            c.close()
    finally:
        srv.stop()


WRITE_4M = """
result = attempt(lambda: open("/mnt/fs/again", "wb").write(b"y" * (4 << 20)))
"""


def test_a_plain_directory_file_system_is_migrated_into_a_volume(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data, execution_role=False)
    client = efs(srv)
    fs_id = client.create_file_system(CreationToken=unique_name("fs"))["FileSystemId"]
    client.close()
    assert srv.stop() == 0
    # What an older Shoal left: the file system as a plain directory, no image.
    (data / "volumes" / f"{fs_id}.img").unlink()
    old = data / "filesystems" / fs_id
    (old / "d").mkdir(mode=0o750)
    (old / "d" / "f").write_bytes(b"old data")
    os.chown(old / "d", 1001, 1002)
    os.chown(old / "d" / "f", 1003, 1004)
    os.chmod(old / "d" / "f", 0o640)
    os.setxattr(old / "d" / "f", "user.note", b"kept")
    os.utime(old / "d" / "f", (1_000_000, 1_000_000))
    os.link(old / "d" / "f", old / "hard")
    os.symlink("d/f", old / "link")
    srv = start_server(data, execution_role=False)
    try:
        (device,) = loops_of(data / "volumes" / f"{fs_id}.img")
        assert os.stat(old).st_dev == os.stat(device).st_rdev  # now on its own volume
        st = os.stat(old / "d" / "f")
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777, st.st_mtime) == (1003, 1004, 0o640,
                                                                            1_000_000)  # fmt: skip
        assert os.stat(old / "d").st_uid == 1001 and os.stat(old / "d").st_mode & 0o777 == 0o750
        assert os.getxattr(old / "d" / "f", "user.note") == b"kept"
        assert os.stat(old / "hard").st_ino == st.st_ino and st.st_nlink == 2
        assert os.readlink(old / "link") == "d/f"
        assert (old / "d" / "f").read_bytes() == b"old data"
        assert not (data / "filesystems" / f".migrating-{fs_id}").exists()
    finally:
        srv.stop()
