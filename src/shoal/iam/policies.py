"""Managed policies: the customer's (with up to five versions, persisted) and AWS's.

AWS managed policies are read from the JSON files in ``shoal/iam/managed/`` (their real
documents, from the AWS Managed Policy Reference; ``ReadOnlyAccess`` is reduced to the
``Describe*``/``Get*``/``List*`` actions of the services Shoal serves, where AWS lists thousands
of actions of every service). They cannot be changed or deleted.

Attachments are the entities' (:mod:`shoal.iam.directory`); what needs both (a policy's
attachment count, refusing to delete an attached policy) asks through ``attached_to``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from importlib import resources

from shoal.errors import AwsError
from shoal.iam.models import ManagedPolicy, PolicyVersion, new_id
from shoal.policy.document import Kind, parse
from shoal.store.sqlite import Store

KIND = "iam_policy"
MAX_VERSIONS = 5
AWS_ACCOUNT = "aws"


def malformed(message: str) -> AwsError:
    return AwsError("MalformedPolicyDocument", message)


def check_document(document: str) -> None:
    """Refuse (MalformedPolicyDocument) a document IAM would not take as identity policy."""
    parse(document, Kind.IDENTITY, malformed)


def _aws_id(name: str) -> str:
    """A stable id for an AWS managed policy (the same on every start)."""
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()
    return "ANPA" + digest[:16]


def _aws_policies() -> dict[str, ManagedPolicy]:
    out = {}
    for entry in resources.files("shoal.iam").joinpath("managed").iterdir():
        if not entry.name.endswith(".json"):
            continue
        raw = json.loads(entry.read_text())
        name = entry.name.removesuffix(".json")
        arn = f"arn:aws:iam::{AWS_ACCOUNT}:policy{raw['Path']}{name}"
        created = dt.datetime.fromisoformat(raw["CreateDate"].replace("Z", "+00:00")).timestamp()
        version = PolicyVersion(raw["VersionId"], json.dumps(raw["Document"]), created)
        out[arn] = ManagedPolicy(arn, name, _aws_id(name),
                                 raw["Path"], created, created, version.id, (version,), 0,
                                 raw["Description"], aws=True)  # fmt: skip
    return out


class ManagedPolicies:
    """The account's and AWS's managed policies, by ARN. Runs on the event loop only."""

    def __init__(self, store: Store, account: str, changed: Callable[[], None]) -> None:
        self._store = store
        self._account = account
        self._changed = changed
        self._aws = _aws_policies()
        self._own: dict[str, ManagedPolicy] = {}

    def load(self) -> None:
        self._own = {arn: ManagedPolicy.from_doc(d) for arn, d in self._store.load(KIND).items()}

    def _save(self, policy: ManagedPolicy) -> ManagedPolicy:
        self._store.put(KIND, policy.arn, policy.to_doc())  # the store first, then memory
        self._own[policy.arn] = policy
        self._changed()
        return policy

    def all(self) -> list[ManagedPolicy]:
        return sorted([*self._aws.values(), *self._own.values()], key=lambda p: p.name)

    def find(self, arn: str) -> ManagedPolicy | None:
        return self._own.get(arn) or self._aws.get(arn)

    def get(self, arn: str) -> ManagedPolicy:
        policy = self.find(arn)
        if policy is None:
            raise AwsError("NoSuchEntity", f"Policy {arn} was not found.")
        return policy

    def attachable(self, arn: str) -> ManagedPolicy:
        policy = self.find(arn)
        if policy is None:
            raise AwsError("NoSuchEntity", f"Policy {arn} does not exist or is not attachable.")
        return policy

    def _own_policy(self, arn: str) -> ManagedPolicy:
        policy = self.get(arn)
        if policy.aws:
            raise AwsError("InvalidInput", f"Policy {arn} is an AWS managed policy; "
                           "it cannot be changed.")  # fmt: skip
        return policy

    def create(self, name: str, path: str, document: str, description: str,
               tags: tuple[tuple[str, str], ...]) -> ManagedPolicy:  # fmt: skip
        check_document(document)
        arn = f"arn:aws:iam::{self._account}:policy{path}{name}"
        if any(p.name.lower() == name.lower() for p in self._own.values()):
            raise AwsError("EntityAlreadyExists",
                           f"A policy called {name} already exists. Duplicate names are not "
                           "allowed.")  # fmt: skip
        now = time.time()
        version = PolicyVersion("v1", document, now)
        return self._save(ManagedPolicy(arn, name, new_id("ANPA"), path, now, now, "v1",
                                        (version,), 2, description, tags))  # fmt: skip

    def delete(self, arn: str, attached: int) -> None:
        policy = self._own_policy(arn)
        if attached:
            raise AwsError("DeleteConflict", "Cannot delete a policy attached to entities.")
        if len(policy.versions) > 1:
            raise AwsError("DeleteConflict", "This policy has more than one version. Before "
                           "you delete a policy, you must delete the policy's versions. The "
                           "default version is deleted with the policy.")  # fmt: skip
        self._store.delete(KIND, arn)
        del self._own[arn]
        self._changed()

    def create_version(self, arn: str, document: str, set_default: bool) -> PolicyVersion:
        policy = self._own_policy(arn)
        check_document(document)
        if len(policy.versions) >= MAX_VERSIONS:
            raise AwsError("LimitExceeded", f"A managed policy can have up to {MAX_VERSIONS} "
                           "versions. Before you create a new version, you must delete an "
                           "existing version.")  # fmt: skip
        version = PolicyVersion(f"v{policy.next_version}", document, time.time())
        self._save(replace(policy, versions=(*policy.versions, version),
                           next_version=policy.next_version + 1, updated=version.created,
                           default=version.id if set_default else policy.default))  # fmt: skip
        return version

    def version(self, arn: str, version_id: str) -> PolicyVersion:
        version = self.get(arn).version(version_id)
        if version is None:
            raise AwsError("NoSuchEntity", f"Policy {arn} version {version_id} does not exist "
                           "or is not attachable.")  # fmt: skip
        return version

    def set_default(self, arn: str, version_id: str) -> None:
        policy = self._own_policy(arn)
        self.version(arn, version_id)
        self._save(replace(policy, default=version_id, updated=time.time()))

    def delete_version(self, arn: str, version_id: str) -> None:
        policy = self._own_policy(arn)
        self.version(arn, version_id)
        if version_id == policy.default:
            raise AwsError("DeleteConflict", "Cannot delete the default version of a policy.")
        kept = tuple(v for v in policy.versions if v.id != version_id)
        self._save(replace(policy, versions=kept))

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        policy = self._own_policy(arn)
        self._save(replace(policy, tags=tuple({**dict(policy.tags), **tags}.items())))

    def untag(self, arn: str, keys: list[str]) -> None:
        policy = self._own_policy(arn)
        self._save(replace(policy, tags=tuple((k, v) for k, v in policy.tags if k not in keys)))
