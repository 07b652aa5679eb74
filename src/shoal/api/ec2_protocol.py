"""The ``ec2`` wire protocol, driven by the service model: form → input, output → XML, errors.

The server-side inverse of botocore's ``EC2Serializer`` and ``EC2QueryParser``, one walk over
the model's shapes each way, as :mod:`shoal.api.codec` is for rest-json:

- a request is ``Action=…&Version=…`` plus the input members, form-encoded (POST body, or the
  query string of a GET). A member's key is its ``queryName``, else its ``locationName`` with
  the first letter upper-cased, else its name; a structure's members follow ``Key.``; a list's
  items are ``Key.1``, ``Key.2``… (EC2 lists are always flat on input, whatever the member's
  ``locationName``). Booleans are ``true``/``false``, timestamps ISO 8601, blobs base64.
- a response is ``<ActionResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`` with
  ``<requestId>`` first, then each member under its ``locationName``; a list's items are
  ``<item>`` (the member's ``locationName``) inside the list's element. An operation with no
  output answers ``<return>true</return>``, as EC2 does.
- an error is ``<Response><Errors><Error><Code>…</Code><Message>…</Message></Error></Errors>
  <RequestID>…</RequestID></Response>``, 400 unless the error says otherwise.

Input errors are EC2's: a missing required member is ``MissingParameter``, a key the input shape
does not have is ``UnknownParameter``, a value of the wrong type ``InvalidParameterValue``.
Written by hand because no library serves EC2's protocol server-side (botocore has only the
client half); the XML is built as text, with every value escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from shoal.api.codec import HttpResponse
from shoal.api.model import ServiceModel, Shape
from shoal.errors import AwsError

XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
# Keys every request carries that are not input members (SigV4 presigning adds X-Amz-*).
ENVELOPE = frozenset({"Action", "Version"})
# No input shape nests deeper than a few levels (Filter.1.Value.2 is four); a key beyond these
# bounds is not a member of anything, and indexing its prefixes would cost its length squared.
MAX_KEY_PARTS = 12
MAX_KEY_LENGTH = 512


# ---------------------------------------------------------------------------------- input


def _wire_name(member: Shape, name: str) -> str:
    if "queryName" in member:
        return str(member["queryName"])
    location = member.get("locationName")
    if location:
        return str(location[0].upper() + location[1:])
    return name


class Form:
    """The request's keys, with every dotted prefix indexed (``Filter.1.Value.2`` gives
    ``Filter``, ``Filter.1``, ``Filter.1.Value``), so a walk asks "is anything under this
    key?" in one look-up, and the keys it used, so what it did not use can be refused."""

    def __init__(self, form: Mapping[str, str]) -> None:
        self.values = form
        self.prefixes: set[str] = set()
        for key in form:
            if len(key) > MAX_KEY_LENGTH or key.count(".") >= MAX_KEY_PARTS:
                raise AwsError("UnknownParameter", f"The parameter {key[:64]} is not recognized")
            parts = key.split(".")
            for i in range(1, len(parts)):
                self.prefixes.add(".".join(parts[:i]))
        self.used: set[str] = set()

    def has(self, key: str) -> bool:
        return key in self.values or key in self.prefixes

    def take(self, key: str) -> str:
        self.used.add(key)
        return self.values[key]


def parse_input(model: ServiceModel, input_shape: str | None, form: Mapping[str, str]
                ) -> dict[str, Any]:  # fmt: skip
    """Decode a form into the operation's input members (model names), checking required
    members and refusing keys the shape does not have."""
    wrapped = Form(form)
    params: dict[str, Any] = {}
    if input_shape is not None:
        params = _structure(model, model.shape(input_shape), wrapped, "")
    unknown = sorted(
        k
        for k in form
        if k not in wrapped.used and k not in ENVELOPE and not k.startswith("X-Amz-")
    )
    if unknown:
        raise AwsError(
            "UnknownParameter", f"The parameter {unknown[0].split('.')[0]} is not recognized"
        )
    return params


def _structure(model: ServiceModel, shape: Shape, form: Form, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, member in shape.get("members", {}).items():
        key = prefix + _wire_name(member, name)
        if form.has(key):
            out[name] = _value(model, model.shape(member["shape"]), form, key)
    for name in shape.get("required", ()):
        if name not in out:
            wire = _wire_name(shape["members"][name], name)
            raise AwsError("MissingParameter", f"The request must contain the parameter {wire}")
    return out


def _value(model: ServiceModel, shape: Shape, form: Form, key: str) -> Any:
    kind = shape["type"]
    if kind == "structure":
        return _structure(model, shape, form, key + ".")
    if kind == "list":
        item = model.shape(shape["member"]["shape"])
        items = []
        i = 1
        while form.has(f"{key}.{i}"):
            items.append(_value(model, item, form, f"{key}.{i}"))
            i += 1
        if key in form.values:  # "Key=" alone: an empty list, as botocore sends one
            form.take(key)
        return items
    if kind == "map":
        entries = {}
        i = 1
        while form.has(f"{key}.{i}.key"):
            k = form.take(f"{key}.{i}.key")
            v = model.shape(shape["value"]["shape"])
            entries[k] = _value(model, v, form, f"{key}.{i}.value")
            i += 1
        return entries
    if key not in form.values:
        raise AwsError("InvalidParameterValue", f"Invalid value for parameter {key}")
    return scalar(kind, form.take(key), key)


def scalar(kind: str, raw: str, key: str) -> Any:
    try:
        if kind in ("integer", "long"):
            return int(raw)
        if kind in ("double", "float"):
            return float(raw)
        if kind == "boolean":
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            return raw.lower() == "true"
        if kind == "timestamp":
            return dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if kind == "blob":
            return base64.b64decode(raw, validate=True)
    except ValueError:
        raise AwsError(
            "InvalidParameterValue", f"Value ({raw}) for parameter {key} is invalid."
        ) from None
    return raw


# ---------------------------------------------------------------------------------- output


def serialize_output(
    model: ServiceModel, operation: str, output_shape: str | None,
    result: Mapping[str, Any] | None, request_id: str,
) -> HttpResponse:  # fmt: skip
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{operation}Response xmlns="{XMLNS}">']
    parts.append(f"<requestId>{request_id}</requestId>")
    if output_shape is None:
        parts.append("<return>true</return>")
    else:
        members(model, model.shape(output_shape), result or {}, parts)
    parts.append(f"</{operation}Response>")
    return xml_response(200, "".join(parts))


def members(model: ServiceModel, shape: Shape, value: Mapping[str, Any], out: list[str]) -> None:
    for name, member in shape.get("members", {}).items():
        v = value.get(name)
        if v is not None:
            _element(model, model.shape(member["shape"]), member.get("locationName", name), v, out)


def _element(model: ServiceModel, shape: Shape, tag: str, value: Any, out: list[str]) -> None:
    kind = shape["type"]
    out.append(f"<{tag}>")
    if kind == "structure":
        members(model, shape, value, out)
    elif kind == "list":
        item_shape = model.shape(shape["member"]["shape"])
        item_tag = shape["member"].get("locationName", "member")
        for item in value:
            _element(model, item_shape, item_tag, item, out)
    elif kind == "map":
        vshape = model.shape(shape["value"]["shape"])
        for k, v in value.items():
            out.append(f"<entry><key>{escape(str(k))}</key>")
            _element(model, vshape, "value", v, out)
            out.append("</entry>")
    else:
        out.append(escape(_text(kind, value)))
    out.append(f"</{tag}>")


def _text(kind: str, value: Any) -> str:
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        if isinstance(value, int | float):
            value = dt.datetime.fromtimestamp(value, dt.UTC)
        return str(value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    if kind == "blob":
        return base64.b64encode(value).decode()
    return str(value)


# ---------------------------------------------------------------------------------- errors


def serialize_error(error: AwsError, request_id: str, model: ServiceModel | None = None
                    ) -> HttpResponse:  # fmt: skip
    """``model`` is unused: EC2 errors carry their own status (the query protocol needs it)."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
    )
    return xml_response(error.status or 400, body)


def xml_response(status: int, body: str) -> HttpResponse:
    """The answer; ``shoal.api.asgi`` adds ``x-amzn-RequestId``, the id in its body."""
    return HttpResponse(status, [("Content-Type", "text/xml;charset=UTF-8")], body.encode())
