"""JSON filter patterns, ``{ $.level = "ERROR" && ($.latency > 100 || $.retry IS TRUE) }``.

A selector is ``$`` then ``.name`` (alphanumerics, ``-``, ``_``) and ``[index]`` steps, as the
User Guide defines property selectors. A condition is ``selector op literal`` (``=``/``!=`` on
strings with ``*`` wildcards, numbers or ``%regex%``; ``<``, ``>``, ``<=``, ``>=`` on numbers),
``selector IS NULL|TRUE|FALSE``, or ``selector NOT EXISTS``; ``IS NOT`` and ``EXISTS`` are not
supported, as the guide says. A selector that finds nothing, an object or an array makes its
condition false (only ``NOT EXISTS`` is true of a missing one), and a message that is not JSON
matches no JSON pattern.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from shoal.observability.pattern_values import (
    Tokens,
    comparison,
    invalid,
    parse_condition,
)

_SELECTOR = re.compile(r"\$((\.[A-Za-z0-9_\-]+)|(\[\d+\]))+")
_STEP = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]")
_MISSING = object()
_decode = json.JSONDecoder().decode


def compile_json(pattern: str) -> Callable[[str], bool]:
    """``pattern`` is stripped and starts with ``{``."""
    if not pattern.endswith("}"):
        raise ValueError("If a filter pattern starts with '{' it must end with '}'")
    body = pattern[1:-1]
    tokens = Tokens(body, 0, stops="", word_breaks='()=!<>&|"%')
    if tokens.current.kind == "end":
        raise invalid("empty JSON filter pattern")
    test = parse_condition(tokens, _atom)
    if tokens.current.kind != "end":
        raise invalid(f"unexpected '{tokens.current.value}'")

    def match(message: str) -> bool:
        # Cheap refusal first: FilterLogEvents runs this over every event of a log group.
        start = message.lstrip()[:1]
        if start != "{" and start != "[":
            return False
        try:
            root = _decode(message)
        except (ValueError, RecursionError):  # not JSON, or nested past the decoder's limit
            return False
        return test(root)

    return match


def _atom(tokens: Tokens) -> Callable[[Any], bool]:
    word = tokens.expect("word").value
    find = _selector(word)
    token = tokens.take()
    if token.kind == "op":
        test = comparison(token.value, tokens.take())

        def compare(root: Any) -> bool:
            value = find(root)
            if value is _MISSING or type(value) is dict or type(value) is list:
                return False
            return test(value)

        return compare
    keyword = token.value.upper() if token.kind == "word" else ""
    if keyword == "IS":
        what = tokens.expect("word").value.upper()
        if what == "NOT":
            raise invalid("IS NOT is not supported")
        expected = {"NULL": None, "TRUE": True, "FALSE": False}
        if what not in expected:
            raise invalid(f"IS {what}")
        wanted = expected[what]
        return lambda root: find(root) is wanted
    if keyword == "NOT":
        if tokens.expect("word").value.upper() != "EXISTS":
            raise invalid()
        return lambda root: find(root) is _MISSING
    if keyword == "EXISTS":
        raise invalid("EXISTS is not supported")
    raise invalid(f"no condition after '{word}'")


def _selector(word: str) -> Callable[[Any], Any]:
    if not _SELECTOR.fullmatch(word):
        raise invalid(f"invalid selector '{word}'")
    steps: list[str | int] = [
        name if name else int(index) for name, index in _STEP.findall(word[1:])
    ]

    def find(root: Any) -> Any:
        node = root
        for step in steps:
            if type(step) is str:
                if type(node) is not dict:
                    return _MISSING
                node = node.get(step, _MISSING)
                if node is _MISSING:
                    return _MISSING
            else:
                if type(node) is not list or step >= len(node):  # type: ignore[operator]
                    return _MISSING
                node = node[step]  # type: ignore[index]
        return node

    return find
