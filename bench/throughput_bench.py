"""Provisioned throughput's accuracy: what a function measures against what was provisioned.

For each rate, a provisioned file system (on a loop-backed volume of its own, as every file
system is) and a function that
writes 64 MiB with ``fsync`` then reads it back uncached (``POSIX_FADV_DONTNEED``): writes
should run at the provisioned rate, reads at three times it (metered at a third). Needs root.

    .venv/bin/python -m bench throughput_bench
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, aws_client, shoal_server, table, urlopen
from shoal.filesystems import blkio

# The function the throughput tests stream with: the benchmark measures what they assert.
sys.path.insert(0, str(ROOT / "tests" / "process" / "filesystems"))
from throughput_helpers import STREAM  # noqa: E402

MIB = 64
RATES = (8, 16, 32)
UID = 1001
RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def device(root: Path) -> blkio.Device:
    """The file system's own loop device (every file system is a volume of its own)."""
    dev = blkio.loop_device_of(root)
    if dev is None:
        raise RuntimeError(f"{root} is not on a loop device of its own")
    return dev


def _zip() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", STREAM)
    return buf.getvalue()


def measure(endpoint: str, rate: int) -> dict[str, Any]:
    efs, lam = aws_client(endpoint, "efs"), aws_client(endpoint, "lambda")
    fs_id = efs.create_file_system(
        CreationToken=uuid.uuid4().hex, ThroughputMode="provisioned",
        ProvisionedThroughputInMibps=float(rate),
    )["FileSystemId"]  # fmt: skip
    ap = efs.create_access_point(
        FileSystemId=fs_id, PosixUser={"Uid": UID, "Gid": UID},
        RootDirectory={"Path": "/bench", "CreationInfo": {
            "OwnerUid": UID, "OwnerGid": UID, "Permissions": "755"}},
    )  # fmt: skip
    url = f"{endpoint}/shoal/fs/access-points/{ap['AccessPointId']}/path"
    with urlopen(url, method="POST") as resp:
        root = Path(json.load(resp)["Path"]).parent
    dev = device(root)
    deadline = time.monotonic() + 15
    while blkio.limits(dev) != (3 * rate << 20, rate << 20):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{fs_id} was not throttled: {blkio.limits(dev)}")
        time.sleep(0.1)
    name = f"tpbench-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name, Runtime=RUNTIME, Role="arn:aws:iam::123456789012:role/lambda-role",
        Handler="app.handler", Code={"ZipFile": _zip()}, Timeout=300, MemorySize=1024,
        FileSystemConfigs=[{"Arn": ap["AccessPointArn"], "LocalMountPath": "/mnt/fs"}],
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    r = lam.invoke(FunctionName=name, Payload=json.dumps({"mib": MIB}).encode())
    out = json.loads(r["Payload"].read())
    if "FunctionError" in r:
        raise RuntimeError(f"benchmark function failed: {out}")
    lam.delete_function(FunctionName=name)
    return {"write": MIB / out["write_s"], "read": MIB / out["read_s"]}


def run() -> str:
    rows: list[tuple[str, str, str, str, str]] = []
    for rate in RATES:
        # A server each, so that one file system's run leaves nothing to the next.
        with shoal_server() as endpoint:
            got = measure(endpoint, rate)
            rows.append((f"provisioned {rate} MiB/s: write {MIB} MiB + fsync (MiB/s)",
                         f"{got['write']:.2f}", f"{rate}", f"{got['write'] / rate:.3f}×",
                         "1 ± 0.15×"))  # fmt: skip
            rows.append((f"provisioned {rate} MiB/s: uncached read {MIB} MiB (MiB/s)",
                         f"{got['read']:.2f}", f"{3 * rate} (3 × {rate})",
                         f"{got['read'] / (3 * rate):.3f}×", "1 ± 0.15×"))  # fmt: skip
    return table("File-system throughput: provisioned accuracy (function, measured vs set)", rows)


if __name__ == "__main__":
    print(run())
