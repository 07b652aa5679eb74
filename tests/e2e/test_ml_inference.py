"""The seed's machine-learning inference API, end to end, as a user builds it on Shoal.

A file system and an access point (/ml, 1001:1001) made with boto3; PyTorch, Pillow and NumPy
installed into it with ``shoal fs pip-install`` typed as a user would; the example's model
built into it through ``shoal fs mount``; the MLInference function (PYTHONPATH and TORCH_HOME
on the file system, 3008 MB, 300 s) behind an HTTP API route ``ANY /MLInference``; pictures of
each known shape sent as a binary body and as ``?url=`` of a web server on another host (a
network namespace, reached through NAT as the article reaches the internet); the right class
must come back. Installing torch (~1 GB) happens once per module and the tree is reused.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROLE, ROOT, SHOAL, ShoalServer, make_zip, remote_web_server, unique_name
from shoal.sandbox.runtimes import discover

# Installing torch and training the model take ~1.5 min on an idle 2-core machine; the margin
# is for a loaded CI runner.
pytestmark = [pytest.mark.ml, pytest.mark.timeout(600)]

EXAMPLE = ROOT / "examples" / "ml_inference"
RUNTIME = "python3.11"  # the CPU wheel of torch 2.13.0 on this machine is for CPython 3.11
UID = GID = 1001
CLASSES = ("circle", "square", "triangle", "star")


@dataclass(frozen=True)
class MlFileSystem:
    file_system_id: str
    access_point_id: str
    access_point_arn: str
    host_root: Path  # the access point's root directory on the host (/ml of the file system)
    samples: Path  # pictures of each class written by build_model.py


def shoal_cli(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """The CLI as a user types it; its output is kept for the assertions and the report."""
    proc = subprocess.run(
        [*SHOAL, *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, f"shoal {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def ml_fs(server: ShoalServer, efs_client, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[MlFileSystem]:  # fmt: skip
    fs_id = efs_client.create_file_system(
        CreationToken=unique_name("ml"), Tags=[{"Key": "Name", "Value": "MLInference"}]
    )["FileSystemId"]
    ap = efs_client.create_access_point(
        FileSystemId=fs_id,
        PosixUser={"Uid": UID, "Gid": GID},
        RootDirectory={"Path": "/ml", "CreationInfo": {
            "OwnerUid": UID, "OwnerGid": GID, "Permissions": "750"}},
    )  # fmt: skip
    ap_id = ap["AccessPointId"]

    # 1. The libraries, into /ml/lib, owned by the access point's user.
    started = time.monotonic()
    proc = shoal_cli("fs", "pip-install", fs_id, "--access-point", ap_id, "--target", "lib",
                     "-r", str(EXAMPLE / "requirements.txt"), "--endpoint-url", server.endpoint,
                     timeout=600)  # fmt: skip
    print(f"\npip-install: {time.monotonic() - started:.1f} s")
    assert "torch-2.13.0" in proc.stdout, proc.stdout

    # 2. The model, built on the host through an access-point mount with the libraries just
    #    installed, into /ml/model (TORCH_HOME). The idmapped mount stores root's files as 1001.
    mnt = tmp_path_factory.mktemp("ml-mount") / "ml"
    samples = tmp_path_factory.mktemp("ml-samples")
    shoal_cli("fs", "mount", fs_id, str(mnt), "--access-point", ap_id,
              "--endpoint-url", server.endpoint, timeout=60)  # fmt: skip
    try:
        started = time.monotonic()
        build = subprocess.run(
            [discover()[RUNTIME], str(EXAMPLE / "build_model.py"), "--out", str(mnt / "model"),
             "--samples", str(samples), "--samples-per-class", "2"],
            env={**os.environ, "PYTHONPATH": str(mnt / "lib")},
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        print(f"build_model: {time.monotonic() - started:.1f} s\n{build.stdout}")
        assert build.returncode == 0, build.stdout + build.stderr
    finally:
        shoal_cli("fs", "unmount", str(mnt), timeout=60)
    host_root = server.data_dir / "filesystems" / fs_id / "ml"
    yield MlFileSystem(fs_id, ap_id, ap["AccessPointArn"], host_root, samples)


def test_installed_tree_belongs_to_the_access_point_user(ml_fs: MlFileSystem) -> None:
    for rel in ("lib", "lib/torch/__init__.py", "lib/PIL", "model/hub/shoal_shapes/hubconf.py",
                "model/hub/shoal_shapes/shapes_cnn.pt"):  # fmt: skip
        st = (ml_fs.host_root / rel).stat()
        assert (st.st_uid, st.st_gid) == (UID, GID), rel
    not_owned = [p for p in (ml_fs.host_root / "lib").rglob("*")
                 if p.lstat().st_uid != UID][:5]  # fmt: skip
    assert not_owned == []


@pytest.fixture(scope="module")
def image_server(ml_fs: MlFileSystem) -> Iterator[str]:
    """The article's pictures come from the internet, through the VPC's NAT gateway: here a
    web server on another host (a network namespace of its own) serving the samples."""
    with remote_web_server(ml_fs.samples) as url:
        yield url


@dataclass(frozen=True)
class MlApi:
    url: str
    function_name: str


@pytest.fixture(scope="module")
def ml_api(ml_fs: MlFileSystem, lambda_client, apigw_client) -> MlApi:
    """The MLInference function, as the article configures it, behind ``ANY /MLInference``."""
    name = unique_name("MLInference")
    fn = lambda_client.create_function(
        FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": make_zip({
            "lambda_function.py": (EXAMPLE / "lambda_function.py").read_text()})},
        MemorySize=3008, Timeout=300,
        Environment={"Variables": {"PYTHONPATH": "/mnt/inference/lib",
                                   "TORCH_HOME": "/mnt/inference/model"}},
        FileSystemConfigs=[{"Arn": ml_fs.access_point_arn, "LocalMountPath": "/mnt/inference"}],
    )  # fmt: skip
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 600}
    )
    api = apigw_client.create_api(Name=name, ProtocolType="HTTP")
    integration = apigw_client.create_integration(
        ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=fn["FunctionArn"],
        PayloadFormatVersion="2.0",
    )  # fmt: skip
    apigw_client.create_route(ApiId=api["ApiId"], RouteKey="ANY /MLInference",
                              Target=f"integrations/{integration['IntegrationId']}")  # fmt: skip
    apigw_client.create_stage(ApiId=api["ApiId"], StageName="default", AutoDeploy=True)
    return MlApi(f"{api['ApiEndpoint']}/default/MLInference", name)


def function_log(lambda_client, api: MlApi, body: bytes) -> str:
    """The function's own log of the same request (for an assertion message)."""
    event = {"body": base64.b64encode(body).decode(), "isBase64Encoded": True}
    out = lambda_client.invoke(FunctionName=api.function_name, LogType="Tail",
                               Payload=json.dumps(event).encode())  # fmt: skip
    return base64.b64decode(out.get("LogResult", "")).decode(errors="replace")


def call(url: str, body: bytes | None = None, content_type: str = "application/octet-stream"
         ) -> tuple[int, bytes, float]:  # fmt: skip
    """One curl-like request: (status, body, seconds)."""
    headers = {"Content-Type": content_type} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers,
                                     method="POST" if body is not None else "GET")  # fmt: skip
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=300) as r:
            return r.status, r.read(), time.perf_counter() - started
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read(), time.perf_counter() - started


def content_type(path: Path) -> str:
    return "image/png" if path.suffix == ".png" else "image/jpeg"


def samples(ml_fs: MlFileSystem) -> list[Path]:
    found = sorted(ml_fs.samples.iterdir())
    assert {p.name.split("-")[0] for p in found} == set(CLASSES)
    return found


def test_binary_body_gives_the_right_class(ml_fs: MlFileSystem, ml_api: MlApi,
                                           lambda_client) -> None:  # fmt: skip
    pictures = samples(ml_fs)
    first = pictures[0]
    status, body, first_s = call(ml_api.url, first.read_bytes(), content_type(first))
    if status != 200:
        pytest.fail(f"{status} {body!r}\n{function_log(lambda_client, ml_api, first.read_bytes())}")
    assert json.loads(body) == {"class": first.name.split("-")[0]}, body
    warm = []
    for picture in pictures:
        status, body, seconds = call(ml_api.url, picture.read_bytes(), content_type(picture))
        assert status == 200, body
        assert json.loads(body) == {"class": picture.name.split("-")[0]}, picture.name
        warm.append(seconds)
    print(f"\nfirst call {first_s * 1000:.0f} ms (import torch + model load from the file "
          f"system); warm calls p50 {statistics.median(warm) * 1000:.1f} ms")  # fmt: skip
    # The model is loaded once per environment, not per call.
    assert statistics.median(warm) < first_s


def test_url_query_gives_the_right_class(ml_fs: MlFileSystem, ml_api: MlApi, image_server: str
                                         ) -> None:  # fmt: skip
    for picture in samples(ml_fs):
        query = urllib.parse.urlencode({"url": f"{image_server}/{picture.name}"})
        status, body, _ = call(f"{ml_api.url}?{query}")
        assert status == 200, body
        assert json.loads(body) == {"class": picture.name.split("-")[0]}, picture.name


def test_a_body_that_is_not_a_picture_is_a_400(ml_api: MlApi) -> None:
    status, body, _ = call(ml_api.url, b"not a picture", "text/plain")
    assert status == 400
    assert json.loads(body)["message"].startswith("cannot read image: not a picture")


def test_pip_install_refuses_a_target_outside_the_access_point(
    server: ShoalServer, ml_fs: MlFileSystem, tmp_path: Path
) -> None:
    (tmp_path / "requirements.txt").write_text("six\n")
    proc = subprocess.run(
        [*SHOAL, "fs", "pip-install", ml_fs.file_system_id, "--access-point",
         ml_fs.access_point_id, "--target", "../escape", "-r", str(tmp_path / "requirements.txt"),
         "--endpoint-url", server.endpoint],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "relative path inside the file system" in proc.stderr
    assert not (ml_fs.host_root.parent / "escape").exists()


def test_snapshot_started_environments_answer_right(ml_fs: MlFileSystem, lambda_client) -> None:
    """Eight callers at once on a snapshot-start version: one init, seven forks of it. Torch's
    OpenMP pool does not survive a fork; the handler loads single-threaded so these answer."""
    name = unique_name("MLInferenceSnap")
    lambda_client.create_function(
        FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": make_zip({
            "lambda_function.py": (EXAMPLE / "lambda_function.py").read_text()})},
        MemorySize=3008, Timeout=60, SnapStart={"ApplyOn": "PublishedVersions"},
        Environment={"Variables": {"PYTHONPATH": "/mnt/inference/lib",
                                   "TORCH_HOME": "/mnt/inference/model"}},
        FileSystemConfigs=[{"Arn": ml_fs.access_point_arn, "LocalMountPath": "/mnt/inference"}],
    )  # fmt: skip
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 600}
    )
    version = lambda_client.publish_version(FunctionName=name)
    assert version["SnapStart"]["OptimizationStatus"] == "On"
    pictures = samples(ml_fs)

    def classify(picture: Path) -> tuple[str, object]:
        event = {"body": base64.b64encode(picture.read_bytes()).decode(), "isBase64Encoded": True}
        out = lambda_client.invoke(FunctionName=name, Qualifier=version["Version"],
                                   Payload=json.dumps(event).encode())  # fmt: skip
        return picture.name.split("-")[0], json.loads(out["Payload"].read())

    with ThreadPoolExecutor(len(pictures)) as pool:
        answers = list(pool.map(classify, pictures))
    for label, answer in answers:
        assert isinstance(answer, str), answer  # an error would be an object
        assert json.loads(answer) == {"class": label}
