"""The verifier against botocore's signer: whatever botocore signs verifies, and any change to
what was signed does not."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from shoal.identity.root import RootCredentials, credentials_path
from shoal.identity.sigv4 import AuthFailure, SignedRequest, Verifier

VERIFIER = Verifier([RootCredentials("AKIAROOT", "s3cret").source("123456789012")])


def signed(method: str, url: str, body: bytes = b"", service: str = "lambda",
           secret: str = "s3cret") -> SignedRequest:  # fmt: skip
    request = AWSRequest(method, url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("AKIAROOT", secret), service, "eu-west-1").add_auth(request)
    prepared = request.prepare()
    path, _, query = prepared.url.split("://", 1)[1].partition("/")[2].partition("?")
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers["host"] = "127.0.0.1:9000"
    return SignedRequest(method, "/" + path, query, headers, body, False)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9000/2015-03-31/functions/",
    "http://127.0.0.1:9000/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Ax/invocations",
    "http://127.0.0.1:9000/2015-03-31/functions/?MaxItems=5&Marker=a%2Fb%20c&FunctionVersion=ALL",
    "http://127.0.0.1:9000/2015-02-01/resource-tags/fs-1?tagKeys=a&tagKeys=b",
])  # fmt: skip
def test_what_botocore_signs_verifies(url: str) -> None:
    credential, service = VERIFIER.verify(signed("POST", url, b'{"a": "\xc3\xa9"}'))
    assert credential.root and service == "lambda"


def test_every_signed_part_counts() -> None:
    good = signed("POST", "http://127.0.0.1:9000/2015-03-31/functions/?a=1", b"{}")
    for bad in (
        SignedRequest("PUT", good.path, good.query, good.headers, good.body, False),
        SignedRequest(good.method, good.path + "x", good.query, good.headers, good.body, False),
        SignedRequest(good.method, good.path, "a=2", good.headers, good.body, False),
        SignedRequest(good.method, good.path, good.query,
                      {**good.headers, "content-type": "text/plain"}, good.body, False),
        SignedRequest(good.method, good.path, good.query, good.headers, b"{ }", False),
    ):  # fmt: skip
        with pytest.raises(AuthFailure) as e:
            VERIFIER.verify(bad)
        assert e.value.kind == "signature"
    with pytest.raises(AuthFailure) as e:
        VERIFIER.verify(signed("GET", "http://127.0.0.1:9000/x", secret="other"))
    assert e.value.kind == "signature"


def test_time_bounds() -> None:
    request = signed("GET", "http://127.0.0.1:9000/2015-03-31/functions/")
    VERIFIER.verify(request, now=time.time() + 290)
    for skew, word in ((301, "Signature expired"), (-301, "Signature not yet current")):
        with pytest.raises(AuthFailure) as e:
            VERIFIER.verify(request, now=time.time() + skew)
        assert e.value.kind == "expired" and e.value.message.startswith(word)


def test_no_credentials_and_unknown_keys() -> None:
    with pytest.raises(AuthFailure) as e:
        VERIFIER.verify(SignedRequest("GET", "/", "", {"host": "h"}, b"", False))
    assert e.value.kind == "missing"
    request = signed("GET", "http://127.0.0.1:9000/x")
    other = Verifier([RootCredentials("AKIAOTHER", "s3cret").source("1")])
    with pytest.raises(AuthFailure) as e:
        other.verify(request)
    assert e.value.kind == "unknown"


def test_root_credentials_are_made_once_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              ) -> None:  # fmt: skip
    monkeypatch.delenv("SHOAL_ROOT_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("SHOAL_ROOT_SECRET_ACCESS_KEY", raising=False)
    made = RootCredentials.load(tmp_path)
    assert made.generated and made.access_key_id.startswith("AKIA")
    assert len(made.access_key_id) == 20
    assert stat.S_IMODE(os.stat(credentials_path(tmp_path)).st_mode) == 0o600
    again = RootCredentials.load(tmp_path)
    assert not again.generated and again.secret_access_key == made.secret_access_key
    monkeypatch.setenv("SHOAL_ROOT_ACCESS_KEY_ID", "test")
    with pytest.raises(ValueError):
        RootCredentials.load(tmp_path)
    monkeypatch.setenv("SHOAL_ROOT_SECRET_ACCESS_KEY", "test")
    assert RootCredentials.load(tmp_path) == RootCredentials("test", "test")
    shown = subprocess.run(
        [sys.executable, "-m", "shoal", "credentials", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"aws_secret_access_key = {made.secret_access_key}" in shown
