"""Authorizers without a server: API Gateway's rules for them, identity sources, the claims an
event carries, token verification with a JWKS already in hand, Lambda authorizer answers."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shoal.errors import AwsError
from shoal.gateway import jwt_auth, mappings
from shoal.gateway.authorizers import Authorizer, build
from shoal.gateway.events import HttpRequest, Target
from shoal.gateway.lambda_auth import BadAnswer, parse_answer
from shoal.gateway.mappings import request_values
from shoal.gateway.route_auth import identity_values

FN = "arn:aws:lambda:us-east-1:123456789012:function:auth"
ROUTE = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/items/1"


@pytest.mark.parametrize(
    "params",
    [
        {"AuthorizerType": "COGNITO", "Name": "a"},
        {"AuthorizerType": "JWT"},
        {"AuthorizerType": "JWT", "Name": "a"},  # no issuer
        {
            "AuthorizerType": "JWT",
            "Name": "a",
            "JwtConfiguration": {"Issuer": "https://i"},
            "IdentitySource": ["$request.header.A", "$request.header.B"],
        },
        {"AuthorizerType": "REQUEST", "Name": "a", "AuthorizerPayloadFormatVersion": "2.0"},
        {
            "AuthorizerType": "REQUEST",
            "Name": "a",
            "AuthorizerUri": "not/a/function",
            "AuthorizerPayloadFormatVersion": "2.0",
        },
        {
            "AuthorizerType": "REQUEST",
            "Name": "a",
            "AuthorizerUri": FN,
            "AuthorizerPayloadFormatVersion": "3.0",
        },
        {
            "AuthorizerType": "REQUEST",
            "Name": "a",
            "AuthorizerUri": FN,
            "AuthorizerPayloadFormatVersion": "2.0",
            "AuthorizerResultTtlInSeconds": 3601,
        },
        {
            "AuthorizerType": "REQUEST",
            "Name": "a",
            "AuthorizerUri": FN,
            "AuthorizerPayloadFormatVersion": "2.0",
            "AuthorizerResultTtlInSeconds": 60,
        },
        {
            "AuthorizerType": "REQUEST",
            "Name": "a",
            "AuthorizerUri": FN,
            "AuthorizerPayloadFormatVersion": "2.0",
            "IdentitySource": ["header.x"],
        },
    ],
)
def test_bad_authorizers_are_bad_requests(params: dict[str, Any]) -> None:
    with pytest.raises(AwsError) as e:
        build("abc123", params, {})
    assert e.value.code == "BadRequestException"


def test_jwt_authorizer_defaults_its_identity_source() -> None:
    found = build(
        "abc123",
        {
            "AuthorizerType": "JWT",
            "Name": "a",
            "JwtConfiguration": {"Issuer": "https://i", "Audience": ["x"]},
        },
        {},
    )
    assert found.identity_source == ("$request.header.Authorization",)
    assert found.audience == ("x",)


def test_identity_values_read_as_parameter_mappings_read_them() -> None:
    """One resolver (mappings.Values) for identity sources and parameter mappings."""
    request = HttpRequest("GET", "/prod/items/7", "q=a+b&q=c&e=", [("authorization", "Bearer t"),
                          ("x-a", "1"), ("x-a", "2")], b"", "10.0.0.1", "HTTP/1.1")  # fmt: skip
    target = Target("api1", "api1.example", "api1", "prod", "GET /items/{id}", "/items/{id}",
                    {"id": "7"}, {"v": "s"}, "123456789012", "rid")  # fmt: skip
    values = request_values(request, target, "/items/7")
    sources = (
        "$request.header.X-A",
        "$request.querystring.q",
        "$stageVariables.v",
        "$context.identity.sourceIp",
        "$context.stage",
    )
    found = identity_values(sources, values)
    assert found == ["1,2", "a b,c", "s", "10.0.0.1", "prod"]
    mapped, _, _ = mappings.map_request(
        {f"overwrite:header.h{i}": s for i, s in enumerate(sources)}, values
    )
    assert [v for k, v in mapped if k.startswith("h")] == found
    for missing in ("$request.header.missing", "$request.querystring.e", "$context.nope"):
        assert identity_values((missing,), values) is None
    assert identity_values(("$request.header.X-A", missing), values) is None


def test_claims_as_the_event_carries_them() -> None:
    claims = {"sub": "a", "exp": 5, "groups": ["x", "y"], "ok": True, "o": {"k": 1}}
    assert jwt_auth.event_claims(claims) == {
        "sub": "a",
        "exp": "5",
        "groups": "[x y]",
        "ok": "true",
        "o": '{"k":1}',
    }
    assert jwt_auth.token_scopes({"scope": "a b"}) == ["a", "b"]
    assert jwt_auth.token_scopes({"scp": ["c"]}) == ["c"]
    assert jwt_auth.token_of("Bearer abc") == "abc"
    assert jwt_auth.token_of("bearer abc") == "abc"
    assert jwt_auth.token_of("abc") == "abc"
    assert jwt_auth.token_of("Bearer ") is None


def _cache_with(key: Any) -> jwt_auth.JwksCache:
    cache = jwt_auth.JwksCache()
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": "k"}
    cache._issuers["https://i"] = jwt_auth._Entry({"k": jwt.PyJWK(jwk)})
    return cache


AUTH = Authorizer("a1", "a", "JWT", ("$request.header.Authorization",), "https://i", ("app",))


def test_verify_and_the_remembered_token_expires() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cache = _cache_with(key)
    now = int(time.time())
    token = jwt.encode(
        {"iss": "https://i", "aud": "app", "exp": now + 60},
        key,
        algorithm="RS256",
        headers={"kid": "k"},
    )
    claims = asyncio.run(jwt_auth.verify(cache, AUTH, token))
    assert claims["aud"] == "app"
    # The remembered claims say when they expire; past it, the same token is refused.
    (entry,) = cache.verified
    cache.verified[entry] = (cache.verified[entry][0], {**claims, "exp": now - 1})
    with pytest.raises(jwt_auth.Refused, match="expired"):
        asyncio.run(jwt_auth.verify(cache, AUTH, token))
    # HS256 with the public key as the secret (the classic confusion) is refused.
    forged = jwt.encode(
        {"iss": "https://i", "aud": "app", "exp": now + 60},
        "a-shared-secret-of-at-least-32-bytes!!",
        algorithm="HS256",
        headers={"kid": "k"},
    )
    with pytest.raises(jwt_auth.Refused, match="signature"):
        asyncio.run(jwt_auth.verify(cache, AUTH, forged))


def test_lambda_answers() -> None:
    simple = Authorizer("a2", "s", "REQUEST", uri=FN, payload_version="2.0", simple_responses=True)
    assert parse_answer(b'{"isAuthorized": true, "context": {"u": 1}}', simple).allows(ROUTE)
    assert not parse_answer(b'{"isAuthorized": false}', simple).allows(ROUTE)
    with pytest.raises(BadAnswer):
        parse_answer(b'{"isAuthorized": "yes"}', simple)
    policy = Authorizer("a3", "p", "REQUEST", uri=FN, payload_version="1.0")
    doc = {
        "principalId": "u",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "execute-api:Invoke",
                    "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/*",
                }
            ],
        },
    }
    answer = parse_answer(json.dumps(doc).encode(), policy)
    assert answer.allows(ROUTE)
    assert not answer.allows(ROUTE.replace("/GET/", "/POST/"))
    with pytest.raises(BadAnswer):
        parse_answer(b'{"isAuthorized": true}', policy)


def test_issuers_are_fetched_over_https_or_from_loopback() -> None:
    assert jwt_auth.fetchable("https://issuer.example/.well-known/openid-configuration")
    assert jwt_auth.fetchable("http://127.0.0.1:8080/jwks")
    assert jwt_auth.fetchable("http://localhost/jwks")
    assert not jwt_auth.fetchable("http://169.254.169.254/latest/meta-data")
    assert not jwt_auth.fetchable("file:///etc/passwd")
