"""The seed's execution roles, as a user types them: ``aws iam create-role`` with Lambda's trust
policy, ``aws iam attach-role-policy`` of ``AWSLambdaVPCAccessExecutionRole`` and
``AmazonElasticFileSystemClientReadWriteAccess``, then the article's MessageWall on an access
point whose file-system policy refuses every role it does not name. The read-write role's wall
works through its HTTP API; a role with ``…ClientReadOnlyAccess`` gets a read-only mount (a write
fails with EROFS in the handler); a role the policy denies gets ``EFSMountFailureException``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ROOT, RUNTIME, ShoalServer, unique_name
from seed_setup import SEED_HANDLER

AWS = str(ROOT / ".venv" / "bin" / "aws")
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}  # fmt: skip
VPC_ACCESS = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
READ_WRITE = "arn:aws:iam::aws:policy/AmazonElasticFileSystemClientReadWriteAccess"
READ_ONLY = "arn:aws:iam::aws:policy/AmazonElasticFileSystemClientReadOnlyAccess"
PROBE = """import errno, os
def lambda_handler(event, context):
    with open('/mnt/msg/content') as f:
        wall = f.read()
    try:
        with open('/mnt/msg/content', 'a') as f:
            f.write('from the reader\\n')
        wrote = 'ok'
    except OSError as e:
        wrote = errno.errorcode[e.errno]
    return {'wall': wall, 'write': wrote}
"""


def aws(server: ShoalServer, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "shoal", "AWS_SECRET_ACCESS_KEY": "shoal",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}  # fmt: skip
    result = subprocess.run([AWS, "--endpoint-url", server.endpoint, "--output", "json", *argv],
                            capture_output=True, text=True, env=env, timeout=180)  # fmt: skip
    if check:
        assert result.returncode == 0, result.stderr
    return result


def out(server: ShoalServer, *argv: str) -> Any:
    return json.loads(aws(server, *argv).stdout or "null")


def create_role(server: ShoalServer, tmp: Path, name: str, *policies: str) -> str:
    trust = tmp / "trust.json"
    trust.write_text(json.dumps(TRUST))
    arn: str = out(server, "iam", "create-role", "--role-name", name,
                   "--assume-role-policy-document", f"file://{trust}")["Role"]["Arn"]  # fmt: skip
    for policy in policies:
        aws(server, "iam", "attach-role-policy", "--role-name", name, "--policy-arn", policy)
    return arn


def create_function(server: ShoalServer, tmp: Path, name: str, role: str, ap_arn: str,
                    source: str) -> str:  # fmt: skip
    package = tmp / f"{name}.zip"
    subprocess.run(["python3", "-m", "zipfile", "-c", str(package), source], check=True,
                   cwd=tmp, timeout=60)  # fmt: skip
    arn: str = out(server, "lambda", "create-function", "--function-name", name,
                   "--runtime", RUNTIME, "--role", role,
                   "--handler", "lambda_function.lambda_handler",
                   "--zip-file", f"fileb://{package}",
                   "--file-system-configs", f"Arn={ap_arn},LocalMountPath=/mnt/msg",
                   )["FunctionArn"]  # fmt: skip
    aws(server, "lambda", "wait", "function-active-v2", "--function-name", name)
    return arn


def invoke(server: ShoalServer, tmp: Path, name: str) -> subprocess.CompletedProcess[str]:
    return aws(server, "lambda", "invoke", "--function-name", name, str(tmp / "out.json"),
               check=False)  # fmt: skip


def curl(*args: str) -> str:
    return subprocess.run(["curl", "-s", *args], capture_output=True, text=True, check=True,
                          timeout=120).stdout  # fmt: skip


def test_the_seed_roles_decide_the_mounts(server: ShoalServer, tmp_path: Path) -> None:
    tag = unique_name("wall")
    writer = create_role(server, tmp_path, f"{tag}-role", VPC_ACCESS, READ_WRITE)
    reader = create_role(server, tmp_path, f"{tag}-reader", VPC_ACCESS, READ_ONLY)
    outsider = create_role(server, tmp_path, f"{tag}-outsider", VPC_ACCESS, READ_WRITE)

    fs = out(server, "efs", "create-file-system", "--creation-token", f"{tag}-fs")
    fs_id, fs_arn = fs["FileSystemId"], fs["FileSystemArn"]
    ap_arn = out(server, "efs", "create-access-point", "--file-system-id", fs_id,
                 "--posix-user", "Uid=1001,Gid=1001", "--root-directory",
                 "Path=/message,CreationInfo={OwnerUid=1001,OwnerGid=1001,Permissions=750}",
                 )["AccessPointArn"]  # fmt: skip
    policy = tmp_path / "fs-policy.json"
    policy.write_text(json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "OnlyTheWallRoles", "Effect": "Deny", "Principal": {"AWS": "*"},
            "Action": "elasticfilesystem:ClientMount", "Resource": fs_arn,
            "Condition": {"StringNotEquals": {"aws:PrincipalArn": [writer, reader]}},
        }],
    }))  # fmt: skip
    aws(server, "efs", "put-file-system-policy", "--file-system-id", fs_id,
        "--policy", f"file://{policy}")  # fmt: skip

    (tmp_path / "lambda_function.py").write_text(SEED_HANDLER.read_text())
    wall_arn = create_function(server, tmp_path, f"{tag}-MessageWall", writer, ap_arn,
                               "lambda_function.py")  # fmt: skip
    api = out(server, "apigatewayv2", "create-api", "--name", f"{tag}-API",
              "--protocol-type", "HTTP")  # fmt: skip
    integration = out(server, "apigatewayv2", "create-integration", "--api-id", api["ApiId"],
                      "--integration-type", "AWS_PROXY", "--integration-uri", wall_arn,
                      "--payload-format-version", "2.0")["IntegrationId"]  # fmt: skip
    aws(server, "apigatewayv2", "create-route", "--api-id", api["ApiId"],
        "--route-key", "ANY /MessageWall", "--target", f"integrations/{integration}")
    aws(server, "apigatewayv2", "create-stage", "--api-id", api["ApiId"],
        "--stage-name", "default", "--auto-deploy")  # fmt: skip
    url = f"{api['ApiEndpoint']}/default/MessageWall"
    assert curl(url) == "No message yet."
    assert curl("-X", "POST", "-H", "Content-Type: text/plain", "-d", "Hello from EFS!",
                url) == "Hello from EFS!\n"  # fmt: skip

    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "lambda_function.py").write_text(PROBE)
    create_function(server, tmp_path / "probe", f"{tag}-reader", reader, ap_arn,
                    "lambda_function.py")  # fmt: skip
    assert invoke(server, tmp_path, f"{tag}-reader").returncode == 0
    assert json.loads((tmp_path / "out.json").read_text()) == {
        "wall": "Hello from EFS!\n", "write": "EROFS"}  # fmt: skip

    create_function(server, tmp_path, f"{tag}-outsider", outsider, ap_arn, "lambda_function.py")
    refused = invoke(server, tmp_path, f"{tag}-outsider")
    assert refused.returncode != 0
    assert "An error occurred (EFSMountFailureException) when calling the Invoke operation: " \
        "The function couldn't mount the Amazon EFS file system with access point " \
        f"{ap_arn}: the execution role {outsider} is not authorized: explicitly denied " \
        "elasticfilesystem:ClientMount in the file system policy (statement " \
        "OnlyTheWallRoles)." in refused.stderr, refused.stderr  # fmt: skip

    lam: Any = server.client("lambda")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=f"{tag}-outsider")
    error = e.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "EFSMountFailureException", 403)  # fmt: skip

    # The writer's wall is as it was: the reader could not add to it.
    assert curl(url) == "Hello from EFS!\n"
