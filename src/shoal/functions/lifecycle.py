"""A function's life cycle, as Lambda's: the states a change moves $LATEST through.

CreateFunction answers ``State: Pending``; an update answers ``LastUpdateStatus: InProgress``.
When the package is unpacked, :func:`settle` makes the function ``Active``/``Successful`` (or
``Failed``), and with it every version published while it was pending. While a function is
busy, any other change is refused with :func:`in_progress`'s ResourceConflictException.

These are operations on a :class:`FunctionRecord` without I/O; the service runs the unpacking,
persists the record and notifies its subscribers.
"""

from __future__ import annotations

from dataclasses import replace

from shoal.errors import AwsError, conflict
from shoal.functions.models import FunctionVersion
from shoal.functions.record import FunctionRecord, new_revision


def in_progress(fv: FunctionVersion) -> AwsError:
    if fv.state == "Pending":
        return conflict(
            "The operation cannot be performed at this time. The function is currently in the "
            "following state: Pending"
        )
    return conflict(
        "The operation cannot be performed at this time. An update is in progress for "
        f"resource: {fv.function_arn}"
    )


def check_idle(fn: FunctionRecord) -> None:
    """Refuse a change while the function is being created or updated."""
    if fn.busy():
        raise in_progress(fn.latest)


def pending(fv: FunctionVersion) -> FunctionVersion:
    """``fv`` in State Pending: its package is not unpacked yet."""
    return replace(
        fv,
        state="Pending",
        state_reason="The function is being created.",
        state_reason_code="Creating",
    )


def creating(fv: FunctionVersion) -> FunctionVersion:
    """A new function's $LATEST, Pending until its package is unpacked."""
    return replace(pending(fv), last_update_status="InProgress")


def start_update(fn: FunctionRecord, new: FunctionVersion) -> None:
    """Make ``new`` $LATEST, InProgress; invocations run the previous $LATEST meanwhile."""
    fn.previous = fn.latest
    fn.latest = replace(
        new,
        last_update_status="InProgress",
        last_update_status_reason="The function is being updated.",
        last_update_status_reason_code=None,
    )


def settle(fn: FunctionRecord, code_dir: str, error: str | None) -> None:
    """End the creation or update whose package is ``code_dir``: ``error`` says why unpacking
    it failed, None when it succeeded. Versions published meanwhile settle with it."""
    code = "InvalidZipFileException" if error else None
    status = "Failed" if error else "Successful"
    latest = replace(fn.latest, revision_id=new_revision(), last_update_status=status)
    if latest.state == "Pending":
        # A failed creation shows in State; the update status stays empty.
        latest = replace(
            latest,
            state="Failed" if error else "Active",
            state_reason=error,
            state_reason_code=code,
        )
    else:
        latest = replace(
            latest, last_update_status_reason=error, last_update_status_reason_code=code
        )
        if not error:
            # A good update also revives a function whose creation failed.
            latest = replace(latest, state="Active", state_reason=None, state_reason_code=None)
            fn.previous = None
    fn.latest = latest
    for number, version in list(fn.versions.items()):
        if version.state == "Pending" and version.code_dir == code_dir:
            fn.versions[number] = replace(
                version,
                revision_id=new_revision(),
                state="Failed" if error else "Active",
                state_reason=error,
                state_reason_code=code,
            )
