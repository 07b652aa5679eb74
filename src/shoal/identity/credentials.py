"""A credential: the secret behind an access key id, and the principal it signs for.

Every signed request names an access key id; the verifier (:mod:`shoal.identity.sigv4`) looks
it up through a :class:`CredentialSource` and checks the signature with its secret. Sources are
the account's root credentials (:mod:`shoal.identity.root`), IAM users' access keys, and STS's
temporary credentials (which carry a session token and an expiry).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shoal.policy.engine import Principal


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    principal: Principal
    # Temporary credentials (STS, execution roles) have a session token the request must carry
    # in X-Amz-Security-Token, and an expiry (epoch seconds).
    session_token: str | None = None
    expires: float | None = None
    active: bool = True  # IAM access keys can be made Inactive
    root: bool = False  # the account's root user: every action is allowed


class CredentialSource(Protocol):
    def credential(self, access_key_id: str, session_token: str | None) -> Credential | None:
        """The credential of ``access_key_id`` (with the request's session token, for the
        temporary credentials whose token is where their facts are), or None when unknown."""
        ...
