"""How the CLI reaches a Shoal server: boto3 clients pointed at its endpoint.

An ``https://`` endpoint is verified against ``$AWS_CA_BUNDLE`` when it is set (as boto3 and
the AWS CLI do; ``shoal serve --tls auto`` prints the CA's path), else the system's store;
:func:`urlopen` does the same for Shoal's own endpoints that boto3 does not speak, and signs
them with the same keys.
"""

from __future__ import annotations

import os
import ssl
import urllib.request
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from shoal.config import DEFAULT_ENDPOINT, default_data_dir
from shoal.identity.root import credentials_path, read


def endpoint(arg: str | None) -> str:
    """--endpoint-url, else $SHOAL_ENDPOINT, else the local default."""
    return (arg or os.environ.get("SHOAL_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def keys() -> tuple[str, str]:
    """The access key pair to sign with: $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY, else the
    local server's root credentials when this user can read them (root, for the default data
    directory), else ``shoal``/``shoal`` (a throwaway server's fixed keys)."""
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return key, secret
    found = read(credentials_path(default_data_dir()))
    if found is not None:
        return found.access_key_id, found.secret_access_key
    return "shoal", "shoal"


def client(service: str, endpoint_url: str | None, read_timeout: int = 960) -> Any:
    key, secret = keys()
    return boto3.client(
        service,
        endpoint_url=endpoint(endpoint_url),
        region_name=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(read_timeout=read_timeout, retries={"max_attempts": 0}),
    )


def ssl_context() -> ssl.SSLContext:
    bundle = os.environ.get("AWS_CA_BUNDLE")
    return ssl.create_default_context(cafile=bundle or None)


def urlopen(url: str, timeout: float, method: str = "GET") -> Any:
    """A request to Shoal's own endpoints (``/shoal/...``), signed as the server wants them
    (SigV4 for the service ``shoal``, with :func:`keys`), trusting what boto3 trusts (see the
    module docstring)."""
    request = AWSRequest(method, url, data=b"")
    key, secret = keys()
    region = os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    SigV4Auth(Credentials(key, secret), "shoal", region).add_auth(request)
    signed = urllib.request.Request(url, headers=dict(request.headers), method=method)
    context = ssl_context() if url.startswith("https:") else None
    return urllib.request.urlopen(signed, timeout=timeout, context=context)
