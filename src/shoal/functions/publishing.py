"""Published versions: PublishVersion's rules, the numbering of versions, their deletion.

A published version is a frozen copy of $LATEST with its own number; Lambda never reuses a
number, and publishing a $LATEST that has not changed since the newest version returns that
version instead of a new one. Operations on a :class:`FunctionRecord` without I/O; the service
persists the record and notifies its subscribers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shoal.errors import conflict, invalid_parameter
from shoal.functions import lifecycle
from shoal.functions.models import FunctionVersion
from shoal.functions.record import FunctionRecord, check_revision, new_revision

# Fields that make two configurations "the same" for PublishVersion: everything but identity,
# timestamps and state, and the description (PublishVersion sets the version's own).
_VOLATILE = {
    "version",
    "description",
    "last_modified",
    "revision_id",
    "state",
    "state_reason",
    "state_reason_code",
    "last_update_status",
    "last_update_status_reason",
    "last_update_status_reason_code",
}


def _fingerprint(fv: FunctionVersion) -> dict[str, Any]:
    return {k: v for k, v in fv.to_doc().items() if k not in _VOLATILE}


def ordered(fn: FunctionRecord) -> list[FunctionVersion]:
    """$LATEST then the published versions in order, as ListVersionsByFunction lists them."""
    return [fn.latest, *sorted(fn.versions.values(), key=lambda v: int(v.version))]


def check_publish(fn: FunctionRecord, code_sha256: str | None, revision_id: str | None) -> None:
    """PublishVersion's preconditions: the caller's view of $LATEST is current, and idle."""
    if code_sha256 and code_sha256 != fn.latest.code_sha256:
        raise invalid_parameter(
            f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
            f"({fn.latest.code_sha256}). Please try again with the CodeSHA256 in $LATEST."
        )
    check_revision(revision_id, fn.latest.revision_id)
    lifecycle.check_idle(fn)


def publish(fn: FunctionRecord, description: str | None) -> FunctionVersion:
    """A new version from $LATEST, or the newest one if nothing changed since it."""
    if fn.versions:
        newest = fn.versions[max(fn.versions, key=int)]
        if _fingerprint(newest) == _fingerprint(fn.latest):
            return newest
    number = str(fn.next_version)
    fn.next_version += 1
    version = replace(
        fn.latest,
        version=number,
        revision_id=new_revision(),
        last_update_status="Successful",
        last_update_status_reason=None,
        last_update_status_reason_code=None,
        description=fn.latest.description if description is None else description,
    )
    if fn.busy():
        # Published from a $LATEST still being created or updated: it settles with it.
        version = lifecycle.pending(version)
    fn.versions[number] = version
    # Publishing changes $LATEST's revision too, as in Lambda.
    fn.latest = replace(fn.latest, revision_id=new_revision())
    return version


def delete(fn: FunctionRecord, number: str) -> None:
    """Delete published version ``number`` (which exists), unless an alias routes to it."""
    users = sorted(
        a.name for a in fn.aliases.values() if a.function_version == number or number in a.routing
    )
    if users:
        raise conflict(
            "Unable to delete version because the following aliases reference "
            f"it: [{', '.join(users)}]"
        )
    del fn.versions[number]
