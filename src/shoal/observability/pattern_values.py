"""What JSON and space-delimited filter patterns share: the tokens of a condition, the parser of
``&&`` / ``||`` / parentheses over them, ``%regex%`` terms, and the comparison of one value.

A condition compares one value, found by a selector (``$.a.b[0]``) or a field name, to a literal:
a quoted string, a bare word (a number, or text with ``*`` wildcards), or a ``%regex%``. Each is
compiled once into a closure, so matching a million events runs no parser. The limits
(``MAX_NESTING`` parentheses, ``MAX_REGEXES`` regex terms, ``MAX_PATTERN_LENGTH`` characters, the
API's own bound on ``filterPattern``) keep a hostile pattern from costing stack or time; each
breach is a ``ValueError`` that the API layer returns as ``InvalidParameterException``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2

INVALID = "Invalid filter pattern"
MAX_PATTERN_LENGTH = 1024  # FilterLogEvents / PutMetricFilter: filterPattern max length
MAX_NESTING = 32
MAX_REGEXES = 2  # "a limit of 2 regex for each filter pattern" (User Guide, Quotas)

# The User Guide's regex subset: alphanumerics, the symbols _ # = @ / ; , - : and the operators
# ^ $ ? [ ] { } | \ * + . -- no parentheses, no multi-byte characters. And spaces, which the
# guide does not list but the CDK's own example of regexValue uses ("bind: address already in use").
_REGEX_CHARS = re.compile(r"[A-Za-z0-9_#=@/;,\-:^$?\[\]{}|\\*+. ]*")
_SHORT = 1024
_QUANTIFIERS = re.compile(r"(?<!\\)[?*+{]")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")

Test = Callable[[Any], bool]


def invalid(detail: str = "") -> ValueError:
    return ValueError(f"{INVALID}: {detail}" if detail else INVALID)


def compile_regex(body: str) -> Callable[[str], bool]:
    """A test for the regex between ``%...%``, checked against the documented subset first.

    Python's ``re`` backtracks: ``%a*a*x%`` takes seconds on a 3 KB message, and a log event may
    be 256 KB, so RE2 (linear time) answers whenever ``re`` could blow up: for a regex with more
    than one quantifier, or one quantifier and a message longer than ``_SHORT`` (one quantifier
    costs at most quadratic time: under a millisecond at that length). ``re`` answers the rest,
    most log lines, about ten times faster than RE2's Python binding.
    """
    if not body or not _REGEX_CHARS.fullmatch(body):
        raise invalid(f"Invalid character(s) in term '%{body}%'")
    try:
        linear = re2.compile(body).search
        backtracking = re.compile(body, re.ASCII).search
    except (re.error, re2.error) as e:
        raise invalid(f"Invalid regular expression '%{body}%'") from e
    quantifiers = len(_QUANTIFIERS.findall(body.replace("\\\\", "")))
    if quantifiers == 0:
        return lambda value: backtracking(value) is not None
    if quantifiers > 1:
        return lambda value: linear(value) is not None

    def search(value: str) -> bool:
        if len(value) <= _SHORT:
            return backtracking(value) is not None
        return linear(value) is not None

    return search


def number(value: Any) -> float | None:
    """A JSON number, or text that reads as one (space-delimited fields are all text)."""
    kind = type(value)
    if kind is int or kind is float:
        return float(value)
    if kind is str and _NUMBER.fullmatch(value):
        return float(value)
    return None


def text(value: Any) -> str:
    """A scalar as CloudWatch compares it with a string: JSON's spelling of true/false/null."""
    if type(value) is str:
        return value
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Token:
    kind: str  # "(", ")", "&&", "||", "op", "quoted", "regex", "word", "end"
    value: str
    pos: int


_OPS = ("!=", "<=", ">=", "=", "<", ">")


class Tokens:
    """The tokens of a condition, read from ``text[pos:]`` up to a ``stop`` character at depth 0
    (``}`` for JSON; ``,`` or ``]`` for a space-delimited field)."""

    def __init__(self, source: str, pos: int, stops: str, word_breaks: str) -> None:
        self.source, self.pos, self.stops, self.breaks = source, pos, stops, word_breaks
        self.regexes = 0
        self.current = self._next()

    def take(self) -> Token:
        token, self.current = self.current, self._next()
        return token

    def expect(self, kind: str) -> Token:
        if self.current.kind != kind:
            raise invalid()
        return self.take()

    def _next(self) -> Token:
        s, i, n = self.source, self.pos, len(self.source)
        while i < n and s[i].isspace():
            i += 1
        if i >= n or s[i] in self.stops:
            self.pos = i
            return Token("end", "", i)
        c = s[i]
        if c in "()":
            self.pos = i + 1
            return Token(c, c, i)
        if s.startswith(("&&", "||"), i):
            self.pos = i + 2
            return Token(s[i : i + 2], s[i : i + 2], i)
        for op in _OPS:
            if s.startswith(op, i):
                self.pos = i + len(op)
                return Token("op", op, i)
        if c == '"':
            return self._quoted(i)
        if c == "%":
            end = s.find("%", i + 1)
            if end < 0:
                raise invalid()
            self.regexes += 1
            if self.regexes > MAX_REGEXES:
                raise invalid(f"a filter pattern may contain at most {MAX_REGEXES} regex")
            self.pos = end + 1
            return Token("regex", s[i + 1 : end], i)
        j = i
        while j < n and not s[j].isspace() and s[j] not in self.breaks and s[j] not in self.stops:
            j += 1
        if j == i:
            raise invalid(f"Invalid character(s) in term '{c}'")
        self.pos = j
        return Token("word", s[i:j], i)

    def _quoted(self, start: int) -> Token:
        s, i, out = self.source, start + 1, []
        while i < len(s):
            c = s[i]
            if c == "\\" and i + 1 < len(s):
                out.append(s[i + 1])
                i += 2
            elif c == '"':
                self.pos = i + 1
                return Token("quoted", "".join(out), start)
            else:
                out.append(c)
                i += 1
        raise invalid("Unterminated quoted string")


Atom = Callable[[Tokens], Callable[[Any], bool]]


def parse_condition(tokens: Tokens, atom: Atom, depth: int = 0) -> Callable[[Any], bool]:
    """``||`` of ``&&`` of atoms or parenthesised conditions: () binds tighter than &&, && than
    ||, as the User Guide orders them. Flat lists, not nested closures, for long chains."""
    if depth > MAX_NESTING:
        raise invalid(f"conditions nest deeper than {MAX_NESTING}")
    alternatives = [_parse_and(tokens, atom, depth)]
    while tokens.current.kind == "||":
        tokens.take()
        alternatives.append(_parse_and(tokens, atom, depth))
    if len(alternatives) == 1:
        return alternatives[0]
    return lambda v: any(test(v) for test in alternatives)


def _parse_and(tokens: Tokens, atom: Atom, depth: int) -> Callable[[Any], bool]:
    terms = [_parse_unary(tokens, atom, depth)]
    while tokens.current.kind == "&&":
        tokens.take()
        terms.append(_parse_unary(tokens, atom, depth))
    if len(terms) == 1:
        return terms[0]
    if len(terms) == 2:
        first, second = terms
        return lambda v: first(v) and second(v)
    return lambda v: all(test(v) for test in terms)


def _parse_unary(tokens: Tokens, atom: Atom, depth: int) -> Callable[[Any], bool]:
    if tokens.current.kind == "(":
        tokens.take()
        inner = parse_condition(tokens, atom, depth + 1)
        tokens.expect(")")
        return inner
    return atom(tokens)


_ORDER = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}


def comparison(op: str, literal: Token) -> Test:
    """A test of one scalar value against ``op literal``; the caller has already found the value
    (and answers False for a missing one, an object or an array)."""
    if literal.kind not in ("quoted", "regex", "word"):
        raise invalid()
    if op in _ORDER:
        bound = number(literal.value) if literal.kind == "word" else None
        if bound is None:
            raise invalid(f"'{op}' needs a number, not '{literal.value}'")
        cmp = _ORDER[op]

        def ordered(value: Any) -> bool:
            n = number(value)
            return n is not None and cmp(n, bound)

        return ordered
    equal = _equality(literal)
    if op == "=":
        return equal
    return lambda value: not equal(value)


def _equality(literal: Token) -> Test:
    if literal.kind == "regex":
        search = compile_regex(literal.value)
        return lambda value: search(text(value))
    expected = literal.value
    if "*" in expected:
        if expected.strip("*") == "":
            return lambda value: True
        return _glob(expected)
    wanted = number(expected) if literal.kind == "word" else None
    if wanted is not None:
        return lambda value: number(value) == wanted or text(value) == expected
    return lambda value: text(value) == expected


def _glob(expected: str) -> Test:
    """``*`` wildcards, matched greedily left to right with ``str.find``: linear in the value,
    where a regex of ``.*`` pieces would backtrack on a long one."""
    first, *middle, last = expected.split("*")
    least = len(first) + len(last) + sum(len(part) for part in middle)

    def match(value: Any) -> bool:
        s = text(value)
        if len(s) < least or not s.startswith(first) or not s.endswith(last):
            return False
        at, end = len(first), len(s) - len(last)
        for part in middle:
            found = s.find(part, at, end)
            if found < 0:
                return False
            at = found + len(part)
        return True

    return match
