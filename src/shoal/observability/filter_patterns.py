"""CloudWatch Logs filter patterns, as FilterLogEvents, metric filters and subscription filters
read them: ``compile(pattern).match(message)``.

The three forms of the User Guide ("Filter pattern syntax for metric filters, subscription
filters, filter log events, and Live Tail"):

- unstructured: terms, case-sensitive (``ERROR``), quoted phrases (``"INTERNAL SERVER ERROR"``),
  all of them required; ``-term`` excludes; ``?term ?term`` is an OR (each ``?`` begins an
  alternative and the plain terms after it belong to it, as the CDK's ``anyTermGroup`` writes
  ``?"ERROR" "MainThread" ?"WARN" "Deadlock"``); ``%regex%`` in the documented subset; an empty
  pattern (or ``" "``) matches everything. A term matches anywhere in the message (a substring).
- JSON, ``{ $.a.b[0] = "x*" && $.n > 1 }``: see ``json_patterns``;
- space-delimited, ``[ip, user, ..., status = 4*, bytes]``: see ``space_patterns``.

Hand-written because no library implements this syntax (it is CloudWatch's own, neither JSONPath
nor a regex dialect). Each pattern is compiled once (and cached) into closures: a single term is
one ``in`` test, so FilterLogEvents can run it over a million events (bench/filter_pattern_bench.py
measures each kind), and nothing in a pattern can make a match backtrack without bound: regexes
with quantifiers run on RE2, wildcards on ``str.find``, message fields on atomic regex groups,
and a search over several ``...`` on a step budget (``pattern_values`` has the limits on a
pattern's length and nesting). Bad syntax raises
``ValueError`` whose text is what AWS puts in its ``InvalidParameterException`` ("Invalid filter
pattern", "If a filter pattern starts with '{' it must end with '}'", "Invalid character(s) in
term ...").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from shoal.observability.json_patterns import compile_json
from shoal.observability.pattern_values import (
    MAX_PATTERN_LENGTH,
    MAX_REGEXES,
    compile_regex,
    invalid,
)
from shoal.observability.space_patterns import compile_space

__all__ = ["Matcher", "compile"]

# Unquoted terms: alphanumerics and a few joiners; anything else must be quoted ("Enclose exact
# phrases and terms that include non-alphanumeric characters in double quotation marks").
_BARE_TERM = re.compile(r"[A-Za-z0-9_.:\-]+")


class Matcher:
    """A compiled filter pattern. ``match`` is the compiled test itself (an attribute, not a
    method, so a FilterLogEvents scan pays no extra call per event)."""

    __slots__ = ("pattern", "match")

    def __init__(self, pattern: str, test: Callable[[str], bool]) -> None:
        self.pattern = pattern
        self.match: Callable[[str], bool] = test

    def __repr__(self) -> str:
        return f"Matcher({self.pattern!r})"


@functools.lru_cache(maxsize=256)
def compile(pattern: str) -> Matcher:  # noqa: A001 - the name the callers use, like re.compile
    """The matcher of ``pattern``; ``ValueError`` (an AWS message) if it is not a valid one."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise invalid(f"a filter pattern is at most {MAX_PATTERN_LENGTH} characters")
    stripped = pattern.strip()
    if stripped.startswith("{"):
        return Matcher(pattern, compile_json(stripped))
    if stripped.startswith("["):
        return Matcher(pattern, compile_space(stripped))
    return Matcher(pattern, _compile_terms(stripped))


def _always(message: str) -> bool:
    return True


@dataclass
class _Alternative:
    """Terms that must all be present, terms that must all be absent, regexes that must match."""

    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    regexes: list[Callable[[str], bool]] = field(default_factory=list)
    regexes_absent: list[Callable[[str], bool]] = field(default_factory=list)
    everything: bool = False


def _compile_terms(pattern: str) -> Callable[[str], bool]:
    if not pattern:
        return _always
    alternatives: list[_Alternative] = []
    current: _Alternative | None = None
    regexes = 0
    for prefix, term, kind in _terms(pattern):
        if prefix == "?" or current is None:
            current = _Alternative()
            alternatives.append(current)
        if kind == "regex":
            regexes += 1
            if regexes > MAX_REGEXES:
                raise invalid(f"a filter pattern may contain at most {MAX_REGEXES} regex")
            compiled = compile_regex(term)
            (current.regexes_absent if prefix == "-" else current.regexes).append(compiled)
        elif kind == "quoted" and not term.strip():
            current.everything = prefix != "-"  # the guide: " " matches everything
        else:
            (current.exclude if prefix == "-" else current.include).append(term)
    tests = [_alternative(alternative) for alternative in alternatives]
    if len(tests) == 1:
        return tests[0]
    return lambda message: any(test(message) for test in tests)


def _alternative(alt: _Alternative) -> Callable[[str], bool]:
    include, exclude = tuple(alt.include), tuple(alt.exclude)
    if alt.everything and not (include or exclude or alt.regexes or alt.regexes_absent):
        return _always
    if not exclude and not alt.regexes and not alt.regexes_absent:
        # The common cases, each a bare ``in``: no generator, no loop.
        if len(include) == 1:
            (only,) = include
            return lambda message: only in message
        if len(include) == 2:
            first, second = include
            return lambda message: first in message and second in message
        return lambda message: all(term in message for term in include)
    searches = tuple(alt.regexes)
    vetoes = tuple(alt.regexes_absent)

    def test(message: str) -> bool:
        for term in include:
            if term not in message:
                return False
        for term in exclude:
            if term in message:
                return False
        for search in searches:
            if not search(message):
                return False
        return not any(veto(message) for veto in vetoes)

    return test


def _terms(pattern: str) -> list[tuple[str, str, str]]:
    """(prefix ``?``/``-``/``""``, term, kind ``bare``/``quoted``/``regex``) for each term."""
    out: list[tuple[str, str, str]] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i].isspace():
            i += 1
            continue
        prefix = ""
        if pattern[i] in "?-":
            prefix, i = pattern[i], i + 1
            if i >= n or pattern[i].isspace():
                raise invalid(f"Invalid character(s) in term '{prefix}'")
        if pattern[i] == '"':
            term, i = _quoted(pattern, i)
            if term == "":
                raise invalid("Invalid character(s) in term '\"\"'")
            out.append((prefix, term, "quoted"))
        elif pattern[i] == "%":
            end = pattern.find("%", i + 1)
            if end < 0:
                raise invalid()
            out.append((prefix, pattern[i + 1 : end], "regex"))
            i = end + 1
        else:
            j = i
            while j < n and not pattern[j].isspace():
                j += 1
            term = pattern[i:j]
            if not _BARE_TERM.fullmatch(term):
                raise invalid(f"Invalid character(s) in term '{term}'")
            out.append((prefix, term, "bare"))
            i = j
    return out


def _quoted(pattern: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    i = start + 1
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            chars.append(pattern[i + 1])
            i += 2
        elif c == '"':
            return "".join(chars), i + 1
        else:
            chars.append(c)
            i += 1
    raise invalid("Unterminated quoted string")
