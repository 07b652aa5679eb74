"""IAM's condition operators, as the IAM User Guide's "Condition operators" page defines them.

A condition is ``operator: {key: [values]}``: the values of one key are ORed, the keys of one
operator and the operators of one statement are ANDed. A negated operator (``StringNotEquals``)
holds when the request's value matches none of the values. A key the request lacks satisfies
only the ``…IfExists`` forms, the negated operators and ``Null: true``; under
``ForAllValues:`` an absent (or empty) multivalued key holds, under ``ForAnyValue:`` it does
not. Values containing policy variables (``${aws:username}``) are resolved per request.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shoal.policy.patterns import substitute, wildcard

Match = Callable[[str, str], bool]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    """A date as IAM accepts one: ISO 8601 (``2026-12-03T10:00:00Z``, a date alone) or epoch
    seconds."""
    number = _number(text)
    if number is not None:
        return number
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _compare(parse: Callable[[str], float | None], test: Callable[[float, float], bool]) -> Match:
    def match(actual: str, wanted: str) -> bool:
        a, w = parse(actual), parse(wanted)
        return a is not None and w is not None and test(a, w)

    return match


def _like(actual: str, wanted: str) -> bool:
    return wildcard(wanted).fullmatch(actual) is not None


def _arn_like(actual: str, wanted: str) -> bool:
    """Each of the six colon-separated parts matched on its own, wildcards within a part."""
    a, w = actual.split(":", 5), wanted.split(":", 5)
    return len(a) == len(w) == 6 and all(_like(x, y) for x, y in zip(a, w, strict=True))


def _ip(actual: str, wanted: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        return False


def _binary(actual: str, wanted: str) -> bool:
    try:
        return base64.b64decode(actual, validate=True) == base64.b64decode(wanted, validate=True)
    except (binascii.Error, ValueError):
        return False


def _bool(actual: str, wanted: str) -> bool:
    return actual.lower() == wanted.lower()


# Each operator's positive test; a "Not" operator is the negation of its positive twin.
_POSITIVE: dict[str, Match] = {
    "StringEquals": lambda a, w: a == w,
    "StringEqualsIgnoreCase": lambda a, w: a.lower() == w.lower(),
    "StringLike": _like,
    "NumericEquals": _compare(_number, lambda a, w: a == w),
    "NumericLessThan": _compare(_number, lambda a, w: a < w),
    "NumericLessThanEquals": _compare(_number, lambda a, w: a <= w),
    "NumericGreaterThan": _compare(_number, lambda a, w: a > w),
    "NumericGreaterThanEquals": _compare(_number, lambda a, w: a >= w),
    "DateEquals": _compare(_date, lambda a, w: a == w),
    "DateLessThan": _compare(_date, lambda a, w: a < w),
    "DateLessThanEquals": _compare(_date, lambda a, w: a <= w),
    "DateGreaterThan": _compare(_date, lambda a, w: a > w),
    "DateGreaterThanEquals": _compare(_date, lambda a, w: a >= w),
    "Bool": _bool,
    "BinaryEquals": _binary,
    "IpAddress": _ip,
    "ArnEquals": _arn_like,  # IAM matches ArnEquals with wildcards too
    "ArnLike": _arn_like,
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
OPERATORS = frozenset(_POSITIVE) | frozenset(_NEGATED) | {"Null"}


@dataclass(frozen=True)
class Condition:
    operator: str  # without IfExists and without the set qualifier
    qualifier: str | None  # "ForAllValues", "ForAnyValue" or None
    if_exists: bool
    key: str  # lower case: condition keys are case-insensitive
    values: tuple[str, ...]
    templated: bool = False  # whether values hold policy variables

    def holds(self, context: Mapping[str, Any]) -> bool:
        actual = context.get(self.key)
        if isinstance(actual, str) and self.qualifier is None and not self.templated \
                and self.operator != "Null":  # fmt: skip
            # The common case, one value of a single-valued key: one test per wanted value.
            negated = self.operator in _NEGATED
            test = _POSITIVE[_NEGATED.get(self.operator, self.operator)]
            hit = any(test(actual, w) for w in self.values)
            return not hit if negated else hit
        actuals: list[str] = (
            [] if actual is None else [str(v) for v in actual] if isinstance(actual, list)
            else [str(actual)]
        )  # fmt: skip
        if self.operator == "Null":
            absent = not actuals
            return any((v.lower() == "true") == absent for v in self.values)
        negated = self.operator in _NEGATED
        if not actuals:
            if self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return self.if_exists or negated
        wanted = self._values(context)
        test = _POSITIVE[_NEGATED.get(self.operator, self.operator)]

        def one(value: str) -> bool:
            hit = any(test(value, w) for w in wanted)
            return not hit if negated else hit

        if self.qualifier == "ForAllValues":
            return all(one(v) for v in actuals)
        if self.qualifier == "ForAnyValue":
            return any(one(v) for v in actuals)
        if negated:  # a single-valued test of a multivalued key: none may match
            return all(one(v) for v in actuals)
        return any(one(v) for v in actuals)

    def _values(self, context: Mapping[str, Any]) -> list[str]:
        if not self.templated:
            return list(self.values)
        resolved = (substitute(v, context) for v in self.values)
        return [v for v in resolved if v is not None]
