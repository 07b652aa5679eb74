"""Helpers for the invocation process tests: Shoal's own views of logs and environments."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import shoal_urlopen


def shoal_get(endpoint: str, path: str) -> Any:
    with shoal_urlopen(endpoint + path, timeout=30) as response:
        return json.loads(response.read())


def log_messages(endpoint: str, function: str) -> list[str]:
    events = shoal_get(endpoint, f"/shoal/logs/{urllib.parse.quote(function)}")["events"]
    return [e["message"] for e in events]


def starts(endpoint: str, function: str) -> int:
    return sum(1 for m in log_messages(endpoint, function) if m.startswith("START RequestId:"))


def environments(endpoint: str, function: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = shoal_get(endpoint, f"/shoal/environments?function={function}")[
        "environments"
    ]
    return found


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )
