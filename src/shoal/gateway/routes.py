"""Route keys and route selection, as API Gateway HTTP APIs do it.

A route key is ``$default`` or ``METHOD /path`` where METHOD is ANY or an HTTP method and the
path may hold ``{name}`` segments and a final greedy ``{name+}``. For a request, API Gateway
selects the most specific route: a literal segment beats a ``{param}`` segment, which beats a
greedy ``{proxy+}``, comparing segment by segment from the left; for the same path an explicit
method beats ANY; when nothing matches, the ``$default`` route, else 404.

A :class:`RouteTable` is compiled once when an API's routes change and then only read: literal
paths are a dictionary look-up, templated paths are regular expressions compiled here, tried in
specificity order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

METHODS = frozenset({"ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
DEFAULT_ROUTE = "$default"

_LITERAL, _PARAM, _GREEDY = 0, 1, 2
_PARAM_RE = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")


class InvalidRouteKey(ValueError):
    pass


@dataclass(frozen=True)
class RouteKey:
    method: str  # "ANY", "GET"... ("" for $default)
    path: str  # "/items/{id}" ("" for $default)
    # Per segment: (kind, literal text or parameter name).
    segments: tuple[tuple[int, str], ...]

    @property
    def is_default(self) -> bool:
        return self.method == ""

    @property
    def is_literal(self) -> bool:
        return all(kind == _LITERAL for kind, _ in self.segments)

    @property
    def greedy_name(self) -> str | None:
        """The final ``{name+}`` segment's name, if the path ends in one."""
        if self.segments and self.segments[-1][0] == _GREEDY:
            return self.segments[-1][1]
        return None

    def specificity(self) -> tuple[tuple[int, ...], int]:
        """Sort key: smaller is more specific (literal < param < greedy, then method < ANY)."""
        return tuple(kind for kind, _ in self.segments), int(self.method == "ANY")


def parse_route_key(key: str) -> RouteKey:
    """Parse and check a route key; raises :class:`InvalidRouteKey` worded for the client."""
    if key == DEFAULT_ROUTE:
        return RouteKey("", "", ())
    method, sep, path = key.partition(" ")
    if not sep or method not in METHODS or not path.startswith("/") or " " in path:
        raise InvalidRouteKey(
            f"Invalid route key: {key}. A route key must be $default or METHOD /path, where "
            f"METHOD is one of {', '.join(sorted(METHODS))}"
        )
    segments: list[tuple[int, str]] = []
    parts = path[1:].split("/") if path != "/" else []
    for i, part in enumerate(parts):
        if not part:
            raise InvalidRouteKey(f"Invalid route key: {key}. Empty path segment")
        m = _PARAM_RE.match(part)
        if m is None:
            if "{" in part or "}" in part:
                raise InvalidRouteKey(f"Invalid route key: {key}. Bad path parameter {part}")
            segments.append((_LITERAL, part))
        elif m.group(2):
            if i != len(parts) - 1:
                raise InvalidRouteKey(
                    f"Invalid route key: {key}. A greedy path variable must be the last segment"
                )
            segments.append((_GREEDY, m.group(1)))
        else:
            segments.append((_PARAM, m.group(1)))
    return RouteKey(method, path, tuple(segments))


def _regex(key: RouteKey) -> re.Pattern[str]:
    out = "^"
    for kind, text in key.segments:
        if kind == _LITERAL:
            out += "/" + re.escape(text)
        elif kind == _PARAM:
            out += f"/(?P<{_group(text)}>[^/]+)"
        else:
            out += f"/(?P<{_group(text)}>.+)"
    return re.compile(out + "$")


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


@dataclass(frozen=True)
class _Templated(Generic[T]):
    key: RouteKey
    pattern: re.Pattern[str]
    names: tuple[tuple[str, str], ...]  # (regex group, parameter name)
    value: T


class RouteTable(Generic[T]):
    """Selects the route for (method, path); values are whatever the caller attached."""

    def __init__(self, routes: Iterable[tuple[RouteKey, T]]) -> None:
        self._literal: dict[tuple[str, str], tuple[RouteKey, T]] = {}
        templated: list[_Templated[T]] = []
        self._default: tuple[RouteKey, T] | None = None
        for key, value in routes:
            if key.is_default:
                self._default = (key, value)
            elif key.is_literal:
                self._literal[(key.method, key.path)] = (key, value)
            else:
                names = tuple((_group(t), t) for k, t in key.segments if k != _LITERAL)
                templated.append(_Templated(key, _regex(key), names, value))
        templated.sort(key=lambda r: r.key.specificity())
        self._templated = tuple(templated)

    def select(self, method: str, path: str) -> tuple[RouteKey, T, dict[str, str]] | None:
        """The selected route, its value and its path parameters; None means 404."""
        found = self._literal.get((method, path)) or self._literal.get(("ANY", path))
        if found is not None:
            return found[0], found[1], {}
        for route in self._templated:
            if route.key.method != "ANY" and route.key.method != method:
                continue
            m = route.pattern.match(path)
            if m is not None:
                return route.key, route.value, {name: m.group(g) for g, name in route.names}
        if self._default is not None:
            return self._default[0], self._default[1], {}
        return None
