"""Evaluating a request against policies, with IAM's logic for a request within one account
(the IAM User Guide's "Policy evaluation logic"):

1. An explicit ``Deny`` in any applicable policy, identity-based or resource-based, decides.
2. Otherwise an ``Allow`` in either an identity-based policy of the principal or a
   resource-based policy of the resource naming the principal allows.
3. Otherwise the request is implicitly denied.

A resource-based ``Allow`` whose ``Principal`` names the principal only through its account
(``"AWS": "ACCOUNT"`` or ``arn:aws:iam::ACCOUNT:root``) grants nothing by itself: it delegates
to the account, whose identity-based policies must then allow (the IAM User Guide's
"Principal" element: "This delegates authority to the account … Using the account ARN in the
Principal element does not limit permissions to only the root user of the account"). Such a
match is reported as :attr:`Decision.delegated`, for the one policy that must allow on its own
(a role's trust policy, :meth:`shoal.iam.service.IamService.assume_role`). A ``Deny`` naming
the account applies to everyone in it.

A statement applies when its action, resource, principal (for resource-based and trust
policies) and every condition match. The global keys a principal implies (``aws:PrincipalArn``,
``aws:PrincipalAccount``, ``aws:username``, ``aws:userid``) are added to the request's context
here, so services pass only their own keys and the request's (``aws:SourceIp``,
``aws:SecureTransport``, ``aws:CurrentTime``…).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shoal.policy.document import Policy, Principals, Statement


@dataclass(frozen=True)
class Principal:
    """Who makes a request. ``arn`` is what AWS names them in errors (a user's ARN, the
    ``assumed-role`` session ARN, ``arn:aws:iam::ACCOUNT:root``); ``role_arn`` is the role of
    an assumed-role session, which is what resource policies name; ``service`` a service
    principal such as ``lambda.amazonaws.com`` (trust policies)."""

    arn: str
    account: str = ""
    role_arn: str | None = None
    service: str | None = None
    user_name: str | None = None
    user_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of_service(cls, service: str) -> Principal:
        return cls(arn=service, service=service)

    @functools.cached_property  # frozen, so computed once per principal
    def _context(self) -> dict[str, Any]:
        return self._keys()

    def context(self) -> dict[str, Any]:
        """The global keys of who is asking (a copy: callers may add to it)."""
        return dict(self._context)

    def _keys(self) -> dict[str, Any]:
        if self.service is not None:
            return {"aws:principalservicename": self.service}
        keys: dict[str, Any] = {
            "aws:principalarn": self.role_arn or self.arn,
            "aws:principalaccount": self.account,
        }
        if self.user_name is not None:
            keys["aws:username"] = self.user_name
        if self.user_id is not None:
            keys["aws:userid"] = self.user_id
        for key, value in self.tags:
            keys[f"aws:principaltag/{key.lower()}"] = value
        return keys


@dataclass(frozen=True)
class Request:
    principal: Principal
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)  # lower-case keys

    def keys(self) -> dict[str, Any]:
        return {**{k.lower(): v for k, v in self.context.items()}, **self.principal._context}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool = False
    source: str | None = None  # "identity" or "resource": where the deciding statement is
    sid: str | None = None
    # A resource-based Allow named the principal's account: it delegates to the account's
    # identity-based policies, which did not allow (see the module docstring).
    delegated: bool = False

    def message(self, request: Request) -> str:
        """The reason, worded as AWS words an ``AccessDenied…`` message."""
        head = (
            f"User: {request.principal.arn} is not authorized to perform: {request.action} "
            f"on resource: {request.resource}"
        )
        if self.explicit_deny:
            article = "an" if self.source == "identity" else "a"
            return f"{head} with an explicit deny in {article} {self.source}-based policy"
        return f"{head} because no identity-based policy allows the {request.action} action"


def evaluate(
    request: Request,
    identity: Iterable[Policy] = (),
    resource: Iterable[Policy] = (),
) -> Decision:
    """Decide ``request`` given the principal's identity-based policies and the resource's
    resource-based (or, for ``sts:AssumeRole``, trust) policies."""
    keys = request.keys()
    allow: Decision | None = None
    delegated = False
    for source, policies in (("identity", identity), ("resource", resource)):
        for policy in policies:
            for st in policy.statements_for(request.action):
                if not applies(st, request, keys, check_principal=source == "resource"):
                    continue
                if not st.allow:
                    return Decision(False, explicit_deny=True, source=source, sid=st.sid)
                if source == "resource" and not names_directly(st.principals, request.principal):
                    delegated = True
                    continue
                if allow is None:
                    allow = Decision(True, source=source, sid=st.sid)
    return allow or Decision(False, delegated=delegated)


def applies(st: Statement, request: Request, keys: Mapping[str, Any], *,
            check_principal: bool) -> bool:  # fmt: skip
    """Whether ``st``, one of :meth:`Policy.statements_for` the request's action (so its
    Action/NotAction let the action through), applies to ``request``."""
    if st.resources is not None and not st.resources.match(request.resource, keys):
        return False
    if st.not_resources is not None and st.not_resources.match(request.resource, keys):
        return False
    if check_principal:
        if st.principals is not None and not names(st.principals, request.principal):
            return False
        if st.not_principals is not None and names(st.not_principals, request.principal):
            return False
    return all(c.holds(keys) for c in st.conditions)


def names(principals: Principals, who: Principal) -> bool:
    """Whether a ``Principal`` element names ``who`` (its account included)."""
    return _names(principals, who, account=True)


def names_directly(principals: Principals | None, who: Principal) -> bool:
    """Whether a resource-based Allow's ``Principal`` grants ``who`` on its own: it names
    everyone, ``who`` itself (its user, role or session ARN) or its service, not only its
    account. A ``NotPrincipal`` Allow (no ``Principal``) grants directly."""
    return principals is None or _names(principals, who, account=False)


def _names(principals: Principals, who: Principal, *, account: bool) -> bool:
    if principals.anyone:
        return True
    for ptype, values in principals.by_type:
        for value in values:
            if ptype == "Service":
                if who.service is not None and value == who.service:
                    return True
                continue
            if who.service is not None:
                continue
            if ptype != "AWS":
                if value == who.arn:
                    return True
                continue
            if value == "*" or value in (who.arn, who.role_arn):
                return True
            if account and who.account and value in (who.account,
                                                      f"arn:aws:iam::{who.account}:root"):
                return True
    return False
