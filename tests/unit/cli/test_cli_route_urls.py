"""The URLs ``shoal api`` prints for route keys: usable as printed, path variables filled in."""

from __future__ import annotations

import pytest

from shoal.cli.apis import route_url

BASE = "http://127.0.0.1:9000/execute-api/abc123/default"


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("ANY /MessageWall", f"{BASE}/MessageWall"),
        ("$default", f"{BASE}/"),
        ("ANY /", f"{BASE}/"),
        ("ANY /{proxy+}", f"{BASE}/proxy"),
        ("ANY /prefix/{proxy+}", f"{BASE}/prefix/proxy"),
        ("GET /items/{id}", f"{BASE}/items/id"),
        ("GET /users/{user_id}/files/{path+}", f"{BASE}/users/user_id/files/path"),
    ],
)
def test_route_url(key: str, url: str) -> None:
    assert route_url(BASE, key) == url
