"""The examples' own scripts, as a user runs them: ``setup.sh`` twice (the second run succeeds,
makes nothing twice and prints the same URL) and ``teardown.sh`` (everything setup made is
gone; a second teardown succeeds too)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, ShoalServer, start_server, unique_name

EXAMPLES = ROOT / "examples"


def run_script(srv: ShoalServer, path: Path, *args: str, env: dict[str, str] | None = None,
               timeout: float = 300, bin_dir: Path | None = None
               ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run an example's script with ``.venv/bin`` (its ``aws`` is v1) on the PATH, after
    ``bin_dir`` if given."""
    environ = {**os.environ, **(env or {}), "SHOAL_ENDPOINT": srv.endpoint,
               "SHOAL_DATA_DIR": str(srv.data_dir)}  # the scripts find its credentials there
    environ["PATH"] = f"{ROOT / '.venv' / 'bin'}:{environ['PATH']}"
    if bin_dir is not None:
        environ["PATH"] = f"{bin_dir}:{environ['PATH']}"
    proc = subprocess.run([str(path), *args], capture_output=True, text=True, env=environ,
                          timeout=timeout, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, f"{path.name} {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def curl(*args: str) -> str:
    return subprocess.run(["curl", "-sf", *args], capture_output=True, text=True, check=True,
                          timeout=60).stdout  # fmt: skip


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        with e:
            return e.code


def inventory(
    srv: ShoalServer, name: str, api_name: str, token: str, role: str
) -> dict[str, Any]:
    """What exists of one example: counts of everything setup makes."""
    lam, efs, apigw = srv.client("lambda"), srv.client("efs"), srv.client("apigatewayv2")
    iam: Any = srv.client("iam")
    apis = [a for a in apigw.get_apis()["Items"] if a["Name"] == api_name]
    file_systems = efs.describe_file_systems(CreationToken=token)["FileSystems"]
    functions = [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == name]
    roles = [r for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]
             if r["RoleName"] == role]  # fmt: skip
    found: dict[str, Any] = {"apis": len(apis), "file_systems": len(file_systems),
                             "functions": len(functions), "roles": len(roles)}  # fmt: skip
    if functions:
        found["role"] = lam.get_function_configuration(FunctionName=name)["Role"] == (
            roles[0]["Arn"] if roles else None)  # the function runs as that role
    if apis:
        api_id = apis[0]["ApiId"]
        found["routes"] = [r["RouteKey"] for r in apigw.get_routes(ApiId=api_id)["Items"]]
        found["integrations"] = len(apigw.get_integrations(ApiId=api_id)["Items"])
        found["stages"] = [s["StageName"] for s in apigw.get_stages(ApiId=api_id)["Items"]]
    if file_systems:
        fs_id = file_systems[0]["FileSystemId"]
        found["access_points"] = len(efs.describe_access_points(FileSystemId=fs_id)["AccessPoints"])
    return found


def aws_cli(version: str, tmp_path: Path) -> Path | None:
    """A directory whose ``aws`` is AWS CLI ``version`` (None: the virtualenv's, v1)."""
    if version == "v1":
        return None
    system = Path("/usr/bin/aws")  # Debian's awscli package
    # ./run installs Debian's awscli (v2): its absence is a failure, not a reason to skip.
    assert system.exists(), "AWS CLI v2 is not installed (./run setup installs awscli)"
    found = subprocess.run([str(system), "--version"], capture_output=True, text=True).stdout
    assert found.startswith("aws-cli/2."), f"/usr/bin/aws is not AWS CLI v2: {found}"
    (tmp_path / "aws").symlink_to(system)
    return tmp_path


@pytest.mark.parametrize("cli", ["v1", "v2"])
def test_message_wall_setup_twice_then_teardown(
    server: ShoalServer, tmp_path: Path, cli: str
) -> None:
    name = unique_name("Wall")
    setup, teardown = (EXAMPLES / "message_wall" / f for f in ("setup.sh", "teardown.sh"))
    bin_dir = aws_cli(cli, tmp_path)

    def script(srv: ShoalServer, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return run_script(srv, path, *args, bin_dir=bin_dir)

    url = script(server, setup, name).stdout.strip()
    assert url.endswith("/default/MessageWall")
    assert curl("-X", "POST", "-H", "Content-Type: text/plain", "-d", "kept", url) == "kept\n"
    made = inventory(server, name, f"{name}-API", f"{name}-fs", f"{name}-role")
    assert made == {"apis": 1, "file_systems": 1, "functions": 1, "roles": 1, "role": True,
                    "routes": ["ANY /MessageWall"], "integrations": 1, "stages": ["default"],
                    "access_points": 1}  # fmt: skip
    fs_id = server.client("efs").describe_file_systems(CreationToken=f"{name}-fs")[
        "FileSystems"][0]["FileSystemId"]  # fmt: skip

    again = script(server, setup, name)
    assert again.stdout.strip() == url
    assert inventory(server, name, f"{name}-API", f"{name}-fs", f"{name}-role") == made
    assert curl(url) == "kept\n"  # the same file system, messages and all

    script(server, teardown, name)
    assert inventory(server, name, f"{name}-API", f"{name}-fs", f"{name}-role") == {
        "apis": 0, "file_systems": 0, "functions": 0, "roles": 0}  # fmt: skip
    # The volume goes in the background, as an EFS file system's deletion completes after
    # DeleteFileSystem answers: its tree is gone within seconds.
    tree = server.data_dir / "filesystems" / fs_id
    deadline = time.monotonic() + 30
    while tree.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not tree.exists()
    assert status(url) == 404
    script(server, teardown, name)  # nothing left to remove: still a success


@pytest.mark.ml
@pytest.mark.timeout(1200)
def test_ml_inference_setup_twice_then_teardown(server: ShoalServer, tmp_path: Path) -> None:
    """The second run skips the install and the model build (their stamps match)."""
    name, samples = unique_name("ML"), tmp_path / "samples"
    setup, teardown = (EXAMPLES / "ml_inference" / f for f in ("setup.sh", "teardown.sh"))
    env = {"NAME": name, "SAMPLES": str(samples)}
    first = run_script(server, setup, env=env, timeout=900)
    url = re.findall(rf"(http://\S+/default/{name})", first.stdout)[0]
    answer = curl("-H", "Content-Type: image/png", "--data-binary",
                  f"@{samples / 'circle-0.png'}", url)  # fmt: skip
    assert json.loads(answer) == {"class": "circle"}
    made = inventory(server, name, name, name, name)
    assert made == {"apis": 1, "file_systems": 1, "functions": 1, "roles": 1, "role": True,
                    "routes": [f"ANY /{name}"], "integrations": 1, "stages": ["default"],
                    "access_points": 1}  # fmt: skip

    again = run_script(server, setup, env=env, timeout=300)
    assert "already installed for this requirements.txt" in again.stdout
    assert "already built by this build_model.py" in again.stdout
    assert re.findall(rf"(http://\S+/default/{name})", again.stdout)[0] == url
    assert inventory(server, name, name, name, name) == made
    answer = curl("-H", "Content-Type: image/png", "--data-binary",
                  f"@{samples / 'circle-0.png'}", url)  # fmt: skip
    assert json.loads(answer) == {"class": "circle"}

    run_script(server, teardown, env=env)
    assert inventory(server, name, name, name, name) == {
        "apis": 0, "file_systems": 0, "functions": 0, "roles": 0}  # fmt: skip
    assert not samples.exists()
    run_script(server, teardown, env=env)


def test_the_scripts_sign_with_the_servers_own_root_credentials(tmp_path: Path) -> None:
    """A server that made its own root credentials: setup.sh and teardown.sh find them in the
    data directory (as root reads them) without a key typed or copied; a wrong key refuses."""
    srv = start_server(tmp_path / "data", execution_role=False,
                       env={"SHOAL_ROOT_ACCESS_KEY_ID": "", "SHOAL_ROOT_SECRET_ACCESS_KEY": ""})
    try:
        assert (srv.data_dir / "credentials").exists()
        setup, teardown = (EXAMPLES / "message_wall" / f for f in ("setup.sh", "teardown.sh"))
        bare = {k: "" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE")}
        url = run_script(srv, setup, "Wall", env=bare).stdout.strip()
        assert curl("-X", "POST", "-H", "Content-Type: text/plain", "-d", "hi", url) == "hi\n"
        run_script(srv, teardown, "Wall", env=bare)
        wrong = subprocess.run(
            [str(setup), "Wall"], capture_output=True, text=True, timeout=120, cwd=ROOT,
            env={**{k: v for k, v in os.environ.items() if k != "AWS_PROFILE"},
                 "SHOAL_ENDPOINT": srv.endpoint,
                 "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
                 "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"},
        )  # fmt: skip
        assert wrong.returncode != 0 and "UnrecognizedClientException" in wrong.stderr
    finally:
        srv.stop()
