"""Execution-role credentials: every environment runs as its function's role, with temporary
credentials of its own, as Lambda's do.

Lambda assumes the function's execution role for each environment, with the function's name as
the session name (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION``), and hands the
credentials to the runtime as ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and
``AWS_SESSION_TOKEN``. Shoal issues them from ``shoal.iam`` (self-describing session tokens:
nothing is stored), and adds ``AWS_CREDENTIAL_EXPIRATION``, which botocore's environment
provider reads: with it, a client made once (at init, the usual pattern) holds *refreshable*
credentials that re-read ``os.environ`` when they near their expiry, instead of static ones.

Renewal. The variables of a running process cannot be changed from outside, so new credentials
travel with an invocation: an environment's credentials are renewed by the first invocation
after half their lifetime (``Settings.role_credentials_s``, 12 hours by default), whose invoke
frame carries the new variables; the runtime puts them in ``os.environ`` before the handler
runs. The check is one comparison per invocation; the issue (an HMAC) happens only then.

Snapshot starts. A template's credentials last at most :data:`TEMPLATE_LIFETIME_S`, which is
botocore's advisory-refresh window: a client made during the template's init finds them about
to expire at its first use in a restored environment, and re-reads ``os.environ``, where the
restored environment's own credentials are (the fork request sets them). A restored
environment never signs with its template's credentials past its first call.

Where they go: only into the environment's spec (which travels to the fork server over its
socket) and its invoke frames; never into the store, a log line or another function's
environment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shoal.errors import AwsError

if TYPE_CHECKING:
    from shoal.functions.models import FunctionVersion
    from shoal.iam.service import IamService

LAMBDA_SERVICE = "lambda.amazonaws.com"
# botocore's advisory refresh: credentials with less than this left are refreshed at next use.
TEMPLATE_LIFETIME_S = 15 * 60
VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
             "AWS_CREDENTIAL_EXPIRATION")  # fmt: skip
CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."


@dataclass(frozen=True)
class RoleCredentials:
    """An environment's credentials as its variables, and when to renew them (epoch s)."""

    variables: dict[str, str]
    renew_at: float

    def __repr__(self) -> str:  # never the secret, in a traceback or a debug log
        return f"RoleCredentials(renew_at={self.renew_at})"


class CredentialIssuer:
    """Issues an environment's credentials for a function version's role."""

    def __init__(self, iam: IamService, lifetime_s: int) -> None:
        self._iam = iam
        self.lifetime_s = max(1, int(lifetime_s))

    def issue(self, fn: FunctionVersion, *, template: bool = False) -> RoleCredentials:
        """New credentials of ``fn``'s role, session name the function's. The role is assumed
        as Lambda assumes it, so a role deleted, or no longer trusting Lambda, since the
        function was configured fails the environment's start (or renewal) as Lambda fails it.
        """
        if not self._iam.trusts(fn.role, LAMBDA_SERVICE, fn.function_arn):
            raise AwsError("InvalidParameterValueException", CANNOT_ASSUME, 400)
        lifetime = min(self.lifetime_s, TEMPLATE_LIFETIME_S) if template else self.lifetime_s
        cred = self._iam.role_credential(fn.role, fn.name, lifetime)
        expires = float(cred.expires if cred.expires is not None else time.time() + lifetime)
        variables = {
            "AWS_ACCESS_KEY_ID": cred.access_key_id,
            "AWS_SECRET_ACCESS_KEY": cred.secret_access_key,
            "AWS_SESSION_TOKEN": cred.session_token or "",
            "AWS_CREDENTIAL_EXPIRATION": datetime.fromtimestamp(expires, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        }
        return RoleCredentials(variables, renew_at=expires - lifetime / 2)
