"""The walk over a model's shapes that the RPC protocols share: a request's body document →
the operation's input members, and an output or error's members → the body document.

``json`` (1.0/1.1) and ``smithy-rpc-v2-cbor`` carry the same thing — the input structure as the
whole body, the output structure as the whole answer — and differ only in how a few scalars
travel and what a structure's keys are. Each protocol module gives a :class:`Wire` with those
differences; this walk does the rest, as botocore's ``BaseJSONParser``/``BaseRpcV2Parser`` share
one walk on the client's side. It is written here, not borrowed, because botocore only has the
client's half (it serialises requests and parses responses; a server needs the inverse).

Decoded values are keyed by the model's member names, with blobs as ``bytes`` and timestamps as
aware ``datetime``; handlers return the same. Keys the model does not have are ignored, as AWS
ignores them; a value of the wrong type is a ``SerializationException``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shoal.api.model import ServiceModel, Shape
from shoal.errors import AwsError


class Wire:
    """How one protocol carries what a JSON-like document cannot say alike everywhere."""

    def absent(self, value: Any) -> bool:
        """Whether ``value`` stands for no value (a member left out)."""
        return value is None

    def request_key(self, name: str, member: Shape) -> str:
        """The key a client's serializer gives ``name`` (botocore: its ``locationName``)."""
        return str(member.get("locationName", name))

    def response_key(self, name: str, member: Shape) -> str:
        """The key the client's parser reads ``name`` from."""
        return str(member.get("locationName", name))

    def decode_blob(self, value: Any, path: str) -> bytes:
        raise NotImplementedError

    def encode_blob(self, value: bytes) -> Any:
        raise NotImplementedError

    def decode_timestamp(self, value: Any, shape: Shape, path: str) -> dt.datetime:
        raise NotImplementedError

    def encode_timestamp(self, value: dt.datetime, shape: Shape) -> Any:
        raise NotImplementedError

    def decode_float(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise type_error(path, "double")
        return float(value)

    def encode_float(self, value: float) -> Any:
        return value


def type_error(path: str, kind: str) -> AwsError:
    return AwsError(
        "SerializationException", f"Unexpected value type for {path}: expected {kind}", status=400
    )


def decode(model: ServiceModel, shape: Shape, value: Any, path: str, wire: Wire) -> Any:
    """``value`` from the wire as the data ``shape`` describes (member names as the model's)."""
    kind = shape["type"]
    if kind == "structure":
        if shape.get("document"):
            return value
        if not isinstance(value, dict):
            raise type_error(path, "structure")
        out = {}
        for name, member in shape.get("members", {}).items():
            found = value.get(wire.request_key(name, member))
            if wire.absent(found):
                found = value.get(name)
            if not wire.absent(found):
                out[name] = decode(model, model.shape(member["shape"]), found, name, wire)
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise type_error(path, "list")
        item = model.shape(shape["member"]["shape"])
        return [decode(model, item, v, path, wire) for v in value if not wire.absent(v)]
    if kind == "map":
        if not isinstance(value, dict):
            raise type_error(path, "map")
        vshape = model.shape(shape["value"]["shape"])
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise type_error(path, "map")
            if not wire.absent(v):
                out[k] = decode(model, vshape, v, path, wire)
        return out
    if kind == "blob":
        return wire.decode_blob(value, path)
    if kind == "timestamp":
        return wire.decode_timestamp(value, shape, path)
    if kind in ("double", "float"):
        return wire.decode_float(value, path)
    if kind in ("integer", "long", "short", "byte", "bigInteger"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise type_error(path, kind)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise type_error(path, kind)
    elif kind == "string":
        if not isinstance(value, str):
            raise type_error(path, kind)
    return value


def encode(model: ServiceModel, shape: Shape, value: Any, wire: Wire) -> Any:
    """Handler data for ``shape`` as the protocol's document (members absent or None left
    out)."""
    kind = shape["type"]
    if kind == "structure":
        if shape.get("document"):
            return value
        out = {}
        for name, member in shape.get("members", {}).items():
            v = value.get(name)
            if v is not None:
                out[wire.response_key(name, member)] = encode(
                    model, model.shape(member["shape"]), v, wire
                )
        return out
    if kind == "list":
        item = model.shape(shape["member"]["shape"])
        return [encode(model, item, v, wire) for v in value]
    if kind == "map":
        vshape = model.shape(shape["value"]["shape"])
        return {k: encode(model, vshape, v, wire) for k, v in value.items()}
    if kind == "blob":
        return wire.encode_blob(value if isinstance(value, bytes) else str(value).encode())
    if kind == "timestamp":
        if isinstance(value, int | float):
            value = dt.datetime.fromtimestamp(value, dt.UTC)
        return wire.encode_timestamp(value, shape)
    if kind in ("double", "float"):
        return wire.encode_float(float(value))
    return value


def error_members(model: ServiceModel, shape_name: str | None, fields: dict[str, Any],
                  message: str, wire: Wire) -> dict[str, Any]:  # fmt: skip
    """An error's body members besides ``__type``: the message (under the error shape's own
    name for it, ``message`` or ``Message``, which botocore reads either way) and the shape's
    other members that ``fields`` gives."""
    shape = model.shapes.get(shape_name) if shape_name else None
    body: dict[str, Any] = {}
    message_key = "message"
    if shape is not None:
        for name, member in shape.get("members", {}).items():
            key = wire.response_key(name, member)
            if name.lower() == "message":
                message_key = key
            elif fields.get(name) is not None:
                body[key] = encode(model, model.shape(member["shape"]), fields[name], wire)
    body[message_key] = message
    return body


def error_parts(
    model: ServiceModel | None, error: AwsError
) -> tuple[int, str, str | None, str | None]:
    """What json and cbor errors both say: (status, ``__type``, the error shape's name,
    the ``x-amzn-query-error`` header's value or None)."""
    shape_name = model.errors.get(error.code) if model is not None else None
    shape = model.shapes.get(shape_name) if model is not None and shape_name else None
    status = error.status or (shape or {}).get("error", {}).get("httpStatusCode")
    if not status:  # json models mark a server's error "fault" and give no status
        status = 500 if (shape or {}).get("fault") else 400
    if model is not None and "awsQueryCompatible" in model.metadata:
        fault = "Receiver" if status >= 500 else "Sender"
        # A model-constraint failure's query code is ValidationError (CloudWatch's recorded
        # answers: __type ValidationException, x-amzn-query-error ValidationError;Sender).
        code = "ValidationError" if error.code == "ValidationException" else error.code
        return status, shape_name or error.code, shape_name, f"{code};{fault}"
    return status, error.code, shape_name, None


def error_body(model: ServiceModel | None, error: AwsError,
               wire: Wire) -> tuple[int, dict[str, Any], str | None]:  # fmt: skip
    """An error as json and cbor both answer it: (status, the body with its ``__type``, the
    ``x-amzn-query-error`` header's value or None); ``model`` None for a service Shoal does
    not serve."""
    status, type_, shape_name, query_error = error_parts(model, error)
    body: dict[str, Any] = {"__type": type_}
    if model is not None:
        body.update(error_members(model, shape_name, error.fields, error.message, wire))
    else:
        body["message"] = error.message
    return status, body, query_error
