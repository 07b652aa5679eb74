"""The file-system policies that are set, and what they decide for a client.

One policy per file system at the most (PutFileSystemPolicy replaces it), kept in memory as its
text and its parsed form, and written through to the store (kind ``fspolicy``, under the file
system's id): saved first, then put in memory, so a write the store refuses changes nothing. A
change re-syncs the file system's mount targets, whose exports apply it. What a policy document
means and how it is evaluated is :mod:`shoal.filesystems.policy`; this module holds the ones
that are set and evaluates them, with a principal's IAM identity policies, for the service's
callers (the API's authorization, mounts, mount targets, the host-path endpoint).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoal.errors import AwsError
from shoal.filesystems import policy
from shoal.filesystems.identity import Identity, decide
from shoal.filesystems.models import AccessPoint, FileSystem
from shoal.policy import Principal

if TYPE_CHECKING:
    from shoal.filesystems.service import FileSystemService

KIND = "fspolicy"


class FileSystemPolicies:
    def __init__(self, service: FileSystemService) -> None:
        self.service = service
        self.store = service.store
        self._policies: dict[str, tuple[str, policy.Policy]] = {}  # fs id -> (text, compiled)
        for key, doc in self.store.load(KIND).items():
            self._policies[key] = (doc["policy"], policy.parse(doc["policy"]))

    def put(self, fs_id: str, text: str) -> str:
        fs = self.service.get_file_system(fs_id)
        parsed = policy.parse(text)
        self.store.put(KIND, fs.id, {"policy": text})
        self._policies[fs.id] = (text, parsed)
        self.service.targets.changed(fs.id)
        return text

    def get(self, fs_id: str) -> str:
        fs = self.service.get_file_system(fs_id)
        found = self._policies.get(fs.id)
        if found is None:
            raise AwsError("PolicyNotFound", f"No policy is set for file system '{fs.id}'.")
        return found[0]

    def of(self, fs_id: str) -> policy.Policy | None:
        """The parsed file-system policy of ``fs_id`` (an id), or None: what authorizing an
        API call on that file system evaluates as its resource policy."""
        found = self._policies.get(fs_id)
        return found[1] if found else None

    def delete(self, fs_id: str) -> None:
        fs = self.service.get_file_system(fs_id)
        if fs.id in self._policies:
            self.store.delete(KIND, fs.id)
            del self._policies[fs.id]
            self.service.targets.changed(fs.id)

    def forget(self, fs_id: str) -> None:
        """Drop a deleted file system's policy from memory (its document went with it)."""
        self._policies.pop(fs_id, None)

    def access(
        self, fs: FileSystem, ap: AccessPoint | None, principal: str | Principal | None,
        secure_transport: bool = True,
    ) -> policy.Access:
        """What ``principal`` (a role ARN or session: an IAM client, with its identity
        policies; None: an anonymous client) may do on ``fs`` through ``ap``
        (:mod:`shoal.filesystems.policy`); ``secure_transport`` False: a plaintext NFS client."""
        found = self._policies.get(fs.id)
        identity: list[policy.Policy] = []
        if principal is not None:
            if isinstance(principal, str):
                principal = policy.role_session(principal, "shoal")
            iam = getattr(self.service.shoal, "iam", None)
            identity = iam.identity_policies(principal) if iam is not None else []
        return policy.evaluate(
            found[1] if found else None,
            principal=principal,
            file_system_arn=fs.arn,
            access_point_arn=ap.arn if ap else None,
            identity=identity,
            secure_transport=secure_transport,
        )

    def identity(
        self, fs: FileSystem, ap: AccessPoint | None, principal: str | Principal | None,
        secure_transport: bool = True,
    ) -> Identity:
        """The identity rule for ``principal`` (None: an NFS or host client) on ``ap`` (None:
        the whole file system): what every path applies (see shoal.filesystems.identity)."""
        return decide(ap, self.access(fs, ap, principal, secure_transport))
