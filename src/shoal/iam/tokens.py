"""STS session tokens that describe themselves, so temporary credentials outlive a restart
without a table of sessions that grows forever.

A token is ``SHOAL1.<payload>.<mac>``: the payload is the base64url JSON of the session's facts
(access key id, principal ARN, role ARN, user id and name, account, expiry), the MAC an
HMAC-SHA256 of it under a 32-byte key kept in the data directory (``sts-token.key``, 0600,
made on first start). A token whose MAC does not verify was forged or altered, and is refused.

The secret access key is not in the token (a token travels in every request's
``X-Amz-Security-Token`` header, the secret never should): it is derived from the key and the
payload, so only this server can compute it, and it is the same after a restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from shoal import datadir

PREFIX = "SHOAL1"
KEY_FILE = "sts-token.key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(data_dir: Path) -> bytes:
    """The token key, made (0600, exclusively, so two starts cannot race) if absent."""
    return datadir.secret_key(data_dir / KEY_FILE)


class SessionTokens:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, facts: dict[str, Any]) -> tuple[str, str]:
        """The token of ``facts`` (which name the access key id as ``k``) and its secret."""
        payload = _b64(json.dumps(facts, separators=(",", ":"), sort_keys=True).encode())
        mac = _b64(self._mac(b"token:" + payload.encode()))
        return f"{PREFIX}.{payload}.{mac}", self._secret(payload)

    def open(self, token: str) -> tuple[dict[str, Any], str] | None:
        """The facts and secret of a genuine token, or None for a forged or altered one."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        _, payload, mac = parts
        # The MAC's text is compared, not its decoded bytes: base64's last character has
        # spare bits, and a token must have exactly one spelling.
        expected = _b64(self._mac(b"token:" + payload.encode()))
        if not hmac.compare_digest(mac.encode(), expected.encode()):
            return None
        try:
            facts = json.loads(_unb64(payload))
        except (binascii.Error, ValueError):
            return None
        return (facts, self._secret(payload)) if isinstance(facts, dict) else None

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def _secret(self, payload: str) -> str:
        return _b64(self._mac(b"secret:" + payload.encode()))[:40]
