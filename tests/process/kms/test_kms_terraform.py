"""Terraform's AWS provider makes a KMS key, its alias and an EFS file system encrypted with
it, re-plans with no changes, and destroys them (the key scheduled for deletion, as AWS does).
Runs when Terraform and the provider mirror are installed, as tests/e2e/test_terraform.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ShoalServer

TERRAFORM = shutil.which("terraform")
MIRROR = Path(os.environ.get("SHOAL_TF_MIRROR", "/opt/tf-plugins"))
STACK = Path(__file__).parent / "terraform" / "main.tf"

pytestmark = pytest.mark.skipif(
    TERRAFORM is None or not MIRROR.is_dir(),
    reason="runs when Terraform and the hashicorp/aws provider mirror are installed",
)


def _terraform(work: Path, srv: ShoalServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(work / "cli.tfrc"), "TF_IN_AUTOMATION": "1",
           "CHECKPOINT_DISABLE": "1", "TF_LOG": "DEBUG",
           "TF_LOG_PATH": str(work / "terraform.log")}  # fmt: skip
    argv = [str(TERRAFORM), *args, "-no-color"]
    if args[0] in ("init", "apply", "plan", "destroy"):
        argv.append("-input=false")
    if args[0] in ("apply", "plan", "destroy"):
        argv.append(f"-var=endpoint={srv.endpoint}")
    return subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)


def _ok(proc: subprocess.CompletedProcess[str], work: Path) -> None:
    if proc.returncode != 0:
        log = (work / "terraform.log").read_text()[-20000:]
        pytest.fail(f"terraform failed:\n{proc.stdout}\n{proc.stderr}\n--- log ---\n{log}")


def test_a_key_an_alias_and_an_encrypted_file_system(server: ShoalServer, tmp_path: Path) -> None:
    work = tmp_path / "stack"
    work.mkdir()
    shutil.copy(STACK, work / "main.tf")
    (work / "cli.tfrc").write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n'
    )
    _ok(_terraform(work, server, "init"), work)
    _ok(_terraform(work, server, "apply", "-auto-approve"), work)
    outputs = json.loads(_terraform(work, server, "output", "-json").stdout)
    key_arn = outputs["key_arn"]["value"]
    assert outputs["fs_kms_key_id"]["value"] == key_arn
    kms = server.client("kms")
    assert kms.describe_key(KeyId="alias/wall-files")["KeyMetadata"]["Arn"] == key_arn
    plan = _terraform(work, server, "plan", "-detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    _ok(_terraform(work, server, "destroy", "-auto-approve"), work)
    meta = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["PendingDeletionWindowInDays"] == 7
    assert kms.list_aliases(KeyId=meta["KeyId"])["Aliases"] == []
