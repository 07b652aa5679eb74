"""HTTP API routes with ``AuthorizationType AWS_IAM``: raw HTTP signed with botocore's SigV4Auth
for ``execute-api`` by a user allowed ``execute-api:Invoke`` on the route's ARN (200, with
``requestContext.authorizer.iam``), by one allowed another route only, unsigned (also from
Node's fetch), with a wrong signature, or for another service (403 ``{"message":"Forbidden"}``).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from principals import lambda_role, new_user, root_client, send

from conftest import ShoalServer, create_function, unique_name

ECHO = (
    "import json\n"
    "def handler(event, context):\n"
    "    return {'statusCode': 200, 'body': json.dumps(event['requestContext'])}\n"
)
FORBIDDEN = (403, b'{"message":"Forbidden"}')


@pytest.fixture(scope="module")
def iam_api(server: ShoalServer) -> tuple[str, str]:
    """(API id, the endpoint of its prod stage)."""
    lam = root_client(server, "lambda")
    apigw = root_client(server, "apigatewayv2")
    name = create_function(lam, code=ECHO, Role=lambda_role(server))
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api_id = apigw.create_api(Name=unique_name("iamapi"), ProtocolType="HTTP")["ApiId"]
    integration = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion="2.0"
    )["IntegrationId"]
    for key in ("GET /reports/{id}", "DELETE /reports/{id}"):
        route = apigw.create_route(
            ApiId=api_id,
            RouteKey=key,
            AuthorizationType="AWS_IAM",
            Target=f"integrations/{integration}",
        )
        assert route["AuthorizationType"] == "AWS_IAM"
    apigw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    return api_id, apigw.get_api(ApiId=api_id)["ApiEndpoint"] + "/prod"


def test_allowed_user_reaches_the_function(server: ShoalServer, iam_api: Any) -> None:
    api_id, endpoint = iam_api
    reader = new_user(
        server,
        {
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "Resource": f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/prod/GET/reports/*",
        },
    )
    status, _, body = send(
        "GET", endpoint + "/reports/7", key=reader.key, secret=reader.secret, service="execute-api"
    )
    assert status == 200, body
    iam = json.loads(body)["authorizer"]["iam"]
    assert iam["accessKey"] == reader.key
    assert iam["userArn"] == reader.arn
    assert iam["accountId"] == "123456789012"
    # The same user may not DELETE: the policy names GET only.
    status, _, body = send(
        "DELETE",
        endpoint + "/reports/7",
        key=reader.key,
        secret=reader.secret,
        service="execute-api",
    )
    assert (status, body) == FORBIDDEN
    # The root user is always allowed.
    status, _, _ = send(
        "DELETE", endpoint + "/reports/7", key="shoal", secret="shoal", service="execute-api"
    )
    assert status == 200


def test_refusals_answer_forbidden(server: ShoalServer, iam_api: Any) -> None:
    _, endpoint = iam_api
    anyone = new_user(server, {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"})
    nobody = new_user(server)
    url = endpoint + "/reports/1"
    cases = {
        "unsigned": send("GET", url),
        "no permission": send(
            "GET", url, key=nobody.key, secret=nobody.secret, service="execute-api"
        ),
        "wrong signature": send(
            "GET", url, key=anyone.key, secret=anyone.secret, service="execute-api", tamper=True
        ),
        "another service": send("GET", url, key=anyone.key, secret=anyone.secret, service="lambda"),
    }
    for case, (status, _, body) in cases.items():
        assert (status, body) == FORBIDDEN, case
    status, _, _ = send("GET", url, key=anyone.key, secret=anyone.secret, service="execute-api")
    assert status == 200


def test_unsigned_fetch_from_node_is_forbidden(iam_api: Any) -> None:
    _, endpoint = iam_api
    script = (
        "fetch(process.argv[1]).then(async r => console.log(JSON.stringify("
        "{status: r.status, body: await r.text()})))"
    )
    out = subprocess.run(
        ["node", "-e", script, endpoint + "/reports/1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(out.stdout) == {"status": 403, "body": '{"message":"Forbidden"}'}
