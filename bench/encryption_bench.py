"""The cost of encryption at rest: the same function workload on an encrypted file system
(fscrypt v2 on its volume, key from KMS) against an unencrypted one, in one run.

Both file systems are volumes of the same kind on the same disk, reached the same way (an
access point mounted by a function), so the ratio is fscrypt's cost alone: AES-256-XTS of
contents and AES-256-CTS of names in the kernel. The rounds alternate which file system goes
first so neither inherits the other's page-cache reclaim more often.

    .venv/bin/python bench/encryption_bench.py [--endpoint URL] [--size-mib 512] [--files 5000]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make "bench" importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, shoal_server, table
from bench.fs_bench import MEMORY_MB, Setup

REPEATS = 3


def measure(setup: Setup, size: int, files: int, into: dict[str, list[float]]) -> None:
    out = setup.invoke({"op": "seq", "size": size})
    into["write"].append(out["write"])
    into["read"].append(out["read"])
    into["small"].append(setup.invoke({"op": "small", "n": files})["seconds"])


def run(endpoint: str | None = None, size_mib: int = 512, files: int = 5000) -> str:
    with contextlib.ExitStack() as stack:
        if endpoint is None:
            endpoint = stack.enter_context(shoal_server())
        plain, encrypted = Setup(endpoint, MEMORY_MB), Setup(endpoint, MEMORY_MB, True)
        size = size_mib << 20
        times: dict[str, dict[str, list[float]]] = {
            "plain": {"write": [], "read": [], "small": []},
            "encrypted": {"write": [], "read": [], "small": []},
        }
        measure(plain, size, files, {"write": [], "read": [], "small": []})  # warm-up rounds
        measure(encrypted, size, files, {"write": [], "read": [], "small": []})
        for i in range(REPEATS):
            order = ("plain", "encrypted") if i % 2 == 0 else ("encrypted", "plain")
            for kind in order:
                measure(plain if kind == "plain" else encrypted, size, files, times[kind])
    p = {k: median(v) for k, v in times["plain"].items()}
    e = {k: median(v) for k, v in times["encrypted"].items()}
    mib = size / (1 << 20)
    rows = [
        (f"sequential write {size_mib} MiB + fsync (MiB/s)", f"{mib / e['write']:.0f}",
         f"{mib / p['write']:.0f}", f"{p['write'] / e['write']:.2f}×", "(measured)"),
        (f"sequential read {size_mib} MiB, uncached (MiB/s)", f"{mib / e['read']:.0f}",
         f"{mib / p['read']:.0f}", f"{p['read'] / e['read']:.2f}×", "(measured)"),
        (f"create+stat+unlink {files} files (ops/s)", f"{3 * files / e['small']:.0f}",
         f"{3 * files / p['small']:.0f}", f"{p['small'] / e['small']:.2f}×", "(measured)"),
    ]  # fmt: skip
    title = "Encryption at rest: an encrypted file system vs an unencrypted one (in a function)"
    return table(title + " — shoal: encrypted, baseline: unencrypted", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint")
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--files", type=int, default=5000)
    args = parser.parse_args()
    print(run(args.endpoint, args.size_mib, args.files))


if __name__ == "__main__":
    main()
