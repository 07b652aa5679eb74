"""Micro-benchmark of shoal.identity.authorize: µs per authorization of a Lambda Invoke, for the
root user and for a user with 3 identity policies of 5 statements (parsed once, as the IAM
service keeps them). Run: .venv/bin/python bench/authorize_bench.py"""

from __future__ import annotations

import functools
import json
import timeit
from types import SimpleNamespace
from typing import Any

from shoal.api.dispatch import Call
from shoal.config import Settings
from shoal.identity.authorize import authorize
from shoal.policy import Kind, Principal, parse

ACCOUNT = "123456789012"


def policies() -> list[Any]:
    out = []
    for p in range(3):
        statements = [
            {"Effect": "Allow", "Action": [f"lambda:Get{p}{s}*", f"lambda:List{p}{s}*"],
             "Resource": f"arn:aws:lambda:*:{ACCOUNT}:function:app-{p}-{s}-*",
             "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
            for s in range(4)
        ]  # fmt: skip
        statements.append({"Effect": "Allow", "Action": "lambda:InvokeFunction",
                           "Resource": f"arn:aws:lambda:*:{ACCOUNT}:function:f*",
                           "Condition": {"Bool": {"aws:SecureTransport": "true"}}})  # fmt: skip
        doc = {"Version": "2012-10-17", "Statement": statements}
        out.append(parse(json.dumps(doc), Kind.IDENTITY, ValueError))
    return out


def main() -> None:
    shoal: Any = SimpleNamespace(settings=Settings())
    root = Principal(arn=f"arn:aws:iam::{ACCOUNT}:root", account=ACCOUNT)
    dev = Principal(arn=f"arn:aws:iam::{ACCOUNT}:user/dev", account=ACCOUNT, user_name="dev")
    docs = policies()
    for name, who in (("root", root), ("user, 3 policies x 5 statements", dev)):
        call = Call("Invoke", {"FunctionName": "fn", "Qualifier": "live"}, shoal, {},
                    "http://127.0.0.1", "r", "us-east-1", principal=who, secure=True,
                    source_ip="10.1.2.3")  # fmt: skip
        n = 20000
        run = functools.partial(authorize, call, docs, service="lambda")
        seconds = min(timeit.repeat(run, number=n, repeat=3))
        print(f"Invoke, {name}: {seconds / n * 1e6:.1f} µs per authorization")


if __name__ == "__main__":
    main()
