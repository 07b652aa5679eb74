"""Terraform's AWS provider against Shoal, as a user runs it: init from the provider mirror,
sign with the root credentials file the server made, apply the MessageWall stack
(``terraform/main.tf``: EFS, the function in the default VPC with its access point and a
layer, alias, URL and permission, an HTTP API), call it, re-plan with no changes, destroy, and
find nothing left behind.

Runs when Terraform is installed (the machine image carries 1.11 and a filesystem mirror of
``hashicorp/aws`` 5.100.0 at /opt/tf-plugins; nothing is downloaded).
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from conftest import ROOT, ShoalServer, start_server

TERRAFORM = shutil.which("terraform")
MIRROR = Path(os.environ.get("SHOAL_TF_MIRROR", "/opt/tf-plugins"))
STACK = Path(__file__).parent / "terraform" / "main.tf"
HANDLER = ROOT / "examples" / "message_wall" / "lambda_function.py"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
CALLER_CREDENTIALS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                      "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"}  # fmt: skip
# The server makes its own root credentials, as a default `shoal serve` does.
OWN_CREDENTIALS = {"SHOAL_ROOT_ACCESS_KEY_ID": "", "SHOAL_ROOT_SECRET_ACCESS_KEY": ""}

pytestmark = pytest.mark.skipif(
    TERRAFORM is None or not MIRROR.is_dir(),
    reason="runs when Terraform and the hashicorp/aws provider mirror are installed",
)


def _terraform(work: Path, srv: ShoalServer, *args: str, check: bool = True
               ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    env = {
        # The provider signs with the server's credentials file alone: no keys of the caller's.
        **{k: v for k, v in os.environ.items() if k not in CALLER_CREDENTIALS},
        "TF_CLI_CONFIG_FILE": str(work / "cli.tfrc"),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        # Every request the provider makes, with its answer: what to read when one fails.
        "TF_LOG": "DEBUG",
        "TF_LOG_PATH": str(work / "terraform.log"),
    }
    variables = [f"-var=endpoint={srv.endpoint}", f"-var=runtime={RUNTIME}",
                 f"-var=package={work / 'wall.zip'}",
                 f"-var=layer_package={work / 'layer.zip'}",
                 f"-var=probe_package={work / 'probe.zip'}",
                 f"-var=credentials={srv.data_dir / 'credentials'}"]  # fmt: skip
    argv = [str(TERRAFORM), *args, "-no-color"]
    if args[0] in ("init", "apply", "plan", "destroy"):
        argv.append("-input=false")
    if args[0] in ("apply", "plan", "destroy"):
        argv += variables
    proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        log = (work / "terraform.log").read_text()[-20000:]
        pytest.fail(f"terraform {args[0]} failed ({proc.returncode}):\n{proc.stdout}\n"
                    f"{proc.stderr}\n--- end of the provider's log ---\n{log}")  # fmt: skip
    return proc


PROBE = """
import greeting

def handler(event, context):
    return {"words": greeting.WORDS, "module": greeting.__file__}
"""


def client(srv: ShoalServer, service: str) -> Any:
    """A boto3 client signing with the root credentials the server made."""
    keys = configparser.ConfigParser()
    keys.read(srv.data_dir / "credentials")
    return boto3.client(
        service, endpoint_url=srv.endpoint, region_name="us-east-1",
        aws_access_key_id=keys["shoal"]["aws_access_key_id"],
        aws_secret_access_key=keys["shoal"]["aws_secret_access_key"],
        config=Config(retries={"max_attempts": 0}, read_timeout=120),
    )  # fmt: skip


def lam_invoke(srv: ShoalServer, name: str) -> bytes:
    lam: Any = client(srv, "lambda")
    response = lam.invoke(FunctionName=name)
    assert "FunctionError" not in response, response["Payload"].read()
    payload: bytes = response["Payload"].read()
    return payload


def _call(url: str, body: bytes | None = None) -> str:
    method = "POST" if body is not None else "GET"
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Content-Type": "text/plain"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as r:
        return r.read().decode()


def test_plan_apply_replan_destroy(tmp_path: Path) -> None:
    work = tmp_path / "stack"
    work.mkdir()
    shutil.copy(STACK, work / "main.tf")
    (work / "cli.tfrc").write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n'
    )
    with zipfile.ZipFile(work / "wall.zip", "w") as zf:
        zf.write(HANDLER, "lambda_function.py")
    with zipfile.ZipFile(work / "layer.zip", "w") as zf:
        zf.writestr("python/greeting.py", "WORDS = 'hello from a layer'\n")
    with zipfile.ZipFile(work / "probe.zip", "w") as zf:
        zf.writestr("probe.py", PROBE)
    # The stack makes its own execution role.
    srv = start_server(tmp_path / "data", execution_role=False, env=OWN_CREDENTIALS)
    try:
        _terraform(work, srv, "init")
        _terraform(work, srv, "apply", "-auto-approve")
        outputs = {
            name: value["value"]
            for name, value in json.loads(_terraform(work, srv, "output", "-json").stdout).items()
        }
        # The deployed stack works: the wall through the function URL, read back through the
        # HTTP API, on the file system Terraform made.
        assert _call(outputs["function_url"], b"Hello from Terraform") == "Hello from Terraform\n"
        assert _call(outputs["api_url"]) == "Hello from Terraform\n"

        # The probe imports its module from the layer Terraform published, at /opt/python.
        answer = json.loads(lam_invoke(srv, "tf-layer-probe"))
        assert answer == {"words": "hello from a layer", "module": "/opt/python/greeting.py"}
        probe = client(srv, "lambda").get_function_configuration(FunctionName="tf-layer-probe")
        assert [layer["Arn"] for layer in probe["Layers"]] == [outputs["layer_arn"]]

        # Every read of the refresh answers as AWS does, and nothing drifts.
        plan = _terraform(work, srv, "plan", "-detailed-exitcode", check=False)
        assert plan.returncode == 0, plan.stdout + plan.stderr

        lam, efs, ec2 = client(srv, "lambda"), client(srv, "efs"), client(srv, "ec2")
        config = lam.get_function_configuration(FunctionName="tf-message-wall")
        assert config["VpcConfig"]["VpcId"].startswith("vpc-")
        assert [layer["Arn"] for layer in config["Layers"]] == [outputs["layer_arn"]]
        assert config["FileSystemConfigs"][0]["LocalMountPath"] == "/mnt/msg"
        enis = ec2.describe_network_interfaces()["NetworkInterfaces"]
        assert {e["InterfaceType"] for e in enis} == {"lambda", "efs"}

        _terraform(work, srv, "destroy", "-auto-approve")
        assert lam.list_functions()["Functions"] == []
        assert lam.list_layers()["Layers"] == []
        assert efs.describe_file_systems()["FileSystems"] == []
        assert client(srv, "apigatewayv2").get_apis()["Items"] == []
        # The interfaces Lambda and EFS made went with their function and mount target.
        assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []
    finally:
        srv.stop()
