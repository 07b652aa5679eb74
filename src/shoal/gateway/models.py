"""Immutable models of HTTP APIs (API Gateway v2) and Lambda function URLs.

Each resource keeps the members Shoal acts on as typed fields, and every other member the
client set (``Description``, ``Tags``, ``RequestParameters``...) in ``extra``, keyed by the
service model's member names, so that Get* answers what Create* was given without Shoal having
to model settings it does not enforce. A change makes a new object (``dataclasses.replace``).
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

_ALNUM = string.ascii_lowercase + string.digits

DEFAULT_STAGE = "$default"
DEFAULT_ROUTE = "$default"


def new_id(length: int = 10) -> str:
    """AWS's id shape: lowercase letters and digits (10 for APIs, 7 for routes/integrations)."""
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def new_url_id() -> str:
    """A function URL id: 32 lowercase alphanumerics, as in ``<url-id>.lambda-url...``."""
    return new_id(32)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _ts(value: dt.datetime) -> str:
    return value.isoformat()


def _from_ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


@dataclass(frozen=True)
class Integration:
    integration_id: str
    integration_type: str  # AWS_PROXY
    integration_uri: str  # function ARN (maybe qualified) or the apigateway invocations ARN
    payload_format_version: str  # "2.0" | "1.0"
    timeout_ms: int = 30000
    managed: bool = False  # made by quick create
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    route_id: str
    route_key: str  # "$default" | "ANY /MessageWall" | "GET /items/{id}"...
    target: str | None  # "integrations/<integration id>"
    managed: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def integration_id(self) -> str | None:
        if self.target and self.target.startswith("integrations/"):
            return self.target[len("integrations/") :]
        return None


@dataclass(frozen=True)
class Stage:
    stage_name: str
    auto_deploy: bool = False
    stage_variables: Mapping[str, str] = field(default_factory=dict)
    deployment_id: str | None = None
    created: dt.datetime = field(default_factory=now)
    updated: dt.datetime = field(default_factory=now)
    managed: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Deployment:
    deployment_id: str
    created: dt.datetime = field(default_factory=now)
    auto_deployed: bool = False
    description: str | None = None


@dataclass(frozen=True)
class Api:
    """An HTTP API with everything in it: routes, integrations, stages and deployments."""

    api_id: str
    name: str
    protocol_type: str = "HTTP"
    created: dt.datetime = field(default_factory=now)
    cors: Mapping[str, Any] | None = None
    disable_execute_api_endpoint: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    routes: Mapping[str, Route] = field(default_factory=dict)
    integrations: Mapping[str, Integration] = field(default_factory=dict)
    stages: Mapping[str, Stage] = field(default_factory=dict)
    deployments: Mapping[str, Deployment] = field(default_factory=dict)
    region: str = ""  # where it was made; "" only in a document saved before regions

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["created"] = _ts(self.created)
        for stage in doc["stages"].values():
            stage["created"] = _ts(stage["created"])
            stage["updated"] = _ts(stage["updated"])
        for deployment in doc["deployments"].values():
            deployment["created"] = _ts(deployment["created"])
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Api:
        doc = dict(doc)
        doc["created"] = _from_ts(doc["created"])
        doc["routes"] = {k: Route(**v) for k, v in doc.get("routes", {}).items()}
        doc["integrations"] = {k: Integration(**v) for k, v in doc.get("integrations", {}).items()}
        stages = {}
        for k, v in doc.get("stages", {}).items():
            v = dict(v, created=_from_ts(v["created"]), updated=_from_ts(v["updated"]))
            stages[k] = Stage(**v)
        doc["stages"] = stages
        doc["deployments"] = {
            k: Deployment(**dict(v, created=_from_ts(v["created"])))
            for k, v in doc.get("deployments", {}).items()
        }
        return cls(**doc)


@dataclass(frozen=True)
class FunctionUrl:
    """One function URL: a function (unqualified, or an alias) reachable over plain HTTP."""

    url_id: str
    function_name: str
    function_arn: str  # unqualified ARN
    qualifier: str | None  # alias name, or None for $LATEST
    auth_type: str = "NONE"  # NONE (public) | AWS_IAM (signed and authorized: url_auth)
    cors: Mapping[str, Any] | None = None
    invoke_mode: str = "BUFFERED"
    created: dt.datetime = field(default_factory=now)
    modified: dt.datetime = field(default_factory=now)

    @property
    def qualified_arn(self) -> str:
        return f"{self.function_arn}:{self.qualifier}" if self.qualifier else self.function_arn

    @property
    def region(self) -> str:
        return self.function_arn.split(":")[3]  # its function's

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["created"] = _ts(self.created)
        doc["modified"] = _ts(self.modified)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FunctionUrl:
        return cls(
            **dict(doc, created=_from_ts(doc["created"]), modified=_from_ts(doc["modified"]))
        )
