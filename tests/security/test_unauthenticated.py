"""Without credentials a local user can do nothing, at any endpoint: every API request is
signed, from loopback too, and Shoal's own endpoints are the root user's.

The attacks run as ``attacker`` (an unprivileged local account) with ``curl``, as a local user
would make them: unsigned, with a made-up key, with a forged presigned URL. Each is refused in
its protocol's shape, and is shown to have changed nothing (no function, no user, no run).
"""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from conftest import (
    LocalUser,
    ShoalServer,
    create_function,
    run_as,
    shoal_urlopen,
    start_server,
    unique_name,
)

FORM = "application/x-www-form-urlencoded"


def curl(user: LocalUser, method: str, url: str, body: str = "",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:  # fmt: skip
    """One request as ``user`` makes it with curl: the status, headers and body."""
    argv = ["curl", "-sS", "-i", "-X", method, "--max-time", "60", url]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    if body:
        argv += ["--data-binary", body]
    out = run_as(user, argv)
    assert out.returncode == 0, out.stderr
    head, _, text = out.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *lines = head.split("\n")
    found = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), found, text


@pytest.fixture(scope="module")
def victim(server: ShoalServer, lambda_client: Any) -> str:
    code = "def handler(event, context):\n    print('victim ran')\n    return 'ran'\n"
    return create_function(lambda_client, unique_name("victim"), code)


def logs(server: ShoalServer, name: str) -> list[str]:
    with shoal_urlopen(f"{server.endpoint}/shoal/logs/{name}") as r:
        return [e["message"] for e in json.load(r)["events"]]


def test_unsigned_requests_do_nothing_at_any_endpoint(
    server: ShoalServer, attacker: LocalUser, victim: str, lambda_client: Any
) -> None:
    base = server.endpoint
    forged_fn, forged_user = unique_name("forged"), unique_name("forged")
    create = json.dumps({"FunctionName": forged_fn, "Runtime": "python3.12", "Handler": "a.b",
                         "Role": "arn:aws:iam::123456789012:role/x", "Code": {"ZipFile": "UEs="}})
    rest = "MissingAuthenticationTokenException"
    attacks = [  # method, path, body, headers, (status, error type or code in the body)
        ("GET", "/2015-03-31/functions/", "", {}, (403, rest)),
        ("POST", "/2015-03-31/functions", create, {"Content-Type": "application/json"},
         (403, rest)),
        ("POST", f"/2015-03-31/functions/{victim}/invocations", "{}", {}, (403, rest)),
        ("GET", "/2015-02-01/file-systems", "", {}, (403, rest)),
        ("POST", "/v2/apis", '{"Name": "x", "ProtocolType": "HTTP"}', {}, (403, rest)),
        ("POST", "/", "Action=DescribeVpcs&Version=2016-11-15", {"Content-Type": FORM},
         (401, "<Code>MissingAuthenticationToken</Code>")),
        ("POST", "/", f"Action=CreateUser&Version=2010-05-08&UserName={forged_user}",
         {"Content-Type": FORM}, (403, "<Code>MissingAuthenticationToken</Code>")),
        ("POST", "/", "Action=GetCallerIdentity&Version=2011-06-15", {"Content-Type": FORM},
         (403, "<Code>MissingAuthenticationToken</Code>")),
        ("GET", f"/shoal/logs/{victim}", "", {}, (403, rest)),
        ("GET", "/shoal/environments", "", {}, (403, rest)),
        ("GET", "/shoal/fs/mount-targets/fsmt-00000000", "", {}, (403, rest)),
        ("POST", "/shoal/fs/access-points/fsap-00000000/path", "", {}, (403, rest)),
        # A made-up key, and a presigned URL with no real signature.
        ("GET", "/2015-03-31/functions/", "", {"Authorization": (
            "AWS4-HMAC-SHA256 Credential=AKIAATTACKER/20261204/us-east-1/lambda/aws4_request, "
            "SignedHeaders=host, Signature=" + "0" * 64), "X-Amz-Date": "20261204T000000Z"},
         (403, None)),
        ("GET", "/2015-03-31/functions/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
         "shoal%2F20261204%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Date=20261204T000000Z"
         "&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "0" * 64, "", {},
         (403, None)),
    ]  # fmt: skip
    for method, path, body, headers, (status, marker) in attacks:
        got, answer_headers, text = curl(attacker, method, base + path, body, headers)
        assert got == status, (path, got, text)
        if marker is not None:
            assert marker == answer_headers.get("x-amzn-errortype") or marker in text, (path, text)
        assert forged_fn not in text and "victim ran" not in text
    # Nothing happened: no function, no user, and the victim never ran.
    names = [f["FunctionName"] for f in lambda_client.list_functions()["Functions"]]
    assert forged_fn not in names
    users = [u["UserName"] for u in server.client("iam").list_users()["Users"]]
    assert forged_user not in users
    assert not any("victim ran" in m for m in logs(server, victim))
    # Only the health check is open, and it says nothing.
    status, _, text = curl(attacker, "GET", base + "/shoal/health")
    assert (status, json.loads(text)) == (200, {"status": "ok"})


def test_shoal_endpoints_are_root_s_alone(server: ShoalServer, victim: str) -> None:
    iam = server.client("iam")
    name = unique_name("admin")
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name,
                           PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")  # fmt: skip
    key = iam.create_access_key(UserName=name)["AccessKey"]
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{server.endpoint}/shoal/logs/{victim}"
    request = AWSRequest("GET", url, data=b"")
    SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "shoal",
              "us-east-1").add_auth(request)  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(url, headers=dict(request.headers)))
    with e.value:
        assert (e.value.code, e.value.headers["x-amzn-ErrorType"]) == (403, "AccessDeniedException")
        assert "only the account's root user" in json.loads(e.value.read())["message"]
    # The same signature made for another service is refused too: it is signed for "shoal".
    wrong = AWSRequest("GET", url, data=b"")
    SigV4Auth(Credentials("shoal", "shoal"), "lambda", "us-east-1").add_auth(wrong)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(url, headers=dict(wrong.headers)))
    with e.value:
        assert (e.value.code, e.value.headers["x-amzn-ErrorType"]) == (
            403, "InvalidSignatureException")  # fmt: skip


def test_generated_root_credentials_are_root_s_alone(
    exposed_root: Path, attacker: LocalUser
) -> None:
    """A server that made its own root credentials keeps them 0600 in its data directory: the
    local user can neither read them nor have ``shoal credentials`` show them, and so cannot
    sign; root's boto3 with them can."""
    data = exposed_root / f"data-{uuid.uuid4().hex[:6]}"
    srv = start_server(
        data, env={"SHOAL_ROOT_ACCESS_KEY_ID": "", "SHOAL_ROOT_SECRET_ACCESS_KEY": ""},
        execution_role=False,
    )
    try:
        path = data / "credentials"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.stat().st_uid == 0
        out = run_as(attacker, ["cat", str(path)])
        assert out.returncode != 0 and "Permission denied" in out.stderr
        status, _, _ = curl(attacker, "GET", srv.endpoint + "/2015-03-31/functions/")
        assert status == 403
        lines = dict(
            line.split(" = ", 1) for line in path.read_text().splitlines() if " = " in line
        )
        lam = boto3.client(
            "lambda", endpoint_url=srv.endpoint, region_name="us-east-1",
            aws_access_key_id=lines["aws_access_key_id"],
            aws_secret_access_key=lines["aws_secret_access_key"],
            config=Config(retries={"max_attempts": 0}),
        )  # fmt: skip
        assert "Functions" in lam.list_functions()
    finally:
        srv.stop()
