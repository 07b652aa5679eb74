"""The generic rest-json codec: request -> typed input, output -> response, error -> response.

Driven entirely by the service model (see DESIGN.md, "The wire layer is driven by the service
models"). Handlers see and return plain data keyed by the model's member names (``FunctionName``,
``Payload``); the codec maps them to and from their wire locations (uri, querystring, header,
statusCode, payload, JSON body with ``locationName`` keys) and converts scalar types; the
model's constraints are checked by :mod:`shoal.api.validation`, the members' wire facts
compiled once by :mod:`shoal.api.members`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from shoal.api.members import Member, members
from shoal.api.model import Operation, ServiceModel, Shape
from shoal.api.validation import validate_input
from shoal.errors import AwsError


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


# ---------------------------------------------------------------------------------- input


def parse_input(
    model: ServiceModel,
    op: Operation,
    labels: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Decode a request into the operation's input members and validate them."""
    if op.input is None:
        return {}
    params: dict[str, Any] = {}
    body_doc: dict[str, Any] | None = None
    wire_members = members(model, op.input)
    for m in wire_members:
        location = m.location
        if location == "uri":
            raw = labels.get(m.key)
            if raw is not None:
                params[m.name] = _from_string(m.target, raw, "iso8601")
        elif location == "querystring":
            if m.kind == "list":
                values = query.get(m.key)
                if values:
                    item = model.shape(m.target["member"]["shape"])
                    params[m.name] = [_from_string(item, v, "iso8601") for v in values]
            elif m.kind == "map":
                params[m.name] = {k: v[0] for k, v in query.items()}
            elif m.key in query:
                params[m.name] = _from_string(m.target, query[m.key][0], "iso8601")
        elif location == "header":
            value = headers.get(m.key)
            if value is not None:
                if m.target.get("jsonvalue"):
                    params[m.name] = load_json(_b64decode(value, m.key))
                else:
                    params[m.name] = _from_string(m.target, value, "rfc822")
        elif location == "headers":
            prefix = m.key
            found = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
            if found:
                params[m.name] = found
        elif m.is_payload:
            if m.kind in ("blob", "string"):
                if body:
                    params[m.name] = body if m.kind == "blob" else body.decode()
            elif body:
                params[m.name] = _decode_value(model, m.target, load_json(body), m.name)
        else:
            if body_doc is None:
                body_doc = load_json(body) if body else {}
                if not isinstance(body_doc, dict):
                    raise AwsError("SerializationException", "Request body must be a JSON object")
            if m.wire in body_doc and body_doc[m.wire] is not None:
                params[m.name] = _decode_value(model, m.target, body_doc[m.wire], m.name)
    validate_input(model, op.input, params)
    return params


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as e:
        # RecursionError: nesting deeper than the decoder's stack (thousands of levels).
        reason = "nesting too deep" if isinstance(e, RecursionError) else e
        raise AwsError(
            "SerializationException",
            f"Could not parse request body into json: {reason}",
            status=400,
        ) from None


def _b64decode(value: str, header: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        raise AwsError(
            "SerializationException", f"Header {header} is not valid base64", status=400
        ) from None


def _from_string(shape: Shape, raw: str, ts_format: str) -> Any:
    kind = shape["type"]
    try:
        if kind in ("integer", "long"):
            return int(raw)
        if kind == "double" or kind == "float":
            return float(raw)
        if kind == "boolean":
            return raw.lower() == "true"
        if kind == "timestamp":
            return _parse_timestamp(raw, shape.get("timestampFormat", ts_format))
    except ValueError:
        raise AwsError(
            "ValidationException", f"Value '{raw}' is not a valid {kind}", status=400
        ) from None
    return raw


def _parse_timestamp(raw: Any, fmt: str) -> dt.datetime:
    if isinstance(raw, int | float):
        return dt.datetime.fromtimestamp(raw, dt.UTC)
    if fmt == "rfc822":
        return parsedate_to_datetime(raw)
    return dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))


def _decode_value(model: ServiceModel, shape: Shape, value: Any, path: str) -> Any:
    kind = shape["type"]
    if kind == "structure":
        if not isinstance(value, dict):
            raise _type_error(path, "structure")
        out = {}
        for name, member in shape.get("members", {}).items():
            wire = member.get("locationName", name)
            if wire in value and value[wire] is not None:
                out[name] = _decode_value(model, model.shape(member["shape"]), value[wire], name)
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise _type_error(path, "list")
        item = model.shape(shape["member"]["shape"])
        return [_decode_value(model, item, v, path) for v in value]
    if kind == "map":
        if not isinstance(value, dict):
            raise _type_error(path, "map")
        vshape = model.shape(shape["value"]["shape"])
        return {k: _decode_value(model, vshape, v, path) for k, v in value.items()}
    if kind == "blob":
        if not isinstance(value, str):
            raise _type_error(path, "blob")
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise AwsError(
                "InvalidParameterValueException" if model.name == "lambda" else "BadRequest",
                f"Could not decode base64 value of {path}",
                status=400,
            ) from None
    if kind == "timestamp":
        return _parse_timestamp(value, shape.get("timestampFormat", "unixTimestamp"))
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(path, kind)
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(path, kind)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _type_error(path, kind)
    elif kind == "string":
        if not isinstance(value, str):
            raise _type_error(path, kind)
    return value


def _type_error(path: str, kind: str) -> AwsError:
    return AwsError(
        "SerializationException", f"Unexpected value type for {path}: expected {kind}", status=400
    )


# ---------------------------------------------------------------------------------- output


def serialize_output(
    model: ServiceModel, op: Operation, result: Mapping[str, Any] | None
) -> HttpResponse:
    status = op.status
    headers: list[tuple[str, str]] = []
    if op.output is None or result is None:
        return HttpResponse(status, headers, b"")
    body_doc: dict[str, Any] = {}
    raw_body: bytes | None = None
    payload: Member | None = None
    for m in members(model, op.output):
        if m.is_payload:
            payload = m
        value = result.get(m.name)
        if value is None:
            continue
        location = m.location
        if location == "statusCode":
            status = int(value)
        elif location == "header":
            headers.append((m.wire, _to_header(m.target, value)))
        elif location == "headers":
            headers.extend((m.wire + k, str(v)) for k, v in value.items())
        elif m.is_payload:
            if m.kind == "blob":
                raw_body = value if isinstance(value, bytes) else str(value).encode()
            elif m.kind == "string":
                raw_body = str(value).encode()
            else:
                raw_body = _dumps(_encode_value(model, m.target, value))
        else:
            body_doc[m.wire] = _encode_value(model, m.target, value)
    if raw_body is None:
        raw_body = _dumps(body_doc)
        headers.append(("Content-Type", "application/json"))
    elif payload is not None and payload.kind == "structure":
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, raw_body)


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _to_header(shape: Shape, value: Any) -> str:
    if shape["type"] == "timestamp":
        return format_datetime(value, usegmt=True)
    if shape.get("jsonvalue"):
        return base64.b64encode(_dumps(value)).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _encode_value(model: ServiceModel, shape: Shape, value: Any) -> Any:
    kind = shape["type"]
    if kind == "structure":
        out = {}
        for name, member in shape.get("members", {}).items():
            v = value.get(name)
            if v is not None:
                out[member.get("locationName", name)] = _encode_value(
                    model, model.shape(member["shape"]), v
                )
        return out
    if kind == "list":
        item = model.shape(shape["member"]["shape"])
        return [_encode_value(model, item, v) for v in value]
    if kind == "map":
        vshape = model.shape(shape["value"]["shape"])
        return {k: _encode_value(model, vshape, v) for k, v in value.items()}
    if kind == "blob":
        return base64.b64encode(value).decode()
    if kind == "timestamp":
        if isinstance(value, int | float):
            return value
        fmt = shape.get("timestampFormat", "unixTimestamp")
        if fmt == "iso8601":
            return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return value.timestamp()
    return value


# ---------------------------------------------------------------------------------- errors


def serialize_error(model: ServiceModel, error: AwsError) -> HttpResponse:
    """AWS's error shape: ``x-amzn-ErrorType`` plus a JSON body with the model's members."""
    shape_name = model.errors.get(error.code)
    shape = model.shapes.get(shape_name) if shape_name else None
    status = error.status or 400
    body: dict[str, Any] = {}
    headers = [("x-amzn-ErrorType", error.code), ("Content-Type", "application/json")]
    if shape is not None:
        status = error.status or shape.get("error", {}).get("httpStatusCode", 400)
        for name, member in shape.get("members", {}).items():
            wire = member.get("locationName", name)
            if name.lower() == "message":
                value: Any = error.message
            elif name == "Type":
                value = "User" if status < 500 else "Service"
            elif name == "ErrorCode":
                value = error.code
            else:
                value = error.fields.get(name)
            if value is None:
                continue
            if member.get("location") == "header":
                headers.append((wire, str(value)))
            else:
                body[wire] = value
    else:
        body = {"message": error.message, **error.fields}
    if "message" not in {k.lower() for k in body}:
        body["message"] = error.message
    return HttpResponse(status, headers, _dumps(body))
