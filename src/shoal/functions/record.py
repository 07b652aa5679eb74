"""One function's mutable record, and the small helpers every part of the function service uses.

A :class:`FunctionRecord` is owned by :class:`shoal.functions.service.FunctionService` and is
only read or changed on the event loop; the modules beside this one (``lifecycle``,
``versions``, ``aliases``) are operations on a record that do no I/O and no notification: the
service persists the record and tells its subscribers after each of them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shoal.errors import AwsError, not_found
from shoal.functions.models import LATEST, Alias, FunctionVersion


def now_iso() -> str:
    """Lambda's LastModified format: ``2024-01-31T12:00:00.000+0000``."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}+0000"


def new_revision() -> str:
    return str(uuid.uuid4())


def check_revision(given: str | None, current: str) -> None:
    """Raise PreconditionFailedException when a caller's RevisionId is not the current one."""
    if given and given != current:
        raise AwsError(
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. Call "
            "the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )


@dataclass
class FunctionRecord:
    """One function's mutable record, owned by the service (event loop only)."""

    latest: FunctionVersion
    versions: dict[str, FunctionVersion] = field(default_factory=dict)  # "1", "2"... published
    aliases: dict[str, Alias] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    next_version: int = 1  # Lambda never reuses a version number, even after deletion
    # $LATEST as it was before the update in progress: what invocations run meanwhile.
    previous: FunctionVersion | None = None
    # ReservedConcurrentExecutions (PutFunctionConcurrency); None when not reserved.
    reserved: int | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "latest": self.latest.to_doc(),
            "versions": [v.to_doc() for v in self.versions.values()],
            "aliases": [a.to_doc() for a in self.aliases.values()],
            "tags": self.tags,
            "next_version": self.next_version,
            "previous": self.previous.to_doc() if self.previous else None,
            "reserved": self.reserved,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FunctionRecord:
        versions = [FunctionVersion.from_doc(v) for v in doc.get("versions", ())]
        aliases = [Alias.from_doc(a) for a in doc.get("aliases", ())]
        previous = doc.get("previous")
        return cls(
            latest=FunctionVersion.from_doc(doc["latest"]),
            versions={v.version: v for v in versions},
            aliases={a.name: a for a in aliases},
            tags=dict(doc.get("tags", {})),
            next_version=int(doc.get("next_version", 1)),
            previous=FunctionVersion.from_doc(previous) if previous else None,
            reserved=doc.get("reserved"),
        )

    def draft(self) -> FunctionRecord:
        """A copy to change: its versions and aliases are frozen, its dicts are new."""
        return replace(
            self, versions=dict(self.versions), aliases=dict(self.aliases), tags=dict(self.tags)
        )

    def every_version(self) -> list[FunctionVersion]:
        """$LATEST, the one a failed update goes back to, and the published versions."""
        versions = (self.latest, self.previous, *self.versions.values())
        return [v for v in versions if v is not None]

    def packages(self) -> set[str]:
        """The hex names of the code packages its versions run."""
        return {Path(v.code_dir).name for v in self.every_version()}

    def busy(self) -> bool:
        """Pending or updating: any other change is refused until the background task ends."""
        return self.latest.state == "Pending" or self.latest.last_update_status == "InProgress"

    def version(self, version: str) -> FunctionVersion:
        """$LATEST or a published version; ResourceNotFoundException for any other."""
        if version == LATEST:
            return self.latest
        if version not in self.versions:
            raise not_found(f"Function not found: {self.latest.function_arn}:{version}")
        return self.versions[version]
