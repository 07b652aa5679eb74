"""What a JWT authorizer costs an HTTP API route: the same function behind two routes of one
API, one open (``NONE``) and one with a JWT authorizer (RS256, the key from an issuer's JWKS
served on a loopback port by this bench), warm p50/p99 with one client and throughput with 10
(the asyncio generator: each request carries the bearer token).

After the first request the JWKS is cached, so the row measures what every request pays: the
token's signature check and its claims, and the claims put into the event.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.common import aws_client, load, shoal_server, table, test_support

SECONDS = 5.0


@contextmanager
def issuer() -> Iterator[tuple[str, str]]:
    """(issuer URL, a token it signed) for an issuer served on 127.0.0.1."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": "k1"}
    docs: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = docs.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    docs["/.well-known/openid-configuration"] = json.dumps({"jwks_uri": url + "/jwks"}).encode()
    docs["/jwks"] = json.dumps({"keys": [jwk]}).encode()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    now = int(time.time())
    claims = {"iss": url, "aud": "bench", "sub": "alice", "iat": now, "exp": now + 3600}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    try:
        yield url, token
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run() -> str:
    test_support()
    from conftest import create_function

    with issuer() as (issuer_url, token), shoal_server() as endpoint:
        lam = aws_client(endpoint, "lambda")
        name = create_function(
            lam, "bench-auth", "def handler(event, context):\n    return 'hello'\n"
        )
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        apigw = aws_client(endpoint, "apigatewayv2")
        api_id = apigw.create_api(Name="bench-auth", ProtocolType="HTTP")["ApiId"]
        integration = apigw.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=arn,
            PayloadFormatVersion="2.0",
        )["IntegrationId"]
        authorizer = apigw.create_authorizer(
            ApiId=api_id,
            Name="jwt",
            AuthorizerType="JWT",
            IdentitySource=["$request.header.Authorization"],
            JwtConfiguration={"Issuer": issuer_url, "Audience": ["bench"]},
        )["AuthorizerId"]
        target = f"integrations/{integration}"
        apigw.create_route(ApiId=api_id, RouteKey="GET /open", Target=target)
        apigw.create_route(
            ApiId=api_id,
            RouteKey="GET /jwt",
            Target=target,
            AuthorizationType="JWT",
            AuthorizerId=authorizer,
        )
        apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        base = apigw.get_api(ApiId=api_id)["ApiEndpoint"]
        bearer = {"Authorization": f"Bearer {token}"}
        load(base + "/jwt", 10, 1, "GET", b"", bearer)  # warm: environments, JWKS, code paths
        open_lat = load(base + "/open", 1, SECONDS, "GET", b"")
        jwt_lat = load(base + "/jwt", 1, SECONDS, "GET", b"", bearer)
        open_tp = load(base + "/open", 10, SECONDS, "GET", b"")
        jwt_tp = load(base + "/jwt", 10, SECONDS, "GET", b"", bearer)
    rows = [
        (
            "JWT route warm p50, 1 client (ms)",
            f"{jwt_lat.pct(50):.3f}",
            f"{open_lat.pct(50):.3f}",
            f"+{jwt_lat.pct(50) - open_lat.pct(50):.3f} ms",
            "",
        ),
        (
            "JWT route warm p99, 1 client (ms)",
            f"{jwt_lat.pct(99):.3f}",
            f"{open_lat.pct(99):.3f}",
            f"{jwt_lat.pct(99) / open_lat.pct(99):.2f}×",
            "",
        ),
        (
            "JWT route throughput, 10 clients, asyncio (req/s)",
            f"{jwt_tp.throughput:.0f}",
            f"{open_tp.throughput:.0f}",
            f"{jwt_tp.throughput / open_tp.throughput:.2f}×",
            "",
        ),
    ]
    errors = open_lat.errors + jwt_lat.errors + open_tp.errors + jwt_tp.errors
    title = "HTTP API route with a JWT authorizer vs an open route (same API, same function)"
    return table(title + (f" — {errors} errors!" if errors else ""), rows)


if __name__ == "__main__":
    print(run())
