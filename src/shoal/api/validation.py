"""The model's constraints checked on decoded input, as AWS words the failures.

Every wire protocol's codec calls :func:`validate_input` once the request is decoded: required
members, enums, ranges, lengths and patterns, reported together as one
``ValidationException`` ("2 validation errors detected: Value … at 'timeout' failed to
satisfy constraint: …").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from shoal.api.members import camel, members
from shoal.api.model import ServiceModel, Shape
from shoal.errors import AwsError


def validate_input(model: ServiceModel, shape_name: str, params: Mapping[str, Any]) -> None:
    """Check decoded input (member names as in the model) against the model's constraints:
    ``ValidationException`` worded as AWS words it. Every wire protocol's codec calls it."""
    errors: list[str] = []
    # _validate_structure's checks, with the members' facts from the compiled form.
    for name in model.shape(shape_name).get("required", ()):
        if params.get(name) is None:
            errors.append(
                f"Value null at '{camel(name)}' failed to satisfy constraint: "
                "Member must not be null"
            )
    for m in members(model, shape_name):
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
                f"Value null at '{path}{camel(name)}' failed to satisfy constraint: "
                "Member must not be null"
            )
    for name, member in shape.get("members", {}).items():
        if name in value:
            _validate(model, model.shape(member["shape"]), value[name], path + camel(name), errors)


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
