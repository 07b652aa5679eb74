"""The ``query`` wire protocol (IAM, STS), driven by the service model: form → input, output →
XML, errors.

The server-side inverse of botocore's ``QuerySerializer`` and ``QueryParser``; the sibling of
:mod:`shoal.api.ec2_protocol`, whose form index, scalar decoding and XML member walk it shares.
What differs from EC2:

- a member's key is its ``locationName``, else its name (no upper-casing, no ``queryName``);
  a list's items are ``Key.member.1``… (``Key.1``… when the list is ``flattened``; the item's
  ``locationName`` replaces ``member``), a map's entries ``Key.entry.N.key`` / ``.value``.
- a response is ``<OpResponse xmlns=…><OpResult>…</OpResult><ResponseMetadata><RequestId>…
  </RequestId></ResponseMetadata></OpResponse>``, the wrapper named by the operation's
  ``resultWrapper`` and the namespace by the model's ``xmlNamespace``; list items ``<member>``.
- an error is ``<ErrorResponse xmlns=…><Error><Type>Sender</Type><Code>…</Code><Message>…
  </Message></Error><RequestId>…</RequestId></ErrorResponse>``, with the status of the model's
  error shape for that code (``NoSuchEntity`` 404, ``EntityAlreadyExists`` 409…).

Input is checked against the model's constraints (required, ``min``/``max``, ``pattern``,
``enum``) and refused with AWS's own ``ValidationError`` wording ("1 validation error detected:
Value 'x' at 'userName' failed to satisfy constraint: …"). Keys the input does not have are
ignored, as IAM and STS ignore them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from shoal.api.codec import HttpResponse
from shoal.api.ec2_protocol import Form, members, scalar, xml_response
from shoal.api.model import ServiceModel, Shape
from shoal.errors import AwsError

# ---------------------------------------------------------------------------------- input


def parse_input(model: ServiceModel, input_shape: str | None, form: Mapping[str, str]
                ) -> dict[str, Any]:  # fmt: skip
    """Decode a form into the operation's input members (model names), validated."""
    if input_shape is None:
        return {}
    return _structure(model, model.shape(input_shape), Form(form), "")


def _structure(model: ServiceModel, shape: Shape, form: Form, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, member in shape.get("members", {}).items():
        key = prefix + member.get("locationName", name)
        if form.has(key):
            out[name] = _value(model, model.shape(member["shape"]), form, key, name)
    for name in shape.get("required", ()):
        if name not in out:
            raise _invalid(None, name, "Member must not be null")
    return out


def _value(model: ServiceModel, shape: Shape, form: Form, key: str, name: str) -> Any:
    kind = shape["type"]
    if kind == "structure":
        return _structure(model, shape, form, key + ".")
    if kind == "list":
        member = shape["member"]
        base = key if shape.get("flattened") else f"{key}.{member.get('locationName', 'member')}"
        items = []
        i = 1
        while form.has(f"{base}.{i}"):
            items.append(_value(model, model.shape(member["shape"]), form, f"{base}.{i}", name))
            i += 1
        _check_length(shape, items, name)
        return items
    if kind == "map":
        base = key if shape.get("flattened") else f"{key}.entry"
        entries = {}
        i = 1
        while form.has(f"{base}.{i}.key"):
            vshape = model.shape(shape["value"]["shape"])
            entries[form.take(f"{base}.{i}.key")] = _value(
                model, vshape, form, f"{base}.{i}.value", name
            )
            i += 1
        return entries
    if key not in form.values:
        raise _invalid(None, name, "Member must not be null")
    raw = form.take(key)
    try:
        value = scalar(kind, raw, key)
    except AwsError:
        raise _invalid(raw, name, f"Member must be of type {kind}") from None
    _check(shape, value, name)
    return value


def _check(shape: Shape, value: Any, name: str) -> None:
    if isinstance(value, str):
        _check_length(shape, value, name)
        pattern = shape.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and compiled.fullmatch(value) is None:
            raise _invalid(
                value, name, f"Member must satisfy regular expression pattern: {pattern}"
            )
        if "enum" in shape and value not in shape["enum"]:
            raise _invalid(value, name, f"Member must satisfy enum value set: {shape['enum']}")
    elif isinstance(value, int) and not isinstance(value, bool):
        if "min" in shape and value < shape["min"]:
            raise _invalid(
                value, name, f"Member must have value greater than or equal to {shape['min']}"
            )
        if "max" in shape and value > shape["max"]:
            raise _invalid(
                value, name, f"Member must have value less than or equal to {shape['max']}"
            )


def _check_length(shape: Shape, value: str | list[Any], name: str) -> None:
    shown = value if isinstance(value, str) else None
    if "min" in shape and len(value) < shape["min"]:
        raise _invalid(
            shown, name, f"Member must have length greater than or equal to {shape['min']}"
        )
    if "max" in shape and len(value) > shape["max"]:
        raise _invalid(shown, name, f"Member must have length less than or equal to {shape['max']}")


@cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    """The model's pattern, or None for one Python's ``re`` cannot read (``\\p{L}``, the Java
    Unicode classes of tag keys): that constraint is then not checked."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _invalid(value: Any, name: str, constraint: str) -> AwsError:
    """AWS's wording: the member is named lower-camel (``userName``), the value quoted."""
    shown = "null" if value is None else f"'{value}'"
    member = name[:1].lower() + name[1:]
    return AwsError(
        "ValidationError",
        f"1 validation error detected: Value {shown} at '{member}' failed to satisfy "
        f"constraint: {constraint}",
        400,
    )


# ---------------------------------------------------------------------------------- output


def serialize_output(
    model: ServiceModel, operation: str, output_shape: str | None,
    result: Mapping[str, Any] | None, request_id: str,
) -> HttpResponse:  # fmt: skip
    xmlns = model.metadata.get("xmlNamespace", "")
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{operation}Response xmlns="{xmlns}">']
    wrapper = model.result_wrappers.get(operation)
    if output_shape is not None and wrapper is not None:
        parts.append(f"<{wrapper}>")
        members(model, model.shape(output_shape), result or {}, parts)
        parts.append(f"</{wrapper}>")
    parts.append(
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    )
    return xml_response(200, "".join(parts))


# ---------------------------------------------------------------------------------- errors


def serialize_error(error: AwsError, request_id: str, model: ServiceModel | None = None
                    ) -> HttpResponse:  # fmt: skip
    """The error, with the status of the model's error shape for its code (else the
    error's own, else 400) and ``Type`` Receiver for a server fault."""
    status = error.status
    xmlns = ""
    if model is not None:
        xmlns = model.metadata.get("xmlNamespace", "")
        shape_name = model.errors.get(error.code)
        if status is None and shape_name is not None:
            status = model.shape(shape_name).get("error", {}).get("httpStatusCode")
    status = status or 400
    fault = "Receiver" if status >= 500 else "Sender"
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="{xmlns}"><Error>'
        f"<Type>{fault}</Type><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return xml_response(status, body)
