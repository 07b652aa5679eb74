"""What identity costs an invoke inside the server: SigV4 verification of a boto3-signed
Invoke plus its authorization, timed with the server's own functions (``Verifier.verify``,
``authorize``) for the root user and for an IAM user whose 3 policies hold 5 statements each
(the case of a function invoking another with its role's credentials). ``invoke_bench`` sets it
beside the server's CPU per invoke measured under load in the same run."""

from __future__ import annotations

import functools
import timeit
from types import SimpleNamespace
from typing import Any

from bench.authorize_bench import ACCOUNT, policies
from bench.sigv4_bench import signed
from shoal.api.dispatch import Call
from shoal.config import Settings
from shoal.identity.authorize import authorize
from shoal.identity.root import RootCredentials
from shoal.identity.sigv4 import Verifier
from shoal.policy import Principal

N = 20000


def per_invoke_us() -> tuple[float, float]:
    """µs per invoke: (verify + authorize for root, verify + authorize for a user)."""
    request, _ = signed()
    verifier = Verifier([RootCredentials("shoal", "shoal").source(ACCOUNT)])
    verifier.verify(request)
    verify = min(timeit.repeat(lambda: verifier.verify(request), number=N, repeat=5)) / N
    shoal: Any = SimpleNamespace(settings=Settings())
    docs = policies()
    out = []
    for who in (Principal(arn=f"arn:aws:iam::{ACCOUNT}:root", account=ACCOUNT),
                Principal(arn=f"arn:aws:iam::{ACCOUNT}:user/dev", account=ACCOUNT,
                          user_name="dev")):  # fmt: skip
        call = Call("Invoke", {"FunctionName": "fn"}, shoal, {}, "http://127.0.0.1", "r",
                    "us-east-1", principal=who, secure=True, source_ip="10.1.2.3")  # fmt: skip
        run = functools.partial(authorize, call, docs, service="lambda")
        out.append(min(timeit.repeat(run, number=N, repeat=5)) / N)
    return (verify + out[0]) * 1e6, (verify + out[1]) * 1e6
