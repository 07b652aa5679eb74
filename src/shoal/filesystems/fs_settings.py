"""Per-file-system settings that change nothing on disk: lifecycle policies and the backup
policy.

Shoal has one storage class, so lifecycle policies move no file (every byte stays in
Standard, which ``SizeInBytes`` reports as ``ValueInStandard``), and Shoal takes no backups;
both are kept and answered as EFS answers them, because deployment tools write them and read
them back. A One Zone file system (``AvailabilityZoneName`` set) has automatic backups
``ENABLED`` unless its creation said ``Backup: false``, as on EFS; any other file system has
them ``DISABLED`` unless asked for.

State: ``_lifecycle`` and ``_backup`` map a file-system id to its setting; each change is
written to the store (kinds ``fslifecycle`` and ``fsbackup``) before memory changes, so a
failed write changes nothing and a restart reloads them. Event loop only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shoal.filesystems.models import FileSystem
from shoal.filesystems.rules import bad_request

if TYPE_CHECKING:
    from shoal.core import Shoal

TRANSITIONS = ("TransitionToIA", "TransitionToArchive", "TransitionToPrimaryStorageClass")


def check_lifecycle(policies: Sequence[Mapping[str, str]]) -> None:
    """EFS's rules: each policy holds exactly one transition, each transition at most once."""
    seen: set[str] = set()
    for policy in policies:
        kinds = [k for k in TRANSITIONS if policy.get(k)]
        if len(kinds) != 1:
            raise bad_request(
                "Each LifecyclePolicy object must have exactly one transition: "
                + ", ".join(TRANSITIONS)
                + "."
            )
        if kinds[0] in seen:
            raise bad_request(f"LifecyclePolicies may contain only one {kinds[0]} policy.")
        seen.add(kinds[0])


class FileSystemSettings:
    LIFECYCLE = "fslifecycle"
    BACKUP = "fsbackup"

    def __init__(self, shoal: Shoal) -> None:
        self.store = shoal.store
        self._lifecycle: dict[str, list[dict[str, str]]] = {
            k: list(doc["policies"]) for k, doc in self.store.load(self.LIFECYCLE).items()
        }
        self._backup: dict[str, str] = {
            k: str(doc["status"]) for k, doc in self.store.load(self.BACKUP).items()
        }

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def lifecycle(self, fs: FileSystem) -> list[dict[str, str]]:
        return list(self._lifecycle.get(fs.id, ()))

    def put_lifecycle(
        self, fs: FileSystem, policies: Sequence[Mapping[str, str]]
    ) -> list[dict[str, str]]:
        """Replace the policies; an empty list removes them, as on EFS."""
        check_lifecycle(policies)
        kept = [{k: v for k, v in p.items() if k in TRANSITIONS and v} for p in policies]
        if kept:
            self.store.put(self.LIFECYCLE, fs.id, {"policies": kept})
            self._lifecycle[fs.id] = kept
        else:
            self.store.delete(self.LIFECYCLE, fs.id)
            self._lifecycle.pop(fs.id, None)
        return list(kept)

    def backup(self, fs: FileSystem) -> str:
        default = "ENABLED" if fs.availability_zone else "DISABLED"
        return self._backup.get(fs.id, default)

    def put_backup(self, fs: FileSystem, status: str) -> str:
        if status not in ("ENABLED", "DISABLED"):
            raise bad_request(f"Backup policy status must be ENABLED or DISABLED, not {status}.")
        self.store.put(self.BACKUP, fs.id, {"status": status})
        self._backup[fs.id] = status
        return status

    def forget(self, fs_id: str) -> None:
        """The file system is gone: so are its settings."""
        for kind, table in ((self.LIFECYCLE, self._lifecycle), (self.BACKUP, self._backup)):
            self.store.delete(kind, fs_id)
            table.pop(fs_id, None)

    def describe(self, fs: FileSystem) -> dict[str, Any]:
        return {"LifecyclePolicies": self.lifecycle(fs)}
