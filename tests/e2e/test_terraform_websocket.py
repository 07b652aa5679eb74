"""Terraform's AWS provider makes a WebSocket API on Shoal (``terraform_websocket/main.tf``):
apply, talk to it with the ``websockets`` client, re-plan with no changes, destroy, and find
nothing left behind. Runs where the Terraform e2e test runs (Terraform and its provider mirror
installed; nothing is downloaded)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from websockets.sync.client import connect

from conftest import ShoalServer, start_server

TERRAFORM = shutil.which("terraform")
MIRROR = Path(os.environ.get("SHOAL_TF_MIRROR", "/opt/tf-plugins"))
STACK = Path(__file__).parent / "terraform_websocket" / "main.tf"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
CALLER_CREDENTIALS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                      "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"}  # fmt: skip
OWN_CREDENTIALS = {"SHOAL_ROOT_ACCESS_KEY_ID": "", "SHOAL_ROOT_SECRET_ACCESS_KEY": ""}
ECHO = """
def handler(event, context):
    if event["requestContext"]["eventType"] != "MESSAGE":
        return {"statusCode": 200}
    return {"statusCode": 200, "body": "echo: " + event["body"]}
"""

pytestmark = pytest.mark.skipif(
    TERRAFORM is None or not MIRROR.is_dir(),
    reason="runs when Terraform and the hashicorp/aws provider mirror are installed",
)


def _terraform(work: Path, srv: ShoalServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if k not in CALLER_CREDENTIALS},
           "TF_CLI_CONFIG_FILE": str(work / "cli.tfrc"), "TF_IN_AUTOMATION": "1",
           "CHECKPOINT_DISABLE": "1", "TF_LOG": "DEBUG",
           "TF_LOG_PATH": str(work / "terraform.log")}  # fmt: skip
    argv = [str(TERRAFORM), *args, "-no-color"]
    if args[0] in ("init", "apply", "plan", "destroy"):
        argv.append("-input=false")
    if args[0] in ("apply", "plan", "destroy"):
        argv += [f"-var=endpoint={srv.endpoint}", f"-var=runtime={RUNTIME}",
                 f"-var=package={work / 'echo.zip'}",
                 f"-var=credentials={srv.data_dir / 'credentials'}"]  # fmt: skip
    proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode not in (0, 2) or (proc.returncode == 2 and args[0] != "plan"):
        log = (work / "terraform.log").read_text()[-20000:]
        pytest.fail(f"terraform {args[0]} failed ({proc.returncode}):\n{proc.stdout}\n"
                    f"{proc.stderr}\n--- end of the provider's log ---\n{log}")  # fmt: skip
    return proc


def test_websocket_stack(tmp_path: Path) -> None:
    work = tmp_path / "stack"
    work.mkdir()
    shutil.copy(STACK, work / "main.tf")
    (work / "cli.tfrc").write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n'
    )
    with zipfile.ZipFile(work / "echo.zip", "w") as zf:
        zf.writestr("echo.py", ECHO)
    srv = start_server(tmp_path / "data", execution_role=False, env=OWN_CREDENTIALS)
    try:
        _terraform(work, srv, "init")
        _terraform(work, srv, "apply", "-auto-approve")
        outputs = json.loads(_terraform(work, srv, "output", "-json").stdout)
        url = outputs["url"]["value"]
        assert url.startswith("ws://") and url.endswith("/prod")
        with connect(url, open_timeout=120) as ws:
            ws.send("hello")
            assert ws.recv(timeout=120) == "echo: hello"
        plan = _terraform(work, srv, "plan", "-detailed-exitcode")
        assert plan.returncode == 0, f"the re-plan wants changes:\n{plan.stdout}"
        _terraform(work, srv, "destroy", "-auto-approve")
        state = json.loads(_terraform(work, srv, "show", "-json").stdout)
        assert not state.get("values", {}).get("root_module", {}).get("resources")
    finally:
        srv.stop()
