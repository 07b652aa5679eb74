"""Space-delimited filter patterns, ``[ip, user, ..., status = 4* || status = 5*, bytes]``.

A message is split at whitespace into fields; text between ``[`` and ``]`` or between ``"``
and ``"`` is one field (without its brackets or quotes), as the User Guide says. The pattern
names the fields in order; ``...`` stands for any number of fields, and when there is no
``...`` the last name takes the rest of the message (so ``[w1=ERROR, w2]`` matches every event
whose first word is ERROR, and Lambda's ``[timestamp=*Z, request_id="*-*", event]`` works). A
field may carry a condition (``=``, ``!=``, ``<``, ``>``, ``<=``, ``>=``, with ``&&``, ``||`` and
parentheses) on any field the pattern names; names compare without case, as the guide's own
``[w1=ERROR || W1=WARNING, w2]`` needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from shoal.observability.pattern_values import (
    Tokens,
    comparison,
    invalid,
    parse_condition,
)

_NAME = re.compile(r"[A-Za-z0-9_\-]+")  # the CDK's validColumnName
_FIELD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')
_ATOMIC = r'(?>"[^"]*"|\[[^\]]*\]|\S+)'  # _FIELD's alternatives, for one regex per line
ELLIPSIS = "..."
MAX_ALIGNMENT_STEPS = 100_000  # patterns with several '...' search; bound the search

Fields = dict[str, str]


def compile_space(pattern: str) -> Callable[[str], bool]:
    """``pattern`` is stripped and starts with ``[``."""
    if not pattern.endswith("]"):
        raise ValueError("If a filter pattern starts with '[' it must end with ']'")
    names, conditions, referenced = _parse(pattern)
    if set(referenced) - set(names):
        raise invalid(f"no field named '{sorted(set(referenced) - set(names))[0]}'")
    if ELLIPSIS not in names:
        return _fixed(names, _all([test for _, _, test in conditions]))
    # With '...', a condition on its own field alone is checked as soon as that field is placed,
    # which prunes the search; the others once every field is.
    local = {slot: test for slot, reads, test in conditions if reads == {slot}}
    rest = [test for slot, reads, test in conditions if reads != {slot}]
    return _searching(names, local, _all(rest))


def _all(tests: list[Callable[[Fields], bool]]) -> Callable[[Fields], bool]:
    if not tests:
        return _always
    if len(tests) == 1:
        return tests[0]
    return lambda fields: all(test(fields) for test in tests)


def _always(fields: Fields) -> bool:
    return True


Condition = tuple[str, set[str], Callable[[Fields], bool]]  # slot, names it reads, test


def _parse(pattern: str) -> tuple[list[str], list[Condition], list[str]]:
    names: list[str] = []
    conditions: list[Condition] = []
    referenced: list[str] = []

    def atom(tokens: Tokens) -> Callable[[Any], bool]:
        name = _name(tokens.expect("word").value)
        referenced.append(name)
        op = tokens.expect("op").value
        test = comparison(op, tokens.take())
        return lambda fields: name in fields and test(fields[name])

    tokens = Tokens(pattern, 1, stops=",]", word_breaks='()=!<>&|"%')
    regexes = 0
    while True:
        tokens.regexes = regexes
        first = tokens.current
        if first.kind == "word" and first.value == ELLIPSIS:
            tokens.take()
            names.append(ELLIPSIS)
        elif first.kind == "word":
            name = _name(first.value)
            names.append(name)
            following = _peek_after_word(pattern, tokens)
            if following in (",", "]"):
                tokens.take()
            else:
                before = len(referenced)
                condition = parse_condition(tokens, atom)
                conditions.append((name, set(referenced[before:]), condition))
        else:
            raise invalid()
        regexes = tokens.regexes
        if tokens.current.kind != "end":
            raise invalid(f"unexpected '{tokens.current.value}'")
        stop = pattern[tokens.pos]
        if stop == "]":
            if pattern[tokens.pos + 1 :].strip():
                raise invalid()
            break
        tokens = Tokens(pattern, tokens.pos + 1, stops=",]", word_breaks='()=!<>&|"%')
    fields = [n for n in names if n != ELLIPSIS]
    if len(set(fields)) != len(fields):
        raise invalid("a field is named twice")
    return names, conditions, referenced


def _peek_after_word(pattern: str, tokens: Tokens) -> str:
    i = tokens.current.pos + len(tokens.current.value)
    while i < len(pattern) and pattern[i].isspace():
        i += 1
    return pattern[i] if i < len(pattern) else ""


def _name(word: str) -> str:
    if not _NAME.fullmatch(word):
        raise invalid(f"Invalid character(s) in term '{word}'")
    return word.lower()


def _fixed(names: list[str], test: Callable[[Fields], bool]) -> Callable[[str], bool]:
    """No ``...``: field i is the message's field i, and the last takes the rest. One anchored
    regex splits the whole line (each field an atomic group, so it cannot backtrack)."""
    head = names[:-1]
    line = re.compile(
        r"\s*" + r"\s*".join(f"({_ATOMIC})" for _ in names) + r"(?:\s*(\S.*))?\s*\Z", re.DOTALL
    )
    groups = len(names)
    last = names[-1]

    def match(message: str) -> bool:
        found = line.match(message)
        if found is None:
            return False
        parts = found.groups()
        fields = {name: _strip(parts[i]) for i, name in enumerate(head)}
        if parts[groups] is None:
            fields[last] = _strip(parts[groups - 1])
        else:
            fields[last] = message[found.start(groups) : found.end(groups + 1)].rstrip()
        return test(fields)

    return match


def _strip(field: str) -> str:
    """A field without the quotes or brackets that made it one."""
    if len(field) >= 2 and (field[0] == '"' == field[-1] or field[0] == "[" and field[-1] == "]"):
        return field[1:-1]
    return field


class _Search:
    """One message's search for an alignment of the named fields (``...`` takes any number of
    fields): the fields after the last ``...`` are the message's last ones, so one ``...`` means
    one alignment; between two, each start is tried in order, within ``MAX_ALIGNMENT_STEPS``."""

    __slots__ = ("names", "local", "test", "values", "budget")

    def __init__(self, names: list[str], local: dict[str, Callable[[Fields], bool]],
                 test: Callable[[Fields], bool], values: list[str]) -> None:  # fmt: skip
        self.names, self.local, self.test, self.values = names, local, test, values
        self.budget = MAX_ALIGNMENT_STEPS

    def align(self, i: int, j: int, fields: Fields) -> bool:
        # Iterative over runs of names, recursive only at each '...' (one frame per '...').
        names, values, local = self.names, self.values, self.local
        while i < len(names) and names[i] != ELLIPSIS:
            if j >= len(values):
                return False
            name = names[i]
            fields[name] = values[j]
            if name in local and not local[name](fields):
                return False
            i, j = i + 1, j + 1
        if i == len(names):
            return j == len(values) and self.test(fields)
        if i == len(names) - 1:
            return self.test(fields)  # a trailing '...' takes whatever is left
        remaining = sum(1 for n in names[i + 1 :] if n != ELLIPSIS)
        latest = len(values) - remaining
        if ELLIPSIS not in names[i + 1 :]:
            return latest >= j and self.align(i + 1, latest, fields)
        for skip in range(j, latest + 1):
            self.budget -= 1
            if self.budget < 0:
                return False
            if self.align(i + 1, skip, dict(fields)):
                return True
        return False


def _searching(
    names: list[str], local: dict[str, Callable[[Fields], bool]], test: Callable[[Fields], bool]
) -> Callable[[str], bool]:
    def match(message: str) -> bool:
        values = [q or b or bare for q, b, bare in _FIELD.findall(message)]
        return _Search(names, local, test, values).align(0, 0, {})

    return match
