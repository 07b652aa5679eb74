"""A layer version's resource policy: the statements AddLayerVersionPermission adds.

Shoal has no shared IAM policy engine yet (the file-system policy evaluator in
``shoal.filesystems.policy`` is EFS's own), and one account per server means no principal is
ever refused a layer: the policy is kept as Lambda shows it, statement by statement, and
rendered in Lambda's shapes (``Statement`` and ``Policy`` are JSON strings on the wire). When an
IAM engine arrives, it evaluates these documents as they are.

Pure functions over a tuple of statements; the layer service persists the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from shoal.errors import AwsError, conflict, not_found

ACTION = "lambda:GetLayerVersion"
_ACCOUNT = re.compile(r"^\d{12}$")


def precondition_failed() -> AwsError:
    return AwsError(
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the "
        "GetLayerPolicy API to retrieve the latest Revision Id",
    )


def statement(
    sid: str, principal: str, version_arn: str, organization_id: str | None
) -> dict[str, Any]:
    """The statement Lambda stores for one AddLayerVersionPermission call."""
    who: Any = principal
    if _ACCOUNT.match(principal):
        who = {"AWS": f"arn:aws:iam::{principal}:root"}
    elif principal != "*":
        who = {"AWS": principal}
    out: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": who,
        "Action": ACTION,
        "Resource": version_arn,
    }
    if organization_id:
        out["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": organization_id}}
    return out


def add(
    statements: Sequence[Mapping[str, Any]], new: Mapping[str, Any]
) -> tuple[Mapping[str, Any], ...]:
    if any(s["Sid"] == new["Sid"] for s in statements):
        raise conflict(
            f"The statement id ({new['Sid']}) provided already exists. Please provide a new "
            "statement id, or remove the existing statement."
        )
    return (*statements, new)


def remove(statements: Sequence[Mapping[str, Any]], sid: str) -> tuple[Mapping[str, Any], ...]:
    kept = tuple(s for s in statements if s["Sid"] != sid)
    if len(kept) == len(statements):
        raise not_found(f"Statement {sid} is not found in resource policy.")
    return kept


def document(statements: Sequence[Mapping[str, Any]]) -> str:
    """GetLayerVersionPolicy's ``Policy``: the whole document as a JSON string."""
    if not statements:
        raise not_found("No policy is associated with the given resource.")
    return json.dumps(
        {"Version": "2012-10-17", "Id": "default", "Statement": list(statements)},
        separators=(",", ":"),
    )


def render(statement_doc: Mapping[str, Any]) -> str:
    return json.dumps(dict(statement_doc), separators=(",", ":"))
