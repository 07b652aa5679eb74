"""CloudWatch Logs filter patterns: ``compile(pattern) -> Matcher``, ``Matcher.match(message)``.

This is the plain-term subset only (every space-separated term must appear in the message,
case-sensitive; an empty pattern matches every message), written so that FilterLogEvents
works before the full syntax (quoted terms, ``?`` alternatives, ``-`` exclusions, JSON and
space-delimited patterns) arrives in this module. The contract the log API relies on, and
that the full implementation keeps: ``compile`` raises ``ValueError`` for a pattern it cannot
read, and the returned object's ``match`` is a pure function of the message.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Matcher:
    """Matches a message that contains every one of ``terms``."""

    terms: tuple[str, ...]

    def match(self, message: str) -> bool:
        return all(term in message for term in self.terms)


def compile(pattern: str) -> Matcher:  # noqa: A001 - the module's contract names it so
    """The matcher of ``pattern``; ValueError when it is not a pattern this module reads."""
    if not isinstance(pattern, str):
        raise ValueError("a filter pattern is a string")
    return Matcher(tuple(pattern.split()))
