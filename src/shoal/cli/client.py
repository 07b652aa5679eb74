"""How the CLI reaches a Shoal server: boto3 clients pointed at its endpoint."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

from shoal.config import DEFAULT_ENDPOINT


def endpoint(arg: str | None) -> str:
    """--endpoint-url, else $SHOAL_ENDPOINT, else the local default."""
    return (arg or os.environ.get("SHOAL_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def client(service: str, endpoint_url: str | None, read_timeout: int = 960) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint(endpoint_url),
        region_name=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "shoal"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "shoal"),
        config=Config(read_timeout=read_timeout, retries={"max_attempts": 0}),
    )
