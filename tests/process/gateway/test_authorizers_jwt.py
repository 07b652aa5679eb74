"""JWT authorizers against a real server: an issuer served by the test on a loopback port (its
OpenID configuration and JWKS, with RSA and EC keys made here), tokens signed with PyJWT, the
API called over real HTTP (http.client, as curl does) and managed with boto3."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import create_function, unique_name

ECHO = """
import json

def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}
"""


class Issuer:
    """An OpenID issuer on 127.0.0.1: /.well-known/openid-configuration and /jwks.json."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}  # kid -> private key
        self.published: list[str] = []  # kids in the JWKS
        self.jwks_fetches = 0
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path == "/.well-known/openid-configuration":
                    doc: dict[str, Any] = {
                        "issuer": issuer.url,
                        "jwks_uri": issuer.url + "/jwks.json",
                    }
                elif self.path == "/jwks.json":
                    issuer.jwks_fetches += 1
                    doc = {"keys": [issuer.jwk(kid) for kid in issuer.published]}
                else:
                    self.send_error(404)
                    return
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add_key(self, kid: str, kind: str = "RSA", publish: bool = True) -> None:
        if kind == "RSA":
            self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        if publish:
            self.published.append(kid)

    def jwk(self, kid: str) -> dict[str, Any]:
        key = self.keys[kid]
        if isinstance(key, rsa.RSAPrivateKey):
            doc = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            doc["alg"] = "RS256"
        else:
            doc = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
            doc["alg"] = "ES256"
        return {**doc, "kid": kid, "use": "sig"}

    def token(self, kid: str = "k1", **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": self.url,
            "aud": "my-app",
            "sub": "alice",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        body = {k: v for k, v in body.items() if v is not None}
        key = self.keys[kid]
        alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    found = Issuer()
    found.add_key("k1")
    found.add_key("e1", "EC")
    yield found
    found.close()


def call(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.request(
            "GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {}
        )
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def api(apigw_client: Any, lambda_client: Any, issuer: Issuer) -> dict[str, Any]:
    name = create_function(lambda_client, unique_name("jwtecho"), ECHO)
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api_id = apigw_client.create_api(Name=unique_name("jwt"), ProtocolType="HTTP")["ApiId"]
    integration = apigw_client.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion="2.0"
    )["IntegrationId"]
    authorizer = apigw_client.create_authorizer(
        ApiId=api_id,
        Name="oidc",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer.url, "Audience": ["my-app", "other-app"]},
    )
    target = f"integrations/{integration}"
    apigw_client.create_route(ApiId=api_id, RouteKey="GET /open", Target=target)
    apigw_client.create_route(
        ApiId=api_id,
        RouteKey="GET /me",
        Target=target,
        AuthorizationType="JWT",
        AuthorizerId=authorizer["AuthorizerId"],
    )
    apigw_client.create_route(
        ApiId=api_id,
        RouteKey="GET /admin",
        Target=target,
        AuthorizationType="JWT",
        AuthorizerId=authorizer["AuthorizerId"],
        AuthorizationScopes=["admin", "root"],
    )
    v1 = apigw_client.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion="1.0"
    )["IntegrationId"]
    apigw_client.create_route(
        ApiId=api_id,
        RouteKey="GET /v1",
        Target=f"integrations/{v1}",
        AuthorizationType="JWT",
        AuthorizerId=authorizer["AuthorizerId"],
    )
    apigw_client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    endpoint = apigw_client.get_api(ApiId=api_id)["ApiEndpoint"]
    return {"id": api_id, "endpoint": endpoint, "authorizer": authorizer}


def test_management_shapes(apigw_client: Any, api: dict[str, Any], issuer: Issuer) -> None:
    a = api["authorizer"]
    assert a["AuthorizerType"] == "JWT"
    assert a["IdentitySource"] == ["$request.header.Authorization"]
    assert a["JwtConfiguration"] == {"Issuer": issuer.url, "Audience": ["my-app", "other-app"]}
    got = apigw_client.get_authorizer(ApiId=api["id"], AuthorizerId=a["AuthorizerId"])
    assert got["Name"] == "oidc"
    items = apigw_client.get_authorizers(ApiId=api["id"])["Items"]
    assert [i["AuthorizerId"] for i in items] == [a["AuthorizerId"]]
    routes = {r["RouteKey"]: r for r in apigw_client.get_routes(ApiId=api["id"])["Items"]}
    assert routes["GET /admin"]["AuthorizationType"] == "JWT"
    assert routes["GET /admin"]["AuthorizationScopes"] == ["admin", "root"]
    assert routes["GET /open"]["AuthorizationType"] == "NONE"
    with pytest.raises(ClientError) as e:
        apigw_client.get_authorizer(ApiId=api["id"], AuthorizerId="nope123")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    assert e.value.response["Error"]["Message"] == "Invalid Authorizer identifier specified nope123"
    with pytest.raises(ClientError) as e:
        apigw_client.create_authorizer(
            ApiId=api["id"],
            Name="x",
            AuthorizerType="JWT",
            IdentitySource=["$request.header.Authorization"],
        )
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as e:  # a route can't name an unknown authorizer
        apigw_client.create_route(
            ApiId=api["id"], RouteKey="GET /x", AuthorizationType="JWT", AuthorizerId="nope123"
        )
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as e:  # one a route uses can't be deleted
        apigw_client.delete_authorizer(ApiId=api["id"], AuthorizerId=a["AuthorizerId"])
    assert e.value.response["Error"]["Code"] == "ConflictException"


def test_valid_token_reaches_the_function_with_its_claims(
    api: dict[str, Any], issuer: Issuer
) -> None:
    token = issuer.token(scope="read admin", email="a@example.com")
    status, _, body = call(api["endpoint"] + "/me", {"Authorization": f"Bearer {token}"})
    assert status == 200, body
    authorizer = json.loads(body)["requestContext"]["authorizer"]
    claims = authorizer["jwt"]["claims"]
    assert claims["sub"] == "alice"
    assert claims["email"] == "a@example.com"
    assert claims["iss"] == issuer.url
    assert isinstance(claims["exp"], str)  # API Gateway passes every claim as a string
    assert authorizer["jwt"]["scopes"] == ["read", "admin"]
    # Without the Bearer prefix the token is taken as it is.
    status, _, _ = call(api["endpoint"] + "/me", {"Authorization": token})
    assert status == 200
    # An EC (ES256) key of the same JWKS.
    status, _, _ = call(api["endpoint"] + "/me", {"Authorization": issuer.token("e1")})
    assert status == 200
    # client_id stands for aud only when there is no aud.
    status, _, _ = call(
        api["endpoint"] + "/me", {"Authorization": issuer.token(aud=None, client_id="other-app")}
    )
    assert status == 200


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"aud": "someone-else"}, "the token does not have a valid audience"),
        ({"iss": "http://127.0.0.1:1/elsewhere"}, "the token does not have a valid issuer"),
        ({"exp": 1_000_000}, "the token has expired"),
        ({"nbf": 4_000_000_000}, "the token is not valid yet"),
    ],
)
def test_bad_tokens_answer_401(
    api: dict[str, Any], issuer: Issuer, claims: dict[str, Any], description: str
) -> None:
    status, headers, body = call(
        api["endpoint"] + "/me", {"Authorization": f"Bearer {issuer.token(**claims)}"}
    )
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
    assert headers["www-authenticate"] == (
        f'Bearer scope="" error="invalid_token" error_description="{description}"'
    )


def test_missing_forged_and_unsigned_tokens_answer_401(api: dict[str, Any], issuer: Issuer) -> None:
    status, _, body = call(api["endpoint"] + "/me")
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
    forger = Issuer()
    try:
        forger.add_key("k1")  # the same kid, another key
        forged = forger.token(iss=issuer.url)
    finally:
        forger.close()
    status, headers, _ = call(api["endpoint"] + "/me", {"Authorization": f"Bearer {forged}"})
    assert status == 401
    assert "does not have a valid signature" in headers["www-authenticate"]
    unsigned = jwt.encode(
        {"iss": issuer.url, "aud": "my-app", "exp": int(time.time()) + 60},
        None,
        algorithm="none",
        headers={"kid": "k1"},
    )
    status, _, _ = call(api["endpoint"] + "/me", {"Authorization": f"Bearer {unsigned}"})
    assert status == 401
    status, _, _ = call(api["endpoint"] + "/open")  # a route without an authorizer stays open
    assert status == 200


def test_scopes_per_route(api: dict[str, Any], issuer: Issuer) -> None:
    status, headers, body = call(
        api["endpoint"] + "/admin", {"Authorization": f"Bearer {issuer.token(scope='read')}"}
    )
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    assert 'error="insufficient_scope"' in headers["www-authenticate"]
    # Either of the route's scopes will do; `scp` as a list is read too.
    status, _, _ = call(
        api["endpoint"] + "/admin", {"Authorization": f"Bearer {issuer.token(scp=['root'])}"}
    )
    assert status == 200


def test_jwks_cached_and_refreshed_for_an_unknown_kid(api: dict[str, Any], issuer: Issuer) -> None:
    before = issuer.jwks_fetches
    for _ in range(3):
        assert call(api["endpoint"] + "/me", {"Authorization": issuer.token()})[0] == 200
    assert issuer.jwks_fetches == before  # cached
    issuer.add_key("k2")  # the issuer rotates in a new key
    assert call(api["endpoint"] + "/me", {"Authorization": issuer.token("k2")})[0] == 200
    assert issuer.jwks_fetches == before + 1


def test_aws_cli_v2_manages_authorizers(server: Any, issuer: Issuer) -> None:
    """The AWS CLI v2 (Debian's /usr/bin/aws) as a user types it, with the root keys."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "shoal",
        "AWS_SECRET_ACCESS_KEY": "shoal",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
    }
    env.pop("AWS_PROFILE", None)

    def aws(*args: str) -> Any:
        out = subprocess.run(
            ["/usr/bin/aws", "--endpoint-url", server.endpoint, "apigatewayv2", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else None

    api_id = aws("create-api", "--name", unique_name("cli"), "--protocol-type", "HTTP")["ApiId"]
    created = aws(
        "create-authorizer",
        "--api-id",
        api_id,
        "--name",
        "oidc",
        "--authorizer-type",
        "JWT",
        "--identity-source",
        "$request.header.Authorization",
        "--jwt-configuration",
        f"Audience=my-app,Issuer={issuer.url}",
    )
    assert created["JwtConfiguration"] == {"Audience": ["my-app"], "Issuer": issuer.url}
    authorizer_id = created["AuthorizerId"]
    updated = aws(
        "update-authorizer",
        "--api-id",
        api_id,
        "--authorizer-id",
        authorizer_id,
        "--name",
        "renamed",
    )
    assert updated["Name"] == "renamed"
    assert updated["JwtConfiguration"]["Issuer"] == issuer.url
    listed = aws("get-authorizers", "--api-id", api_id)["Items"]
    assert [a["Name"] for a in listed] == ["renamed"]
    aws("delete-authorizer", "--api-id", api_id, "--authorizer-id", authorizer_id)
    assert aws("get-authorizers", "--api-id", api_id)["Items"] == []
    aws("delete-api", "--api-id", api_id)


def test_node_fetch_with_a_bearer_token(api: dict[str, Any], issuer: Issuer) -> None:
    script = (
        "const [url, token] = process.argv.slice(1);"
        "Promise.all([fetch(url, {headers: {authorization: 'Bearer ' + token}}), fetch(url)])"
        ".then(async ([ok, no]) => console.log(JSON.stringify({ok: ok.status, "
        "sub: JSON.parse(await ok.text()).requestContext.authorizer.jwt.claims.sub, "
        "no: no.status, why: no.headers.get('www-authenticate')})))"
    )
    out = subprocess.run(
        ["node", "-e", script, api["endpoint"] + "/me", issuer.token()],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(out.stdout) == {
        "ok": 200,
        "sub": "alice",
        "no": 401,
        "why": 'Bearer scope="" error="invalid_token" error_description="no token was given"',
    }


def test_payload_1_0_integration_sees_claims(api: dict[str, Any], issuer: Issuer) -> None:
    token = issuer.token(scope="read")
    status, _, body = call(api["endpoint"] + "/v1", {"Authorization": f"Bearer {token}"})
    assert status == 200, body
    authorizer = json.loads(body)["requestContext"]["authorizer"]
    assert authorizer["claims"]["sub"] == "alice"
    assert authorizer["scopes"] == ["read"]
    assert call(api["endpoint"] + "/v1")[0] == 401


def test_a_route_made_open_forgets_its_authorizer(apigw_client: Any, api: dict[str, Any]) -> None:
    route = apigw_client.create_route(
        ApiId=api["id"],
        RouteKey="GET /later-open",
        AuthorizationType="JWT",
        AuthorizerId=api["authorizer"]["AuthorizerId"],
        AuthorizationScopes=["x"],
    )
    updated = apigw_client.update_route(
        ApiId=api["id"], RouteId=route["RouteId"], AuthorizationType="NONE"
    )
    assert updated["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in updated and "AuthorizationScopes" not in updated
    got = apigw_client.get_route(ApiId=api["id"], RouteId=route["RouteId"])
    assert "AuthorizerId" not in got
