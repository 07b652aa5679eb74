"""The IAM component (``shoal.iam``): IAM's state, STS's sessions, and the interface the
authentication layer calls.

For ``shoal.identity`` (a :class:`shoal.identity.credentials.CredentialSource`):

- :meth:`IamService.credential` — an IAM user's access key (``active`` False when Inactive),
  or an STS temporary credential (its facts read from the session token). Unknown keys, and a
  token that is forged, altered or names another access key id, give None. A genuine token
  past its expiry gives its Credential with ``expires`` in the past: the verifier answers
  ``ExpiredToken`` for it.
- :meth:`IamService.identity_policies` — the parsed identity-based policies of a principal.
- :meth:`IamService.role` / :meth:`IamService.role_credential` — for Lambda's execution roles;
  :meth:`IamService.trusts` says whether a role's trust policy lets a service assume it.

Parsed identity policies are cached per principal ARN; any IAM change drops the cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError
from shoal.iam.directory import Directory
from shoal.iam.models import ROLE, USER, Entity, new_id
from shoal.iam.policies import ManagedPolicies, malformed
from shoal.iam.tokens import SessionTokens, load_key
from shoal.identity.credentials import Credential
from shoal.policy.document import Kind, Policy, parse
from shoal.policy.engine import Principal, Request, evaluate

if TYPE_CHECKING:
    from shoal.core import Shoal


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    id: str
    max_session: int
    trust: Policy


def _name_from_arn(arn: str, kind: str) -> str | None:
    head, sep, rest = arn.partition(f":{kind}/")
    return rest.rsplit("/", 1)[-1] if sep and head.startswith("arn:aws:iam::") else None


class IamService:
    def __init__(self, shoal: Shoal) -> None:
        self.account = shoal.settings.account_id
        self._data_dir = shoal.settings.data_dir
        # Parsed policies: a principal's identity policies (by principal and role ARN) and
        # roles with their trust policy (by role ARN); both dropped on any IAM change.
        self._cache: dict[tuple[str, str | None], list[Policy]] = {}
        self._roles: dict[str, Role] = {}
        self.policies = ManagedPolicies(shoal.store, self.account, self._invalidate)
        self.directory = Directory(shoal.store, self.account, self.policies, self._invalidate)
        self._tokens: SessionTokens | None = None

    def _invalidate(self) -> None:
        self._cache.clear()
        self._roles.clear()

    async def start(self) -> None:
        self._tokens = SessionTokens(load_key(self._data_dir))
        self.policies.load()
        self.directory.load()

    async def stop(self) -> None:
        pass

    @property
    def tokens(self) -> SessionTokens:
        if self._tokens is None:
            raise RuntimeError("shoal.iam is not started")
        return self._tokens

    @property
    def root(self) -> Principal:
        return Principal(arn=f"arn:aws:iam::{self.account}:root", account=self.account,
                         user_id=self.account)  # fmt: skip

    # ------------------------------------------------------------ credentials

    def credential(self, access_key_id: str, session_token: str | None) -> Credential | None:
        if session_token is None:
            key = self.directory.key(access_key_id)
            user = self.directory.find(USER, key.user) if key is not None else None
            if key is None or user is None:
                return None
            return Credential(access_key_id, key.secret, self.user_principal(user),
                              active=key.status == "Active")  # fmt: skip
        opened = self.tokens.open(session_token)
        if opened is None or opened[0].get("k") != access_key_id:
            return None
        facts, secret = opened
        principal = Principal(arn=facts["a"], account=facts["acct"], role_arn=facts.get("r"),
                              user_name=facts.get("un"), user_id=facts.get("uid"))  # fmt: skip
        return Credential(access_key_id, secret, principal, session_token=session_token,
                          expires=float(facts["x"]))  # fmt: skip

    def user_principal(self, user: Entity) -> Principal:
        return Principal(arn=user.arn(self.account), account=self.account, user_name=user.name,
                         user_id=user.id, tags=user.tags)  # fmt: skip

    def issue(self, principal: Principal, duration_s: int) -> Credential:
        """Temporary credentials for ``principal``, valid ``duration_s`` seconds."""
        key_id = new_id("ASIA")
        expires = int(time.time()) + duration_s
        facts: dict[str, Any] = {"k": key_id, "a": principal.arn, "acct": principal.account,
                                 "x": expires}  # fmt: skip
        for short, value in (("r", principal.role_arn), ("un", principal.user_name),
                             ("uid", principal.user_id)):  # fmt: skip
            if value is not None:
                facts[short] = value
        token, secret = self.tokens.issue(facts)
        return Credential(key_id, secret, principal, session_token=token, expires=expires)

    # ------------------------------------------------------------ roles

    def role(self, arn: str) -> Role | None:
        """The role of ``arn`` with its parsed trust policy, or None."""
        cached = self._roles.get(arn)
        if cached is not None:
            return cached
        name = _name_from_arn(arn, ROLE)
        entity = self.directory.find(ROLE, name) if name else None
        if entity is None or entity.arn(self.account) != arn:
            return None
        trust = parse(entity.trust, Kind.TRUST, malformed)
        role = self._roles[arn] = Role(entity.name, arn, entity.id, entity.max_session, trust)
        return role

    def trusts(self, role_arn: str, service: str, source_arn: str | None = None) -> bool:
        """Whether ``role_arn`` exists and its trust policy allows the service principal
        ``service`` (``lambda.amazonaws.com``) ``sts:AssumeRole``, for the resource
        ``source_arn`` (the function), which the service names as AWS services do: in
        ``aws:SourceArn`` and ``aws:SourceAccount``, the confused-deputy keys of trust policies."""
        role = self.role(role_arn)
        if role is None:
            return False
        keys = {} if source_arn is None else {
            "aws:sourcearn": source_arn, "aws:sourceaccount": source_arn.split(":")[4],
        }  # fmt: skip
        request = Request(Principal.of_service(service), "sts:AssumeRole", role_arn, keys)
        return evaluate(request, resource=[role.trust]).allowed

    def role_credential(self, role_arn: str, session_name: str, duration_s: int) -> Credential:
        """The role's credentials for a session; no trust check (the caller makes it)."""
        role = self.role(role_arn)
        if role is None:
            raise AwsError("NoSuchEntity", f"The role with name {role_arn} cannot be found.")
        principal = Principal(
            arn=f"arn:aws:sts::{self.account}:assumed-role/{role.name}/{session_name}",
            account=self.account, role_arn=role.arn, user_id=f"{role.id}:{session_name}",
        )  # fmt: skip
        return self.issue(principal, duration_s)

    def assume_role(self, caller: Principal, role_arn: str, session_name: str,
                    duration_s: int) -> Credential:  # fmt: skip
        """STS AssumeRole: the role's trust policy must allow ``caller`` sts:AssumeRole."""
        role = self.role(role_arn)
        request = Request(caller, "sts:AssumeRole", role_arn)
        # A trust policy naming the caller's account delegates to its identity policies, which
        # the STS dispatcher has already checked for sts:AssumeRole on this role.
        trusted = evaluate(request, resource=[role.trust]) if role is not None else None
        if role is None or trusted is None or not (trusted.allowed or trusted.delegated):
            raise AwsError("AccessDenied", f"User: {caller.arn} is not authorized to perform: "
                           f"sts:AssumeRole on resource: {role_arn}", 403)  # fmt: skip
        if duration_s > role.max_session:
            raise AwsError("ValidationError", "The requested DurationSeconds exceeds the "
                           "MaxSessionDuration set for this role.", 400)  # fmt: skip
        return self.role_credential(role_arn, session_name, duration_s)

    # ------------------------------------------------------------ identity policies

    def identity_policies(self, principal: Principal) -> list[Policy]:
        key = (principal.arn, principal.role_arn)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._policies_of(principal)
        return cached

    def _policies_of(self, principal: Principal) -> list[Policy]:
        entities: list[Entity] = []
        if principal.role_arn is not None:
            name = _name_from_arn(principal.role_arn, ROLE)
            role = self.directory.find(ROLE, name) if name else None
            entities = [role] if role is not None else []
        elif principal.user_name is not None:
            user = self.directory.find(USER, principal.user_name)
            if user is not None and user.arn(self.account) == principal.arn:
                entities = [user, *self.directory.groups_of(user.name)]
        documents: list[str] = []
        for entity in entities:
            documents.extend(doc for _, doc in entity.inline)
            for arn in entity.attached:
                policy = self.policies.find(arn)
                version = policy.version(policy.default) if policy is not None else None
                if version is not None:
                    documents.append(version.document)
        return [parse(d, Kind.IDENTITY, malformed) for d in documents]
