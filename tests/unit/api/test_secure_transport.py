"""``Call.secure`` (``aws:SecureTransport``): true exactly when the request came over TLS, as
the ASGI scope's scheme (so ``base_url``) says, for rest-json and ``Action=`` services alike."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from shoal.api.dispatch import ApiService, Call
from shoal.config import Settings


@pytest.mark.parametrize(("base_url", "secure"), [("https://127.0.0.1:9000", True),
                                                   ("http://127.0.0.1:9000", False)])  # fmt: skip
def test_secure_follows_the_scheme(base_url: str, secure: bool) -> None:
    api = ApiService("lambda")
    seen: list[Call] = []

    @api.handles("GetAccountSettings")
    async def handler(call: Call) -> Any:
        seen.append(call)
        return {}

    shoal: Any = SimpleNamespace(settings=Settings(data_dir=Path("/nonexistent")))
    response = asyncio.run(
        api.dispatch(shoal, "GET", "/2016-08-19/account-settings", {}, {}, b"", base_url, "r1")
    )
    assert response is not None and response.status == 200
    assert [c.secure for c in seen] == [secure]
