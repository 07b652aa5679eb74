"""Function names, ARNs and qualifiers, as Lambda accepts them.

Wherever Lambda takes a ``FunctionName`` it accepts four spellings of the same thing:

- a name: ``my-function``
- a name with a qualifier: ``my-function:1``, ``my-function:live``, ``my-function:$LATEST``
- a partial ARN: ``123456789012:function:my-function[:qualifier]``
- a full ARN: ``arn:aws:lambda:us-east-1:123456789012:function:my-function[:qualifier]``

:func:`parse` turns any of them into a :class:`FunctionRef`; :func:`merge_qualifier` combines
the qualifier found in the name with one given separately (the ``Qualifier`` parameter),
refusing a conflict with Lambda's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shoal.errors import AwsError, invalid_parameter
from shoal.functions.models import LATEST

# The model's NamespacedFunctionName pattern, anchored, with named groups. ``function:`` is
# optional in the model; a bare ``ACCOUNT:name`` is accepted too.
_REF = re.compile(
    r"^(?:arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:"
    r"(?P<region>[a-z]{2}(?:(?:-gov)|(?:-iso[a-z]?))?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9-_.]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?$"
)
_NAME = re.compile(r"^[a-zA-Z0-9-_]+$")
_VERSION = re.compile(r"^[0-9]+$")
_ALIAS = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9-_]+$")
# Lambda's own limit on a function's name (the ARN may be longer).
MAX_NAME = 64


@dataclass(frozen=True)
class FunctionRef:
    name: str
    qualifier: str | None = None
    region: str | None = None
    account: str | None = None


def parse(name_or_arn: str) -> FunctionRef:
    """Split a name, partial ARN or ARN; raise ValidationException if it is none of them."""
    m = _REF.match(name_or_arn)
    if m is None:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{name_or_arn}' at 'functionName' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
            "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
            status=400,
        )
    return FunctionRef(
        name=m.group("name"),
        qualifier=m.group("qualifier"),
        region=m.group("region"),
        account=m.group("account"),
    )


def merge_qualifier(ref: FunctionRef, qualifier: str | None) -> str | None:
    """The qualifier a request means: from the name, from ``Qualifier``, or both if equal."""
    if qualifier and ref.qualifier and qualifier != ref.qualifier:
        raise invalid_parameter(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return qualifier or ref.qualifier


def check_location(ref: FunctionRef, region: str, account: str) -> None:
    """Refuse an ARN from another region or account, as a single-region Lambda does."""
    if ref.region and ref.region != region:
        raise AwsError(
            "ResourceNotFoundException",
            f"Functions from '{ref.region}' are not reachable in this region ('{region}')",
        )
    if ref.account and ref.account != account:
        raise AwsError(
            "AccessDeniedException",
            f"User: arn:aws:iam::{account}:root is not authorized to perform this action on "
            f"resource: {function_arn(region, ref.account, ref.name)}",
            status=403,
        )


def check_new_name(name: str) -> None:
    """A name that CreateFunction may give a function (ARNs are parsed before this)."""
    if len(name) > MAX_NAME:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_NAME}",
            status=400,
        )
    if not _NAME.match(name):
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+",
            status=400,
        )


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def is_unqualified(name_or_arn: str) -> bool:
    """Whether a well-formed reference names no qualifier (cheap: no regex, for the invoke
    path): a name, ``ACCOUNT:function:NAME`` or a full unqualified ARN."""
    colons = name_or_arn.count(":")
    if name_or_arn.startswith("arn:"):
        return colons == 6
    return colons == 0 or (colons == 2 and ":function:" in name_or_arn)


def in_default_region(key: str, region: str, account: str) -> str:
    """A function key saved before regions (a bare name, maybe ``name:qualifier``) as the
    ARN of the default region's function, where it was made; an ARN as it is."""
    if key.startswith("arn:"):
        return key
    name, _, qualifier = key.partition(":")
    return function_arn(region, account, name, qualifier or None)


def is_version(qualifier: str) -> bool:
    """``$LATEST`` or a published version number."""
    return qualifier == LATEST or _VERSION.match(qualifier) is not None


def is_alias_name(qualifier: str) -> bool:
    return _ALIAS.match(qualifier) is not None
