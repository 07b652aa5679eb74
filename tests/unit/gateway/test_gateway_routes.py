"""Route keys and API Gateway's route selection (most specific match)."""

from __future__ import annotations

import pytest

from shoal.gateway.routes import InvalidRouteKey, RouteTable, parse_route_key


def table(*keys: str) -> RouteTable[str]:
    return RouteTable((parse_route_key(k), k) for k in keys)


def selected(t: RouteTable[str], method: str, path: str) -> tuple[str, dict[str, str]] | None:
    found = t.select(method, path)
    return None if found is None else (found[1], found[2])


@pytest.mark.parametrize(
    "key",
    [
        "$default",
        "ANY /MessageWall",
        "GET /items/{id}",
        "POST /files/{proxy+}",
        "GET /",
        "PUT /a/b",
    ],
)
def test_valid_route_keys_parse(key: str) -> None:
    parsed = parse_route_key(key)
    assert parsed.is_default == (key == "$default")


@pytest.mark.parametrize(
    "key",
    ["GET", "FETCH /x", "GET x", "GET /a//b", "GET /{proxy+}/more", "GET /a{b}", "get /x", ""],
)
def test_invalid_route_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidRouteKey):
        parse_route_key(key)


def test_literal_route_matches_any_method() -> None:
    t = table("ANY /MessageWall")
    for method in ("GET", "POST", "DELETE", "PATCH"):
        assert selected(t, method, "/MessageWall") == ("ANY /MessageWall", {})
    assert selected(t, "GET", "/messagewall") is None  # paths are case-sensitive
    assert selected(t, "GET", "/MessageWall/x") is None


def test_explicit_method_beats_any() -> None:
    t = table("ANY /pets", "GET /pets")
    assert selected(t, "GET", "/pets") == ("GET /pets", {})
    assert selected(t, "POST", "/pets") == ("ANY /pets", {})


def test_literal_beats_param_beats_greedy() -> None:
    t = table("GET /items/{proxy+}", "GET /items/{id}", "GET /items/special")
    assert selected(t, "GET", "/items/special") == ("GET /items/special", {})
    assert selected(t, "GET", "/items/42") == ("GET /items/{id}", {"id": "42"})
    assert selected(t, "GET", "/items/a/b/c") == ("GET /items/{proxy+}", {"proxy": "a/b/c"})


def test_specificity_compares_segments_from_the_left() -> None:
    t = table("GET /{kind}/new", "GET /pets/{id}")
    assert selected(t, "GET", "/pets/new") == ("GET /pets/{id}", {"id": "new"})
    assert selected(t, "GET", "/dogs/new") == ("GET /{kind}/new", {"kind": "dogs"})


def test_greedy_path_variable_takes_the_rest() -> None:
    t = table("POST /files/{proxy+}")
    assert selected(t, "POST", "/files/a/b/c.txt") == (
        "POST /files/{proxy+}",
        {"proxy": "a/b/c.txt"},
    )
    assert selected(t, "POST", "/files") is None  # greedy needs at least one segment
    assert selected(t, "GET", "/files/x") is None


def test_default_route_catches_the_rest() -> None:
    t = table("GET /items/{id}", "$default")
    assert selected(t, "GET", "/items/1") == ("GET /items/{id}", {"id": "1"})
    assert selected(t, "DELETE", "/items/1") == ("$default", {})
    assert selected(t, "GET", "/anything/else") == ("$default", {})


def test_no_route_is_none() -> None:
    assert table().select("GET", "/") is None
    assert selected(table("GET /"), "GET", "/") == ("GET /", {})


def test_several_parameters() -> None:
    t = table("GET /users/{user}/posts/{post}")
    assert selected(t, "GET", "/users/ann/posts/7") == (
        "GET /users/{user}/posts/{post}",
        {"user": "ann", "post": "7"},
    )
