"""The ``json`` wire protocol (1.0 and 1.1: CloudWatch Logs, KMS, DynamoDB…), driven by the
service model: body → input, output → body, errors.

The server-side inverse of botocore's ``JSONSerializer`` and ``JSONParser``, hand-written because
botocore only has those client-side halves. A request is ``POST /`` with
``X-Amz-Target: <targetPrefix>.<Operation>`` and ``Content-Type: application/x-amz-json-1.1``
(``1.0`` by the model's ``jsonVersion``); its body is the input structure as one JSON object,
members under their ``locationName`` (else their name), timestamps as epoch seconds, blobs as
base64 and ``NaN``/``Infinity`` as strings. The answer is the output structure the same way.

An error is ``{"__type": CODE, "message": …}`` with the status of the model's error shape. A
model with ``awsQueryCompatible`` (SQS, CloudWatch) came from the ``query`` protocol, and its
clients look the error up by its query code: the body's ``__type`` names the error shape and
``x-amzn-query-error: <code>;Sender|Receiver`` the code, which botocore prefers.

Input is checked against the model's constraints by the shared codec
(:func:`shoal.api.codec.validate_input`, AWS's ``ValidationException`` wording).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

from shoal.api import rpc_shapes
from shoal.api.codec import HttpResponse, load_json
from shoal.api.model import Operation, ServiceModel, Shape
from shoal.api.validation import validate_input
from shoal.errors import AwsError

PROTOCOL = "json"
_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class JsonWire(rpc_shapes.Wire):
    def decode_blob(self, value: Any, path: str) -> bytes:
        if not isinstance(value, str):
            raise rpc_shapes.type_error(path, "blob")
        try:
            return base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error):
            raise AwsError(
                "SerializationException", f"Could not decode base64 value of {path}", 400
            ) from None

    def encode_blob(self, value: bytes) -> Any:
        return base64.b64encode(value).decode()

    def decode_timestamp(self, value: Any, shape: Shape, path: str) -> dt.datetime:
        try:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return dt.datetime.fromtimestamp(value, dt.UTC)
            if isinstance(value, str):
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except (ValueError, OverflowError, OSError):
            pass
        raise rpc_shapes.type_error(path, "timestamp")

    def encode_timestamp(self, value: dt.datetime, shape: Shape) -> Any:
        if shape.get("timestampFormat") == "iso8601":
            return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return value.timestamp()

    def decode_float(self, value: Any, path: str) -> float:
        if isinstance(value, str) and value in _FLOATS:
            return _FLOATS[value]
        return super().decode_float(value, path)

    def encode_float(self, value: float) -> Any:
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value


WIRE = JsonWire()


def target(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """``(targetPrefix, Operation)`` of a json request (lower-cased header names), or None
    when it carries no ``X-Amz-Target``."""
    value = headers.get("x-amz-target")
    if value is None:
        return None
    prefix, _, operation = value.rpartition(".")
    return prefix, operation


def content_type(model: ServiceModel | None) -> str:
    version = model.metadata.get("jsonVersion", "1.0") if model is not None else "1.0"
    return f"application/x-amz-json-{version}"


# ---------------------------------------------------------------------------------- input


def parse_input(model: ServiceModel, op: Operation, body: bytes) -> dict[str, Any]:
    """Decode a request body into the operation's input members, validated."""
    if op.input is None:
        return {}
    doc = load_json(body) if body.strip() else {}
    if not isinstance(doc, dict):
        raise AwsError("SerializationException", "Request body must be a JSON object", 400)
    try:
        params: dict[str, Any] = rpc_shapes.decode(model, model.shape(op.input), doc, "", WIRE)
        validate_input(model, op.input, params)
    except RecursionError:  # a recursive shape nested as deep as the decoder allowed
        raise AwsError(
            "SerializationException", "Could not parse request body into json: nesting too deep",
            400,
        ) from None  # fmt: skip
    return params


# ---------------------------------------------------------------------------------- output


def serialize_output(
    model: ServiceModel, op: Operation, result: Mapping[str, Any] | None
) -> HttpResponse:
    doc: Any = {}
    if op.output is not None and result:
        doc = rpc_shapes.encode(model, model.shape(op.output), result, WIRE)
    return HttpResponse(200, [("Content-Type", content_type(model))], _dumps(doc))


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------------- errors


def serialize_error(model: ServiceModel | None, error: AwsError) -> HttpResponse:
    """``error`` as json services answer it; ``model`` None for a service Shoal does not
    serve (the answer names no shape of it)."""
    status, body, query_error = rpc_shapes.error_body(model, error, WIRE)
    headers = [("Content-Type", content_type(model))]
    if query_error is not None:
        headers.append(("x-amzn-query-error", query_error))
    return HttpResponse(status, headers, _dumps(body))


def unserved_error(error: AwsError, headers: Mapping[str, str]) -> HttpResponse:
    """``error`` for a request to a service Shoal does not serve, in the request's own json
    version (its ``Content-Type``)."""
    response = serialize_error(None, error)
    sent = headers.get("content-type", "")
    if sent.startswith("application/x-amz-json-1."):
        response.headers[0] = ("Content-Type", sent.split(";")[0].strip())
    return response
