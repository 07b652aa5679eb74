"""The generic rest-json codec: request -> typed input, output -> response, error -> response.

Driven entirely by the service model (see DESIGN.md, "The wire layer is driven by the service
models"). Handlers see and return plain data keyed by the model's member names (``FunctionName``,
``Payload``); the codec maps them to and from their wire locations (uri, querystring, header,
statusCode, payload, JSON body with ``locationName`` keys), converts scalar types, checks
required members, enums, ranges, lengths and patterns, and words validation failures as AWS does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Any

from shoal.api.model import Operation, ServiceModel, Shape, group_name
from shoal.errors import AwsError


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


# ---------------------------------------------------------------------------------- input


@dataclass(frozen=True)
class _Member:
    """One member of an input or output structure, with its wire facts worked out once."""

    name: str
    location: str | None  # "uri", "querystring", "header", "headers", "statusCode" or None
    wire: str  # locationName (headers: as sent, see ``key``)
    key: str  # what to look up: the URI group name, lower-cased header (prefix), query key
    target: Shape
    kind: str  # the target shape's type
    is_payload: bool
    path: str  # how validation messages name it (camelCase)


def _members(model: ServiceModel, shape_name: str) -> tuple[_Member, ...]:
    """The members of a structure shape, compiled once per model (the hot path parses and
    serialises the same few shapes again and again)."""
    cache = model.codec_cache
    found: tuple[_Member, ...] | None = cache.get(shape_name)
    if found is None:
        shape = model.shape(shape_name)
        payload_name = shape.get("payload")
        members = []
        for name, member in shape.get("members", {}).items():
            location = member.get("location")
            wire = member.get("locationName", name)
            if location == "uri":
                key = group_name(wire)
            elif location in ("header", "headers"):
                key = wire.lower()
            else:
                key = wire
            target = model.shape(member["shape"])
            members.append(
                _Member(
                    name,
                    location,
                    wire,
                    key,
                    target,
                    target["type"],
                    name == payload_name,
                    _camel(name),
                )
            )
        found = cache[shape_name] = tuple(members)
    return found


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
    members = _members(model, op.input)
    for m in members:
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


def validate_input(model: ServiceModel, shape_name: str, params: Mapping[str, Any]) -> None:
    """Check decoded input (member names as in the model) against the model's constraints:
    ``ValidationException`` worded as AWS words it. Every wire protocol's codec calls it."""
    errors: list[str] = []
    # _validate_structure's checks, with the members' facts from the compiled form.
    for name in model.shape(shape_name).get("required", ()):
        if params.get(name) is None:
            errors.append(
                f"Value null at '{_camel(name)}' failed to satisfy constraint: "
                "Member must not be null"
            )
    for m in _members(model, shape_name):
        if m.name in params:
            _validate(model, m.target, params[m.name], m.path, errors)
    if errors:
        count = len(errors)
        noun = "error" if count == 1 else "errors"
        raise AwsError(
            "ValidationException",
            f"{count} validation {noun} detected: " + "; ".join(errors),
            status=400,
        )


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


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # a Java-only construct: the service validates what matters itself


def _matches(pattern: str, value: str) -> bool:
    """Whether ``value`` satisfies the model's ``pattern``. Short values are memoised: the same
    function names and qualifiers come with every invoke, and some patterns are long; long
    values (policies, documents) are matched each time, so the memo stays small."""
    if len(value) <= _MEMO_MAX_LEN:
        return _matches_memo(pattern, value)
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


_MEMO_MAX_LEN = 256


@lru_cache(maxsize=8192)
def _matches_memo(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


def _validate_structure(
    model: ServiceModel, shape: Shape, value: dict[str, Any], path: str, errors: list[str]
) -> None:
    for name in shape.get("required", ()):
        if value.get(name) is None:
            errors.append(
                f"Value null at '{path}{_camel(name)}' failed to satisfy constraint: "
                "Member must not be null"
            )
    for name, member in shape.get("members", {}).items():
        if name in value:
            _validate(model, model.shape(member["shape"]), value[name], path + _camel(name), errors)


def _validate(model: ServiceModel, shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    kind = shape["type"]

    def fail(constraint: str) -> None:
        shown = value if not isinstance(value, bytes) else "<binary>"
        if shape.get("sensitive"):
            shown = "[sensitive]"
        errors.append(f"Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}")

    if kind == "structure":
        _validate_structure(model, shape, value, path + ".", errors)
        return
    if kind in ("integer", "long", "double", "float"):
        if "min" in shape and value < shape["min"]:
            fail(f"Member must have value greater than or equal to {shape['min']}")
        if "max" in shape and value > shape["max"]:
            fail(f"Member must have value less than or equal to {shape['max']}")
        return
    if kind in ("string", "blob", "list", "map"):
        size = len(value)
        if "min" in shape and size < shape["min"]:
            fail(f"Member must have length greater than or equal to {shape['min']}")
        if "max" in shape and size > shape["max"]:
            fail(f"Member must have length less than or equal to {shape['max']}")
    if kind == "string":
        if "enum" in shape and value not in shape["enum"]:
            fail(f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]")
        elif "pattern" in shape and not _matches(shape["pattern"], value):
            fail(f"Member must satisfy regular expression pattern: {shape['pattern']}")
    elif kind == "list":
        item = model.shape(shape["member"]["shape"])
        if item["type"] in ("structure", "list", "map"):
            for v in value:
                _validate(model, item, v, path + ".member", errors)
        else:
            _validate_scalar_list(model, item, value, path, errors)
    elif kind == "map":
        kshape = model.shape(shape["key"]["shape"])
        vshape = model.shape(shape["value"]["shape"])
        for k, v in value.items():
            _validate(model, kshape, k, path + ".key", errors)
            _validate(model, vshape, v, path + ".value", errors)


def _validate_scalar_list(
    model: ServiceModel, item: Shape, value: list[Any], path: str, errors: list[str]
) -> None:
    """AWS words a bad member of a list of scalars as one error on the whole list, naming
    every constraint of the member shape: ``Value '[a, b]' at 'architectures' failed to
    satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set:
    [x86_64, arm64], Member must not be null]``."""
    found: list[str] = []
    for v in value:
        _validate(model, item, v, path, found)
    if not found:
        return
    constraints = []
    measure = "value" if item["type"] in ("integer", "long", "double", "float") else "length"
    if "max" in item:
        constraints.append(f"Member must have {measure} less than or equal to {item['max']}")
    if "min" in item:
        constraints.append(f"Member must have {measure} greater than or equal to {item['min']}")
    if "enum" in item:
        constraints.append(f"Member must satisfy enum value set: [{', '.join(item['enum'])}]")
    elif "pattern" in item:
        constraints.append(f"Member must satisfy regular expression pattern: {item['pattern']}")
    constraints.append("Member must not be null")
    shown = "[sensitive]" if item.get("sensitive") else f"[{', '.join(map(str, value))}]"
    errors.append(
        f"Value '{shown}' at '{path}' failed to satisfy constraint: Member must satisfy "
        f"constraint: [{', '.join(constraints)}]"
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
    payload: _Member | None = None
    for m in _members(model, op.output):
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
