"""Attack: a function that answers with framing headers of its own, to desynchronise the client's
connection (response splitting / smuggling through the gateway).

The function returns ``Content-Length: 5``, ``Transfer-Encoding: chunked`` and ``Connection:
close`` (in both spellings, and for payload 1.0 in ``multiValueHeaders``) over a longer body that
looks like the end of a chunked message followed by a second response. Read with a raw socket,
the gateway's answer must carry exactly one Content-Length — the length of the body it sends —
no Transfer-Encoding, no Connection header of the function's, and the same socket must then
serve a second request whose answer is the second response, not the function's planted bytes.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import create_function, unique_name

# After "0\r\n\r\n" (the end of a chunked body, 5 bytes) comes a whole forged response: a client
# that believed Content-Length: 5 or the chunked coding would read it as the next answer.
PLANTED = "0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"

FRAMING = f"""
import json

PLANTED = {PLANTED!r}

def handler(event, context):
    headers = {{"Content-Length": "5", "content-length": "5", "Transfer-Encoding": "chunked",
               "Connection": "close, X-Hop", "X-Hop": "1", "Keep-Alive": "timeout=1",
               "Upgrade": "h2c", "Trailer": "X-Sum", "TE": "trailers",
               "Proxy-Authenticate": "Basic", "content-type": "text/plain"}}
    if event.get("version") == "1.0":
        return {{"statusCode": 200, "headers": {{"content-type": "text/plain"}},
                "multiValueHeaders": {{k: [v] for k, v in headers.items()}}, "body": PLANTED}}
    return {{"statusCode": 200, "headers": headers, "body": PLANTED}}
"""


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[list[tuple[str, str]], bytes]:
    """One response from ``sock``, framed by its Content-Length alone, as a strict client does;
    what follows it stays in ``buffer`` for the next read."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-headers: {bytes(buffer)!r}"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), lines[0]
    headers = [
        (k.strip().lower(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines[1:])
    ]
    lengths = [v for k, v in headers if k == "content-length"]
    assert len(lengths) == 1, f"Content-Length lines: {lengths} in {lines}"
    size = int(lengths[0])
    while len(rest) < size:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        rest += chunk
    buffer[:] = rest[size:]
    return headers, rest[:size]


def get(sock: socket.socket, host: str, path: str) -> None:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())


def assert_owned_framing(headers: list[tuple[str, str]], body: bytes) -> None:
    names = [k for k, _ in headers]
    assert "transfer-encoding" not in names
    assert "connection" not in names  # the function's "close" must not end the connection
    for hop in ("keep-alive", "upgrade", "trailer", "te", "x-hop", "proxy-authenticate"):
        assert hop not in names, hop
    assert dict(headers)["content-length"] == str(len(body))
    assert body == PLANTED.encode()


@pytest.fixture(scope="module")
def framing_fn(lambda_client: Any) -> str:
    name = create_function(lambda_client, unique_name("framing"), FRAMING)
    arn: str = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return arn


def _two_on_one_socket(url: str) -> list[tuple[list[tuple[str, str]], bytes]]:
    parts = urlsplit(url)
    host = parts.netloc
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 60) as sock:
        buffer = bytearray()
        get(sock, host, parts.path or "/")
        first = read_response(sock, buffer)
        get(sock, host, parts.path or "/")  # the same socket: still in step with the server
        second = read_response(sock, buffer)
        sock.settimeout(0.5)
        try:
            leftover = bytes(buffer) + sock.recv(65536)
        except TimeoutError:
            leftover = bytes(buffer)
        assert leftover == b"", f"bytes after the second response: {leftover!r}"
    return [first, second]


def test_http_api_owns_framing_payload_2_0(apigw_client: Any, framing_fn: str) -> None:
    api = apigw_client.create_api(
        Name=unique_name("framing"), ProtocolType="HTTP", Target=framing_fn
    )
    for headers, body in _two_on_one_socket(api["ApiEndpoint"] + "/x"):
        assert_owned_framing(headers, body)
        # HTTP APIs drop the reserved headers they receive; nothing is remapped.
        assert not [k for k, _ in headers if k.startswith("x-amzn-remapped-")]


def test_http_api_owns_framing_payload_1_0(apigw_client: Any, framing_fn: str) -> None:
    api_id = apigw_client.create_api(Name=unique_name("framing1"), ProtocolType="HTTP")["ApiId"]
    integration = apigw_client.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=framing_fn,
        PayloadFormatVersion="1.0",
    )["IntegrationId"]
    apigw_client.create_route(
        ApiId=api_id, RouteKey="$default", Target=f"integrations/{integration}"
    )
    apigw_client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    endpoint = apigw_client.get_api(ApiId=api_id)["ApiEndpoint"]
    for headers, body in _two_on_one_socket(endpoint + "/x"):
        assert_owned_framing(headers, body)


def test_function_url_owns_framing(lambda_client: Any, framing_fn: str) -> None:
    url = lambda_client.create_function_url_config(FunctionName=framing_fn, AuthType="NONE")
    for headers, body in _two_on_one_socket(url["FunctionUrl"] + "x"):
        assert_owned_framing(headers, body)
        # Function URLs keep what the function said under x-amzn-Remapped-<name>, as Lambda does.
        remapped = {k: v for k, v in headers if k.startswith("x-amzn-remapped-")}
        assert remapped["x-amzn-remapped-content-length"] == "5"
        assert remapped["x-amzn-remapped-connection"] == "close, X-Hop"
        assert "x-amzn-remapped-transfer-encoding" not in remapped  # dropped, never kept


def test_a_well_behaved_response_is_untouched(apigw_client: Any, lambda_client: Any) -> None:
    """The check above could pass by stripping every header: a plain one still gets through."""
    code = (
        "def handler(event, context):\n"
        "    return {'statusCode': 201, 'headers': {'X-Custom': 'yes',"
        " 'Content-Type': 'application/json'}, 'body': '{\"ok\": true}'}\n"
    )
    name = create_function(lambda_client, unique_name("plainhdr"), code)
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api = apigw_client.create_api(Name=unique_name("plainhdr"), ProtocolType="HTTP", Target=arn)
    for headers, body in _two_on_one_socket(api["ApiEndpoint"] + "/"):
        found = dict(headers)
        assert (found["x-custom"], found["content-type"]) == ("yes", "application/json")
        assert json.loads(body) == {"ok": True}
