"""The AWS CLI as a user types it: ``aws iam create-role`` with a trust policy file, then
``aws iam get-role`` and ``aws sts get-caller-identity``."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

from conftest import ROOT, ShoalServer

AWS = str(ROOT / ".venv" / "bin" / "aws")


def _aws(server: ShoalServer, *argv: str) -> dict[str, object]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}  # fmt: skip
    result = subprocess.run([AWS, "--endpoint-url", server.endpoint, *argv], capture_output=True,
                            text=True, env=env, timeout=120, cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_aws_cli_create_role(server: ShoalServer, tmp_path: Path) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(trust))
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = _aws(server, "iam", "create-role", "--role-name", name,
                   "--assume-role-policy-document", f"file://{path}")  # fmt: skip
    role = created["Role"]
    assert isinstance(role, dict) and role["Arn"] == f"arn:aws:iam::123456789012:role/{name}"
    got = _aws(server, "iam", "get-role", "--role-name", name)["Role"]
    assert isinstance(got, dict) and got["AssumeRolePolicyDocument"] == trust
    who = _aws(server, "sts", "get-caller-identity")
    assert who["Account"] == "123456789012"
