"""Whether function logs and Lambda's metrics are recorded: always, but for one benchmark.

The bench's row "warm invoke throughput with logs and metrics on" needs the same server with
them off as its baseline (issue 13 allows them at most 5% of warm throughput). Setting
``SHOAL_BENCH_TELEMETRY=off`` in a server's environment makes every function log stream a
closed one (START/END/REPORT and output are dropped; ``LogResult`` still works) and gives the
invoker no metric hooks. It exists for that measurement only and is not documented as a
setting: a server that keeps no logs is no Lambda.
"""

from __future__ import annotations

import os

ENV = "SHOAL_BENCH_TELEMETRY"


def recording() -> bool:
    """False only when the benchmark's baseline turned function logs and metrics off."""
    return os.environ.get(ENV, "on") != "off"
