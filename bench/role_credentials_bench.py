"""Micro-benchmark of execution-role credentials on the invoke path (shoal.invocation.credentials):
what an invocation pays for them. Run: .venv/bin/python -m bench.role_credentials_bench

- every invocation: the renewal check (one comparison of the clock read the invoker already
  makes), and the runtime's look-up of an ``environment`` member in the invoke frame;
- an invocation that renews (one per environment per half lifetime, 6 hours by default): the
  issue (trust check, session token, its HMACs), the frame's extra member, and the runtime's
  ``os.environ`` update;
- every environment start: one issue (two for a snapshot start: its template's too).

And end to end, a warm boto3 Invoke's p50 on a server whose credentials are never renewed in
the run (the default lifetime) and on one that renews them with about half of its invocations
(``--role-credentials-lifetime 1``): the difference is what renewals cost.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import timeit
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.common import aws_client, median, shoal_server
from shoal.config import Settings
from shoal.functions.models import FunctionVersion
from shoal.iam.models import ROLE
from shoal.iam.service import IamService
from shoal.invocation.credentials import CredentialIssuer
from shoal.runtime import frames
from shoal.sandbox.control import InvokeFrames
from shoal.sandbox.types import InvokeRequest
from shoal.store.integrity import open_store

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})  # fmt: skip


def per_call_us(fn: Any, n: int) -> float:
    return min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e6


def issuer(data_dir: Path) -> CredentialIssuer:
    settings = Settings(data_dir=data_dir)
    store = open_store(settings.db_path, ())
    iam = IamService(SimpleNamespace(settings=settings, store=store))  # type: ignore[arg-type]
    asyncio.run(iam.start())
    iam.directory.create(ROLE, "bench", "/", trust=TRUST)
    return CredentialIssuer(iam, settings.role_credentials_s)


def function() -> Any:
    fn = SimpleNamespace(role="arn:aws:iam::123456789012:role/bench", name="bench-fn")
    return fn  # the two members issue reads


def warm_p50_ms(extra: tuple[str, ...], n: int = 400) -> float:
    with shoal_server(*extra) as endpoint:
        from conftest import create_function

        lam = aws_client(endpoint, "lambda")
        name = create_function(lam, "bench-roles", "def handler(e, c):\n    return 1\n")
        for _ in range(20):
            lam.invoke(FunctionName=name, Payload=b"{}")
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
            times.append((time.perf_counter() - t0) * 1000)
        lam.close()
        return median(times)


def run() -> str:
    lines = []
    never = warm_p50_ms(())
    always = warm_p50_ms(("--role-credentials-lifetime", "1"))
    lines.append(f"warm Invoke p50 (boto3): {never:.3f} ms never renewing, {always:.3f} ms "
                 f"renewing on about half of them")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        credentials = issuer(Path(tmp))
        fn: FunctionVersion = function()
        issued = credentials.issue(fn)
        renew_at = issued.renew_at

        def check() -> bool:
            return time.time() >= renew_at

        lines.append(f"renewal check, every invocation: {per_call_us(check, 200_000):.3f} µs")
        header = {"op": "invoke", "request_id": "r", "environment": None}
        lookup = per_call_us(lambda: header.get("environment"), 200_000)
        lines.append(f"runtime's look-up of the frame member, every invocation: {lookup:.3f} µs")
        issue = per_call_us(lambda: credentials.issue(fn), 5_000)
        lines.append(f"issue (trust check + session token), per start or renewal: {issue:.1f} µs")
        request = InvokeRequest("7d3c0f3e-aaaa-4bbb-8ccc-123456789abc", b"{}", "arn:fn",
                                "$LATEST", 1)  # fmt: skip
        renewing = InvokeRequest("7d3c0f3e-aaaa-4bbb-8ccc-123456789abc", b"{}", "arn:fn",
                                 "$LATEST", 1, environment=issued.variables)  # fmt: skip
        encoder = InvokeFrames()
        plain = per_call_us(lambda: encoder.encode(request, 1), 100_000)
        extra = per_call_us(lambda: encoder.encode(renewing, 1), 100_000)
        more = len(encoder.encode(renewing, 1)) - len(encoder.encode(request, 1))
        lines.append(f"invoke frame encode: {plain:.2f} µs; with renewed credentials "
                     f"{extra:.2f} µs (+{more} bytes)")  # fmt: skip
        decoded = json.loads(frames.encode_header(dict(issued.variables)))
        saved = dict(os.environ)
        try:
            update = per_call_us(lambda: os.environ.update(decoded), 20_000)
            lines.append(f"runtime's os.environ update on renewal: {update:.1f} µs")
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
