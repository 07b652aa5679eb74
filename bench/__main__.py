"""``./run bench [NAME ...]``: run the benchmarks and print their tables.

Each benchmark module has ``run() -> str`` returning a Markdown table of ratios against a
baseline measured in the same run. With ``--write``, the tables also go to bench/RESULTS.md,
which the README quotes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

from bench.common import machine

BENCHMARKS = [
    "invoke_bench",
    "gateway_bench",
    "authorizer_bench",
    "access_log_bench",
    "websocket_bench",
    "fs_bench",
    "throughput_bench",
    "concurrency_bench",
    "ml_bench",
    "snapshot_bench",
    "metrics_bench",
    "logs_bench",
    "nfs_tls_bench",
    "encryption_bench",
]


def main() -> int:
    parser = argparse.ArgumentParser(prog="./run bench")
    parser.add_argument("names", nargs="*", help=f"some of {', '.join(BENCHMARKS)}")
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md")
    args = parser.parse_args()
    names = args.names or BENCHMARKS
    out = [f"Machine: {machine()}. Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n"]
    print(out[0], flush=True)
    failed = 0
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"bench.{name}":
                print(f"(bench/{name}.py not present)\n", flush=True)
                continue
            raise
        try:
            text = module.run()
        except Exception:
            traceback.print_exc()
            failed += 1
            continue
        print(text, flush=True)
        out.append(text)
    if args.write:
        Path(__file__).with_name("RESULTS.md").write_text("\n".join(out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
