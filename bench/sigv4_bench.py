"""Micro-benchmark of shoal.identity.sigv4: µs per verification of a Lambda Invoke that boto3's
signer signed (a warm client: its signing key cached), beside botocore's own cost to sign the
same request. Run: .venv/bin/python bench/sigv4_bench.py"""

from __future__ import annotations

import timeit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from shoal.identity.root import RootCredentials
from shoal.identity.sigv4 import SignedRequest, Verifier

PATH = "/2015-03-31/functions/my-function/invocations"


def signed() -> tuple[SignedRequest, AWSRequest]:
    request = AWSRequest("POST", f"http://127.0.0.1:9000{PATH}", data=b'{"n": 1}',
                         headers={"Content-Type": "application/json"})  # fmt: skip
    SigV4Auth(Credentials("shoal", "shoal"), "lambda", "us-east-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:9000"
    return SignedRequest("POST", PATH, "", headers, b'{"n": 1}', False), request


def main() -> None:
    request, raw = signed()
    verifier = Verifier([RootCredentials("shoal", "shoal").source("123456789012")])
    verifier.verify(request)
    n = 20000
    verify = min(timeit.repeat(lambda: verifier.verify(request), number=n, repeat=5)) / n
    signer = SigV4Auth(Credentials("shoal", "shoal"), "lambda", "us-east-1")
    sign = min(timeit.repeat(lambda: signer.add_auth(raw), number=2000, repeat=5)) / 2000
    print(f"verify a signed Invoke: {verify * 1e6:.1f} µs  (botocore signing it: "
          f"{sign * 1e6:.1f} µs, ratio {verify / sign:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
