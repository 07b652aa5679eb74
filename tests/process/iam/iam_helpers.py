"""What the IAM tests share: a unique name, and an error's code, status and message."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]
