"""STS: GetCallerIdentity, AssumeRole (the role's trust policy decides) and GetSessionToken.

The caller is ``Call.principal``, set by the authentication layer; a request without one (the
layer not in place, or a call made inside Shoal) is the account root's, as an unsigned Shoal
is its single owner's.
"""

from __future__ import annotations

from typing import Any

from shoal.api.iam_scope import iam
from shoal.api.query_router import FormCall, sts_api
from shoal.identity.authorize import Target
from shoal.identity.credentials import Credential
from shoal.policy.engine import Principal


def _caller(call: FormCall) -> Principal:
    return call.principal or iam(call).root


def _credentials(c: Credential) -> dict[str, Any]:
    return {"AccessKeyId": c.access_key_id, "SecretAccessKey": c.secret_access_key,
            "SessionToken": c.session_token, "Expiration": c.expires}  # fmt: skip


@sts_api.handles("GetCallerIdentity")
async def get_caller_identity(call: FormCall) -> dict[str, Any]:
    who = _caller(call)
    return {"UserId": who.user_id or who.account, "Account": who.account, "Arn": who.arn}


@sts_api.authorizes_on
def _role_trust(call: FormCall) -> Target:
    """AssumeRole is decided with the role's trust policy as its resource policy: a trust
    policy that names the caller lets it in on its own; one that names the account delegates
    to the caller's identity policies, as IAM has it within one account."""
    if call.operation != "AssumeRole":
        return Target()
    role = iam(call).role(call.params["RoleArn"])
    return Target(policies=(role.trust,)) if role is not None else Target()


@sts_api.handles("AssumeRole")
async def assume_role(call: FormCall) -> dict[str, Any]:
    p = call.params
    cred = iam(call).assume_role(
        _caller(call), p["RoleArn"], p["RoleSessionName"], p.get("DurationSeconds", 3600)
    )
    return {
        "Credentials": _credentials(cred),
        "AssumedRoleUser": {"AssumedRoleId": cred.principal.user_id, "Arn": cred.principal.arn},
        "PackedPolicySize": 0,
    }


@sts_api.handles("GetSessionToken")
async def get_session_token(call: FormCall) -> dict[str, Any]:
    cred = iam(call).issue(_caller(call), call.params.get("DurationSeconds", 43200))
    return {"Credentials": _credentials(cred)}
