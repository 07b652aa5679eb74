"""The seed's ML inference function: init from the file system, first vs warm calls, 8 callers.

One private Shoal, one file system populated as the example does it (``shoal fs pip-install``
of torch/Pillow/NumPy, the example's model built through ``shoal fs mount``), then:

- init: ``import torch`` + the model load (importing the example's ``lambda_function``)
  timed inside a new execution environment whose libraries and model are on the file system,
  vs the same import in a fresh host process from a local copy of the same tree
  (ratio = host / function: 1.0 is "as fast as the host", the target is >= 0.95);
- first call vs warm call through the HTTP API (``POST /default/MLInference`` with a picture);
- 8 concurrent callers on a function with no environment yet: every environment runs init;
  with snapshot starts (first use, then with the snapshot already made) and with provisioned
  concurrency 8, when the server offers them (rows print N/A otherwise — see the hooks
  ``snapshot_function`` and ``provisioned_function``).

    .venv/bin/python -m bench ml_bench      (or: ./run bench ml_bench)

Run as root (the CLI mounts the file system on the host).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bench.common import ROOT, median, shoal_server, table

EXAMPLE = ROOT / "examples" / "ml_inference"
RUNTIME = "python3.11"
ROLE = "arn:aws:iam::123456789012:role/lambda-role"  # made by shoal_server
INIT_ROUNDS = 5  # the first of each side warms the page cache and is dropped
WARM_CALLS = 30
CALLERS = 8
ENV = {"PYTHONPATH": "/mnt/inference/lib", "TORCH_HOME": "/mnt/inference/model"}

# The handler wrapped to report how long its module-level init took in this environment.
PROBE = """import time
_t0 = time.perf_counter()
import lambda_function  # import torch, PIL, numpy; torch.hub.load the model; model.eval()
INIT_S = time.perf_counter() - _t0


def handler(event, context):
    if event.get("probe"):
        return {"init_s": INIT_S}
    return lambda_function.lambda_handler(event, context)
"""
HOST_INIT = (
    "import time; t = time.perf_counter(); import lambda_function; print(time.perf_counter() - t)"
)


@dataclass
class Bench:
    endpoint: str
    lam: Any
    apigw: Any
    ap_arn: str
    local: Path  # a host copy of the access point's lib/ and model/
    picture: Path

    def function(self, name: str, handler: str = "probe.handler", **extra: Any) -> str:
        code = make_zip({"lambda_function.py": (EXAMPLE / "lambda_function.py").read_text(),
                         "probe.py": PROBE})  # fmt: skip
        fn = self.lam.create_function(
            FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler=handler,
            Code={"ZipFile": code}, MemorySize=3008, Timeout=300,
            Environment={"Variables": ENV},
            FileSystemConfigs=[{"Arn": self.ap_arn, "LocalMountPath": "/mnt/inference"}],
            **extra,
        )  # fmt: skip
        self.lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 600}
        )
        return str(fn["FunctionArn"])

    def http_api(self, function_arn: str) -> str:
        api = self.apigw.create_api(Name=f"ml-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")
        integration = self.apigw.create_integration(
            ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=function_arn,
            PayloadFormatVersion="2.0",
        )  # fmt: skip
        self.apigw.create_route(ApiId=api["ApiId"], RouteKey="ANY /MLInference",
                                Target=f"integrations/{integration['IntegrationId']}")  # fmt: skip
        self.apigw.create_stage(ApiId=api["ApiId"], StageName="default", AutoDeploy=True)
        return f"{api['ApiEndpoint']}/default/MLInference"

    def post(self, url: str) -> float:
        """One picture through the HTTP API; seconds. A wrong answer fails the benchmark."""
        request = urllib.request.Request(url, data=self.picture.read_bytes(), method="POST",
                                         headers={"Content-Type": "image/png"})  # fmt: skip
        t0 = time.perf_counter()
        with urllib.request.urlopen(request, timeout=300) as r:
            body = json.loads(r.read())
        elapsed = time.perf_counter() - t0
        if body != {"class": self.picture.name.split("-")[0]}:
            raise RuntimeError(f"{url} answered {body}")
        return elapsed


def make_zip(files: dict[str, str]) -> bytes:
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import make_zip as zipper  # the same helper the tests use

    return bytes(zipper(dict(files)))


def cli(endpoint: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "shoal", *args, "--endpoint-url", endpoint],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"shoal {' '.join(args)}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def populate(endpoint: str, workdir: Path) -> tuple[str, Path]:
    """The example's file system: libraries, model and sample pictures. (AP ARN, samples)."""
    efs = client("efs", endpoint)
    fs_id = efs.create_file_system(CreationToken=uuid.uuid4().hex)["FileSystemId"]
    ap = efs.create_access_point(
        FileSystemId=fs_id, PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory={"Path": "/ml", "CreationInfo": {
            "OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "750"}},
    )  # fmt: skip
    cli(endpoint, "fs", "pip-install", fs_id, "--access-point", ap["AccessPointId"],
        "-r", str(EXAMPLE / "requirements.txt"))  # fmt: skip
    mnt, samples = workdir / "mnt", workdir / "samples"
    cli(endpoint, "fs", "mount", fs_id, str(mnt), "--access-point", ap["AccessPointId"])
    try:
        subprocess.run(
            [host_python(), str(EXAMPLE / "build_model.py"), "--out", str(mnt / "model"),
             "--samples", str(samples)],
            env={**os.environ, "PYTHONPATH": str(mnt / "lib")}, check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        # The host baseline reads a copy on the host's own disk, outside any mount.
        for part in ("lib", "model"):
            shutil.copytree(mnt / part, workdir / "local" / part, symlinks=True)
    finally:
        subprocess.run([sys.executable, "-m", "shoal", "fs", "unmount", str(mnt)], check=True)
    return str(ap["AccessPointArn"]), samples


def host_python() -> str:
    from shoal.sandbox.runtimes import discover

    return discover()[RUNTIME]


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="shoal",
        aws_secret_access_key="shoal",
        config=Config(retries={"max_attempts": 0}, read_timeout=600, max_pool_connections=50),
    )  # fmt: skip


# --- measurements ------------------------------------------------------------------------------


def host_init_s(local: Path) -> float:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{local / 'lib'}:{EXAMPLE}",
           "TORCH_HOME": str(local / "model")}  # fmt: skip
    out = subprocess.run([host_python(), "-c", HOST_INIT], env=env, capture_output=True,
                         text=True, check=True, cwd=tempfile.gettempdir())  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def function_init_s(b: Bench) -> float:
    """Init of a brand-new environment (a new function each time), timed inside it."""
    name = f"ml-init-{uuid.uuid4().hex[:8]}"
    b.function(name)
    out = b.lam.invoke(FunctionName=name, Payload=b'{"probe": true}')
    doc = json.loads(out["Payload"].read())
    if out.get("FunctionError"):
        raise RuntimeError(f"probe failed: {doc}")
    return float(doc["init_s"])


def burst_s(call: Callable[[], float], n: int = CALLERS) -> float:
    """Wall time for ``n`` callers released together until the last answer."""
    barrier = threading.Barrier(n + 1)

    def one(_: int) -> float:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        barrier.wait()
        t0 = time.perf_counter()
        for f in futures:
            f.result()
        return time.perf_counter() - t0


def snapshot_function(b: Bench, name: str) -> str | None:
    """Hook for snapshot starts: a function whose new environments fork from one that has run
    init. Uses Lambda's SnapStart shape (ApplyOn PublishedVersions, invoked through a published
    version); None when the server does not turn it on."""
    try:
        arn = b.function(name, "lambda_function.lambda_handler",
                         SnapStart={"ApplyOn": "PublishedVersions"})  # fmt: skip
        version = b.lam.publish_version(FunctionName=name)
    except ClientError:
        return None
    if version.get("SnapStart", {}).get("OptimizationStatus") != "On":
        return None
    return f"{arn}:{version['Version']}"


def provisioned_function(b: Bench, name: str, count: int) -> str | None:
    """Hook for provisioned concurrency: ``count`` environments initialised before the calls;
    None when the server does not implement PutProvisionedConcurrencyConfig."""
    arn = b.function(name, "lambda_function.lambda_handler")
    try:
        version = b.lam.publish_version(FunctionName=name)["Version"]
        b.lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=count
        )
    except ClientError:
        return None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = b.lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
        if status["Status"] == "READY":
            return f"{arn}:{version}"
        if status["Status"] == "FAILED":
            raise RuntimeError(f"provisioned concurrency failed: {status}")
        time.sleep(0.5)
    raise TimeoutError("provisioned concurrency not READY in 600 s")


def burst_row(b: Bench, what: str, target_arn: str | None, cold: float, prime: bool = False
              ) -> tuple[str, ...]:  # fmt: skip
    """``CALLERS`` callers at once on ``target_arn`` (after one call first with ``prime``)."""
    if target_arn is None:
        return (what, "N/A (not offered by this server yet)", "", "", "")
    url = b.http_api(target_arn)
    if prime:
        b.post(url)
    seconds = burst_s(lambda: b.post(url))
    return (what, f"{seconds * 1000:.0f}", f"{cold * 1000:.0f} (every environment runs init)",
            f"{cold / seconds:.2f}× faster", "")  # fmt: skip


def run() -> str:
    if os.geteuid() != 0:
        return "### ML inference\n\n(skipped: needs root to mount the file system)\n"
    with (
        tempfile.TemporaryDirectory(prefix="shoal-ml-bench-") as d,
        shoal_server("--idle-timeout", "900") as endpoint,
    ):
        workdir = Path(d)
        ap_arn, samples = populate(endpoint, workdir)
        b = Bench(endpoint, client("lambda", endpoint), client("apigatewayv2", endpoint), ap_arn,
                  workdir / "local", sorted(samples.glob("*.png"))[0])  # fmt: skip

        # Interleaved, so that a change in the machine's load hits both sides alike.
        host, inside = [], []
        for _ in range(INIT_ROUNDS):
            host.append(host_init_s(b.local))
            inside.append(function_init_s(b))
        host, inside = host[1:], inside[1:]

        arn = b.function(f"ml-{uuid.uuid4().hex[:8]}", "lambda_function.lambda_handler")
        url = b.http_api(arn)
        first = b.post(url)
        warm = [b.post(url) for _ in range(WARM_CALLS)]

        arn = b.function(f"ml-burst-{uuid.uuid4().hex[:8]}", "lambda_function.lambda_handler")
        cold_url = b.http_api(arn)
        cold_burst = burst_s(lambda: b.post(cold_url))
        # The same 8 callers again: now each finds an environment that has run init.
        warm_burst = burst_s(lambda: b.post(cold_url))
        snap = burst_row(b, f"{CALLERS} concurrent callers, snapshot starts, first use: the "
                            "snapshot's init included (ms)",
                         snapshot_function(b, f"ml-snap-{uuid.uuid4().hex[:8]}"),
                         cold_burst)  # fmt: skip
        snap_ready = burst_row(b, f"{CALLERS} concurrent callers, snapshot starts, snapshot "
                                  f"ready (one call before): {CALLERS - 1} restores (ms)",
                               snapshot_function(b, f"ml-snap-{uuid.uuid4().hex[:8]}"),
                               cold_burst, prime=True)  # fmt: skip
        prov = burst_row(b, f"{CALLERS} concurrent callers, provisioned concurrency {CALLERS} (ms)",
                         provisioned_function(b, f"ml-pc-{uuid.uuid4().hex[:8]}", CALLERS),
                         cold_burst)  # fmt: skip

    h, f = median(host), median(inside)
    rows = [
        ("import torch + model load, from the file system inside a new environment (ms)",
         f"{f * 1000:.0f}", f"{h * 1000:.0f} (fresh host process, local copy)",
         f"{h / f:.2f}×", "≥ 0.95×"),
        ("first call through the HTTP API, new environment (ms)", f"{first * 1000:.0f}",
         f"{statistics.median(warm) * 1000:.1f} (warm call p50)",
         f"{first / statistics.median(warm):.0f}× slower", ""),
        (f"{CALLERS} concurrent callers, no environment yet: every one runs init (ms)",
         f"{cold_burst * 1000:.0f}", f"{warm_burst * 1000:.0f} ({CALLERS} callers, warm)",
         f"{cold_burst / warm_burst:.1f}× slower", ""),
        snap,
        snap_ready,
        prov,
    ]  # fmt: skip
    return table("ML inference (the seed's MLInference function)", rows)  # type: ignore[arg-type]


if __name__ == "__main__":
    print(run())
