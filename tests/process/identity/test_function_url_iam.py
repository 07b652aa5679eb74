"""Function URLs with ``AuthType AWS_IAM``, as a client meets them: raw HTTP signed with
botocore's SigV4Auth for ``lambda`` by an allowed user (200), by a user granted through the
function's policy (200), by a user without permission (403), with a wrong signature (403),
for another service (403), and unsigned from Node's fetch (403); ``AuthType NONE`` stays
public."""

from __future__ import annotations

import json
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
from principals import lambda_role, new_user, root_client, send

from conftest import ShoalServer, create_function

ECHO = (
    "import json\n"
    "def handler(event, context):\n"
    "    return {'statusCode': 200, 'body': json.dumps({'path': event['rawPath'],\n"
    "            'body': event.get('body')})}\n"
)
FORBIDDEN = (403, b'{"Message":"Forbidden"}')


@pytest.fixture(scope="module")
def iam_url(server: ShoalServer) -> tuple[str, str, str]:
    """(function name, its ARN, its AWS_IAM function URL)."""
    lam = root_client(server, "lambda")
    name = create_function(lam, code=ECHO, Role=lambda_role(server))
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    return name, arn, url


def _ok(response: tuple[int, dict[str, str], bytes]) -> dict[str, Any]:
    status, _, body = response
    assert status == 200, body
    out: dict[str, Any] = json.loads(body)
    return out


def test_a_signed_call_by_an_allowed_user(server: ShoalServer, iam_url: Any) -> None:
    _, arn, url = iam_url
    user = new_user(server, {"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl",
                             "Resource": arn, "Condition": {"StringEquals": {
                                 "lambda:FunctionUrlAuthType": "AWS_IAM"}}})  # fmt: skip
    got = _ok(send("POST", url + "hello?x=1", b"payload", key=user.key, secret=user.secret))
    assert got == {"path": "/hello", "body": "payload"}
    # The root user is always allowed.
    assert _ok(send("GET", url, key="shoal", secret="shoal"))["path"] == "/"
    # Host-style, as on AWS: the signature covers the Host and the path the client sent.
    url_id = url.rstrip("/").rsplit("/", 1)[-1]
    named = f"{url_id}.lambda-url.localhost:{urlsplit(url).port}"
    base = f"http://127.0.0.1:{urlsplit(url).port}/"
    got = _ok(send("PUT", base + "by-host", b"h", key=user.key, secret=user.secret, host=named))
    assert got == {"path": "/by-host", "body": "h"}
    assert send("PUT", base + "by-host", b"h", host=named)[::2] == FORBIDDEN


def test_refusals_answer_forbidden(server: ShoalServer, iam_url: Any) -> None:
    _, arn, url = iam_url
    stranger = new_user(server, {"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                 "Resource": arn})  # fmt: skip
    allowed = new_user(server, {"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl",
                                "Resource": arn})  # fmt: skip
    cases = {
        "unsigned": send("GET", url),
        "no permission": send("GET", url, key=stranger.key, secret=stranger.secret),
        "wrong signature": send("GET", url, key=allowed.key, secret=allowed.secret, tamper=True),
        "wrong secret": send("GET", url, key=allowed.key, secret="not-the-secret"),
        "unknown key": send("GET", url, key="AKIANOBODY0000000000", secret="x"),
        "another service": send("GET", url, key=allowed.key, secret=allowed.secret,
                                service="execute-api"),
    }  # fmt: skip
    for case, (status, headers, body) in cases.items():
        assert (status, body) == FORBIDDEN, case
        assert headers["x-amzn-errortype"] == "AccessDeniedException", case
        assert headers["content-type"] == "application/json", case
    assert _ok(send("GET", url, key=allowed.key, secret=allowed.secret))["path"] == "/"


def test_unsigned_fetch_from_node_is_forbidden(iam_url: Any) -> None:
    _, _, url = iam_url
    script = ("fetch(process.argv[1]).then(async r => console.log(JSON.stringify("
              "{status: r.status, body: await r.text()})))")  # fmt: skip
    out = subprocess.run(["node", "-e", script, url], capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    assert json.loads(out.stdout) == {"status": 403, "body": '{"Message":"Forbidden"}'}


def test_the_function_policy_grants_a_user(server: ShoalServer, iam_url: Any) -> None:
    name, _, url = iam_url
    user = new_user(server)
    assert send("GET", url, key=user.key, secret=user.secret)[0] == 403
    lam = root_client(server, "lambda")
    lam.add_permission(FunctionName=name, StatementId="url-for-user",
                       Action="lambda:InvokeFunctionUrl", Principal=user.arn,
                       FunctionUrlAuthType="AWS_IAM")  # fmt: skip
    try:
        assert _ok(send("GET", url, key=user.key, secret=user.secret))["path"] == "/"
        # Only the URL: the policy gives no lambda:InvokeFunction through the API.
        lam_user = user.client(server, "lambda")
        with pytest.raises(lam_user.exceptions.ClientError):
            lam_user.invoke(FunctionName=name)
    finally:
        lam.remove_permission(FunctionName=name, StatementId="url-for-user")
    assert send("GET", url, key=user.key, secret=user.secret)[0] == 403


def test_none_stays_public(server: ShoalServer) -> None:
    lam = root_client(server, "lambda")
    name = create_function(lam, code=ECHO, Role=lambda_role(server))
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    assert _ok(send("GET", url + "open"))["path"] == "/open"
    lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert send("GET", url + "open")[::2] == FORBIDDEN
