"""AWS service models, as botocore ships them, and routing of HTTP requests to operations.

A :class:`ServiceModel` wraps one ``service-2.json`` (Lambda, EFS, API Gateway v2, …). Its
:class:`Router` turns every operation's ``http.requestUri`` template into a regular expression
once, at start, so matching a request costs one dictionary look-up on the method and a few
regex matches.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

import botocore

Shape = dict[str, Any]

# The model versions Shoal serves; the same files boto3 and the AWS CLI use.
SERVICE_VERSIONS = {
    "lambda": "2015-03-31",
    "efs": "2015-02-01",
    "apigatewayv2": "2018-11-29",
    "ec2": "2016-11-15",
    "iam": "2010-05-08",
    "sts": "2011-06-15",
    # The json and smithy-rpc-v2-cbor services (shoal.api.rpc_router).
    "logs": "2014-03-28",
    "kms": "2014-11-01",
    "cloudwatch": "2010-08-01",
}


@cache
def load_model(service: str) -> ServiceModel:
    version = SERVICE_VERSIONS[service]
    path = os.path.join(os.path.dirname(botocore.__file__), "data", service, version)
    with gzip.open(os.path.join(path, "service-2.json.gz")) as f:
        return ServiceModel(service, json.load(f))


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    uri: str
    status: int
    input: str | None
    output: str | None
    pattern: re.Pattern[str]
    required_query: tuple[tuple[str, str | None], ...]
    literal_len: int


class ServiceModel:
    """One service's shapes and operations."""

    def __init__(self, name: str, raw: dict[str, Any]) -> None:
        self.name = name
        self.shapes: dict[str, Shape] = raw["shapes"]
        # protocol ("rest-json", "ec2", "query"...), xmlNamespace, apiVersion.
        self.metadata: dict[str, Any] = raw.get("metadata", {})
        # The query protocol's <OpResult> element, by operation (IAM, STS).
        self.result_wrappers: dict[str, str] = {
            op_name: op["output"]["resultWrapper"]
            for op_name, op in raw["operations"].items()
            if "resultWrapper" in op.get("output", {})
        }
        self.operations: dict[str, Operation] = {
            op_name: _operation(op_name, op) for op_name, op in raw["operations"].items()
        }
        self.router = Router(self.operations.values())
        # The codec's compiled form of shapes it has used (shape name -> its members).
        self.codec_cache: dict[str, Any] = {}
        # Error shapes by the code clients see (a shape may rename itself with "error.code").
        self.errors: dict[str, str] = {}
        for shape_name, shape in self.shapes.items():
            if shape.get("exception"):
                code = shape.get("error", {}).get("code", shape_name)
                self.errors[code] = shape_name

    def shape(self, name: str) -> Shape:
        return self.shapes[name]


def _operation(name: str, op: dict[str, Any]) -> Operation:
    http = op["http"]
    uri: str = http["requestUri"]
    path, _, query = uri.partition("?")
    required_query: list[tuple[str, str | None]] = []
    for part in filter(None, query.split("&")):
        key, sep, value = part.partition("=")
        required_query.append((key, value if sep else None))
    regex = "^"
    literal = 0
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            label = piece[1:-1]
            if label.endswith("+"):
                regex += f"(?P<{_group(label[:-1])}>.+)"
            else:
                regex += f"(?P<{_group(label)}>[^/]+)"
        else:
            regex += re.escape(piece)
            literal += len(piece)
    regex += "/?$"
    return Operation(
        name=name,
        method=http["method"],
        uri=uri,
        status=int(http.get("responseCode", 200)),
        input=op.get("input", {}).get("shape"),
        output=op.get("output", {}).get("shape"),
        pattern=re.compile(regex),
        required_query=tuple(required_query),
        literal_len=literal + 10 * len(required_query),
    )


def _group(label: str) -> str:
    # Regex group names must be identifiers; URI labels are (apiId, FunctionName...).
    return re.sub(r"\W", "_", label)


def group_name(label: str) -> str:
    return _group(label.rstrip("+"))


class Router:
    """Matches (method, path, query) to an operation: the most specific template wins."""

    def __init__(self, operations: Any) -> None:
        by_method: dict[str, list[Operation]] = {}
        for op in operations:
            by_method.setdefault(op.method, []).append(op)
        for ops in by_method.values():
            ops.sort(key=lambda o: -o.literal_len)
        self._by_method = by_method
        self._cache: dict[tuple[str, str], tuple[Operation, dict[str, str]]] = {}

    def match(
        self, method: str, path: str, query: Mapping[str, list[str]]
    ) -> tuple[Operation, dict[str, str]] | None:
        # The same paths come again and again (a function's invocations): remember the answer
        # per (method, path) when no operation on that route depends on the query string.
        key = (method, path)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        found = self._match(method, path, query)
        if found is not None and not self._query_dependent(method, path):
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[key] = found
        return found

    def _query_dependent(self, method: str, path: str) -> bool:
        return any(
            op.required_query and op.pattern.match(path) for op in self._by_method.get(method, ())
        )

    def _match(
        self, method: str, path: str, query: Mapping[str, list[str]]
    ) -> tuple[Operation, dict[str, str]] | None:
        for op in self._by_method.get(method, ()):
            m = op.pattern.match(path)
            if m is None:
                continue
            if any(
                key not in query or (value is not None and value not in query[key])
                for key, value in op.required_query
            ):
                continue
            return op, {k: unquote(v) for k, v in m.groupdict().items()}
        return None
