"""The seed's set-up steps that name the VPC, through the AWS CLI as a user types them: the
default VPC, its subnets and security group, an NFS rule, and a function in the VPC."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import ROLE, RUNTIME, ShoalServer, make_zip, unique_name

AWS = [str(Path(sys.executable).parent / "aws")]


def aws(server: ShoalServer, *argv: str, ok: bool = True) -> Any:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
           "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    result = subprocess.run([*AWS, "--endpoint-url", server.endpoint, "--output", "json", *argv],
                            capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    if not ok:
        return result
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_vpc_set_up_with_the_cli(server: ShoalServer, tmp_path: Path) -> None:
    vpc = aws(server, "ec2", "describe-vpcs", "--filters", "Name=isDefault,Values=true",
              "--query", "Vpcs[0].VpcId")  # fmt: skip
    subnets = aws(server, "ec2", "describe-subnets", "--filters", f"Name=vpc-id,Values={vpc}",
                  "--query", "Subnets[].SubnetId")  # fmt: skip
    assert len(subnets) == 6
    group = aws(server, "ec2", "create-security-group", "--group-name", unique_name("efs"),
                "--description", "NFS for the wall", "--vpc-id", vpc)["GroupId"]  # fmt: skip
    aws(server, "ec2", "authorize-security-group-ingress", "--group-id", group,
        "--protocol", "tcp", "--port", "2049", "--source-group", group)  # fmt: skip
    (described,) = aws(server, "ec2", "describe-security-groups", "--group-ids", group)[
        "SecurityGroups"
    ]
    (rule,) = described["IpPermissions"]
    assert (rule["FromPort"], rule["UserIdGroupPairs"][0]["GroupId"]) == (2049, group)
    rule_args = ("--protocol", "tcp", "--port", "2049", "--source-group", group)
    again = aws(server, "ec2", "authorize-security-group-ingress", "--group-id", group,
                *rule_args, ok=False)  # fmt: skip
    assert again.returncode != 0 and "InvalidPermission.Duplicate" in again.stderr

    package = tmp_path / "fn.zip"
    package.write_bytes(make_zip({"app.py": "def handler(e, c):\n    return 'ok'\n"}))
    name = unique_name()
    created = aws(server, "lambda", "create-function", "--function-name", name, "--runtime",
                  RUNTIME, "--role", ROLE, "--handler", "app.handler", "--zip-file",
                  f"fileb://{package}", "--vpc-config",
                  f"SubnetIds={subnets[0]},{subnets[1]},SecurityGroupIds={group}")  # fmt: skip
    assert created["VpcConfig"]["VpcId"] == vpc
    enis = aws(server, "ec2", "describe-network-interfaces", "--filters",
               f"Name=group-id,Values={group}")["NetworkInterfaces"]  # fmt: skip
    assert sorted(e["SubnetId"] for e in enis) == sorted(subnets[:2])
    busy = aws(server, "ec2", "delete-security-group", "--group-id", group, ok=False)
    assert "DependencyViolation" in busy.stderr
    aws(server, "lambda", "delete-function", "--function-name", name)
    aws(server, "ec2", "delete-security-group", "--group-id", group)
    missing = aws(server, "ec2", "describe-security-groups", "--group-ids", group, ok=False)
    assert "InvalidGroup.NotFound" in missing.stderr
