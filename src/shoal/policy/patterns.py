"""Wildcard patterns and policy variables, shared by resources, actions and conditions.

IAM's wildcards are ``*`` (any run of characters) and ``?`` (one); nothing else is special, so
``fnmatch`` (which has ``[...]``) is not used. Policy variables (``${aws:username}``, with
``${key, 'default'}`` and the literals ``${*}``, ``${?}``, ``${$}``) exist only in documents of
Version ``2012-10-17``; a variable naming a key the request lacks makes its element match nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@functools.lru_cache(maxsize=4096)
def wildcard(pattern: str, *, case: bool = True) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one; nothing else is special.
    Cached: condition values (``StringLike``, ``ArnLike``, each ARN part) and resolved policy
    variables are matched per request, and a policy's patterns repeat across its requests."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL if case else re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Patterns:
    """A list of wildcard patterns. Those with policy variables (``${aws:username}``) are kept
    as text and compiled per request; the others are compiled here, once."""

    fixed: tuple[re.Pattern[str], ...]
    templated: tuple[str, ...] = ()
    case: bool = True
    # The fixed patterns as one alternation: one regex match per element, not one per value
    # (an authorization tries every statement's actions and resources; see bench/).
    union: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        union = None
        if self.fixed:
            flags = re.DOTALL if self.case else re.DOTALL | re.IGNORECASE
            union = re.compile("|".join(f"(?:{p.pattern})" for p in self.fixed), flags)
        object.__setattr__(self, "union", union)

    @classmethod
    def of(cls, values: tuple[str, ...], *, case: bool, variables: bool) -> Patterns:
        if not variables:
            return cls(tuple(wildcard(v, case=case) for v in values), (), case)
        plain = tuple(wildcard(v, case=case) for v in values if "${" not in v)
        return cls(plain, tuple(v for v in values if "${" in v), case)

    def match(self, value: str, context: Mapping[str, Any]) -> bool:
        if self.union is not None and self.union.fullmatch(value):
            return True
        for template in self.templated:
            pattern = template_regex(template, context, case=self.case)
            if pattern is not None and pattern.fullmatch(value):
                return True
        return False


_LITERALS = {"*": "*", "?": "?", "$": "$"}


def _parts(template: str, context: Mapping[str, Any]) -> list[tuple[bool, str]] | None:
    """``template`` split into (is_literal_value, text) parts with its policy variables
    resolved from ``context``; None when one names a key the request lacks and gives no
    default: the element then matches nothing, as IAM has it."""
    parts: list[tuple[bool, str]] = []
    at = 0
    for m in _VARIABLE.finditer(template):
        parts.append((False, template[at : m.start()]))
        at = m.end()
        body = m.group(1).strip()
        if body in _LITERALS:  # ${*}, ${?}, ${$}: the character itself
            parts.append((True, _LITERALS[body]))
            continue
        key, _, default = body.partition(",")
        value = context.get(key.strip().lower())
        if isinstance(value, list):
            value = value[0] if len(value) == 1 else None
        if value is None:
            default = default.strip()
            if not (len(default) >= 2 and default[0] == default[-1] == "'"):
                return None
            value = default[1:-1]
        parts.append((True, str(value)))
    parts.append((False, template[at:]))
    return parts


def substitute(template: str, context: Mapping[str, Any]) -> str | None:
    """``template`` with its policy variables replaced (None: a variable is missing)."""
    parts = _parts(template, context)
    return None if parts is None else "".join(text for _, text in parts)


def template_regex(
    template: str, context: Mapping[str, Any], *, case: bool
) -> re.Pattern[str] | None:
    """A wildcard pattern with policy variables, compiled for this request: the variables'
    values match literally, the rest as :func:`wildcard` patterns."""
    parts = _parts(template, context)
    if parts is None:
        return None
    regex = "".join(
        re.escape(text) if literal else wildcard(text, case=case).pattern for literal, text in parts
    )
    return re.compile(regex, re.DOTALL if case else re.DOTALL | re.IGNORECASE)
