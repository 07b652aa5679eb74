"""The ``smithy-rpc-v2-cbor`` wire protocol (CloudWatch ``monitoring``), driven by the service
model: body → input, output → body, errors.

The server-side inverse of botocore's ``RpcV2CBORSerializer`` and ``RpcV2CBORParser``,
hand-written because botocore only has those client-side halves; CBOR itself is read and
written by ``cbor2``. A request is ``POST /service/<targetPrefix>/operation/<Operation>`` with
``smithy-protocol: rpc-v2-cbor``; its body (empty when the operation has no input) is the input
structure as one CBOR map keyed by member names, blobs as byte strings, timestamps as tag 1
(epoch seconds), floats as CBOR floats. The answer carries ``smithy-protocol: rpc-v2-cbor`` and
``Content-Type: application/cbor`` and the output structure the same way.

An error is a CBOR map ``{"__type": CODE, "message": …}`` with the status of the model's error
shape, and ``x-amzn-query-error`` for a model with ``awsQueryCompatible`` — CloudWatch's is —
exactly as :mod:`shoal.api.json_protocol` says it (:func:`shoal.api.rpc_shapes.error_parts`).
A body that is not CBOR, nested deeper than ``cbor2``'s limit, or that uses CBOR's shared
references to loop back on itself is a ``SerializationException``, never a 500.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import cbor2

from shoal.api import rpc_shapes
from shoal.api.codec import HttpResponse
from shoal.api.model import Operation, ServiceModel, Shape
from shoal.api.validation import validate_input
from shoal.errors import AwsError

PROTOCOL = "smithy-rpc-v2-cbor"
CONTENT_TYPE = "application/cbor"
HEADER = ("smithy-protocol", "rpc-v2-cbor")
PATH_PREFIX = "/service/"
# The deepest nesting of arrays and maps a body may have (cbor2 refuses deeper as it decodes;
# CloudWatch's deepest input is a few levels).
MAX_DEPTH = 128


class CborWire(rpc_shapes.Wire):
    def response_key(self, name: str, member: Shape) -> str:
        return name  # botocore's RpcV2 parser reads members by their names

    def absent(self, value: Any) -> bool:
        return value is None or value is cbor2.undefined  # the protocol reads undefined as null

    def decode_blob(self, value: Any, path: str) -> bytes:
        if not isinstance(value, bytes):
            raise rpc_shapes.type_error(path, "blob")
        return value

    def encode_blob(self, value: bytes) -> Any:
        return value

    def decode_timestamp(self, value: Any, shape: Shape, path: str) -> dt.datetime:
        if isinstance(value, dt.datetime):  # tag 1, decoded by cbor2
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return dt.datetime.fromtimestamp(value, dt.UTC)
            except (ValueError, OverflowError, OSError):
                pass
        raise rpc_shapes.type_error(path, "timestamp")

    def encode_timestamp(self, value: dt.datetime, shape: Shape) -> Any:
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


WIRE = CborWire()


def target(path: str) -> tuple[str, str] | None:
    """``(service, Operation)`` named by ``/service/<service>/operation/<Operation>``, or
    None for a path of another shape. The service may be named by its absolute shape id with
    ``.`` for ``#`` (``com.amazonaws.cloudwatch.GraniteServiceVersion20100801``), which the
    protocol asks servers to route as its name."""
    parts = path[len(PATH_PREFIX) :].split("/") if path.startswith(PATH_PREFIX) else []
    if len(parts) != 3 or parts[1] != "operation" or not parts[0] or not parts[2]:
        return None
    return parts[0].rsplit(".", 1)[-1], parts[2]


def is_cbor(headers: Mapping[str, str]) -> bool:
    """Whether a request claims this protocol: ``smithy-protocol: rpc-v2-cbor`` and no
    ``X-Amz-Target``, which the protocol says makes a request malformed (a json request must
    never be taken for a cbor one, nor the reverse)."""
    return headers.get(HEADER[0]) == HEADER[1] and "x-amz-target" not in headers


# ---------------------------------------------------------------------------------- input


def load(body: bytes) -> Any:
    """One CBOR data item, or a ``SerializationException``."""
    try:
        return cbor2.loads(body, max_depth=MAX_DEPTH)
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as e:
        reason = "nesting too deep" if isinstance(e, RecursionError) else e
        raise AwsError(
            "SerializationException", f"Could not parse request body into cbor: {reason}", 400
        ) from None


def parse_input(model: ServiceModel, op: Operation, body: bytes) -> dict[str, Any]:
    """Decode a request body into the operation's input members, validated."""
    if op.input is None:
        return {}
    doc = load(body) if body else {}
    if not isinstance(doc, dict):
        raise AwsError("SerializationException", "Request body must be a CBOR map", 400)
    try:
        params: dict[str, Any] = rpc_shapes.decode(model, model.shape(op.input), doc, "", WIRE)
        validate_input(model, op.input, params)
    except RecursionError:  # shared references that loop back on themselves
        raise AwsError(
            "SerializationException", "Could not parse request body into cbor: nesting too deep",
            400,
        ) from None  # fmt: skip
    return params


# ---------------------------------------------------------------------------------- output


def _response(status: int, doc: Any, headers: list[tuple[str, str]] | None = None
              ) -> HttpResponse:  # fmt: skip
    if doc is None:  # no output shape: no body, and so no Content-Type
        return HttpResponse(status, [HEADER, *(headers or [])], b"")
    body = cbor2.dumps(doc, datetime_as_timestamp=True)
    return HttpResponse(status, [HEADER, ("Content-Type", CONTENT_TYPE), *(headers or [])], body)


def serialize_output(
    model: ServiceModel, op: Operation, result: Mapping[str, Any] | None
) -> HttpResponse:
    """The output as a CBOR map; no body at all for an operation without output (botocore
    parses no body then)."""
    if op.output is None:
        return _response(200, None)
    doc = rpc_shapes.encode(model, model.shape(op.output), result or {}, WIRE)
    return _response(200, doc)


# ---------------------------------------------------------------------------------- errors


def serialize_error(model: ServiceModel | None, error: AwsError) -> HttpResponse:
    """``error`` as smithy-rpc-v2-cbor services answer it; ``model`` None for a service Shoal
    does not serve."""
    status, body, query_error = rpc_shapes.error_body(model, error, WIRE)
    headers = [("x-amzn-query-error", query_error)] if query_error is not None else []
    return _response(status, body, headers)


def unserved_error(error: AwsError, headers: Mapping[str, str]) -> HttpResponse:
    """``error`` for a request to a service Shoal does not serve."""
    return serialize_error(None, error)
