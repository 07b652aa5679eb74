"""What IAM's API modules share: the service, the wire form of users, groups, roles and
policies, URL-encoded policy documents, tags, and Marker/MaxItems pagination.

IAM answers policy documents URL-encoded (RFC 3986), as AWS does; botocore decodes them.
A page's ``Marker`` is the position of the next item, opaque to the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from shoal.api.query_router import FormCall
from shoal.errors import AwsError
from shoal.iam.models import Entity, ManagedPolicy
from shoal.iam.service import IamService

T = TypeVar("T")
DEFAULT_MAX_ITEMS = 100


def iam(call: FormCall) -> IamService:
    service: IamService = call.shoal.iam
    return service


def encoded(document: str) -> str:
    return quote(document, safe="")


def tag_list(tags: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags]


def tags_in(call: FormCall) -> tuple[tuple[str, str], ...]:
    return tuple((t["Key"], t["Value"]) for t in call.params.get("Tags") or ())


def page(call: FormCall, items: Sequence[T], key: str, render: Any = None) -> dict[str, Any]:
    """``items`` from ``Marker`` on, at most ``MaxItems``, under ``key``."""
    marker = call.params.get("Marker")
    start = 0
    if marker is not None:
        if not marker.isdigit() or int(marker) > len(items):
            raise AwsError("ValidationError", "Invalid Marker.", 400)
        start = int(marker)
    size = call.params.get("MaxItems") or DEFAULT_MAX_ITEMS
    chunk = items[start : start + size]
    out: dict[str, Any] = {key: [render(i) for i in chunk] if render else list(chunk)}
    out["IsTruncated"] = start + size < len(items)
    if out["IsTruncated"]:
        out["Marker"] = str(start + size)
    return out


def entity(call: FormCall, e: Entity) -> dict[str, Any]:
    """A user, group or role as IAM's ``User``/``Group``/``Role`` shapes name it."""
    noun = e.kind.capitalize()
    out: dict[str, Any] = {
        "Path": e.path, f"{noun}Name": e.name, f"{noun}Id": e.id,
        "Arn": e.arn(iam(call).account), "CreateDate": e.created,
    }  # fmt: skip
    if e.kind == "role":
        out["AssumeRolePolicyDocument"] = encoded(e.trust)
        out["MaxSessionDuration"] = e.max_session
        if e.description:
            out["Description"] = e.description
    if e.tags and e.kind != "group":
        out["Tags"] = tag_list(e.tags)
    return out


def policy(call: FormCall, p: ManagedPolicy) -> dict[str, Any]:
    return {
        "PolicyName": p.name, "PolicyId": p.id, "Arn": p.arn, "Path": p.path,
        "DefaultVersionId": p.default,
        "AttachmentCount": len(iam(call).directory.attached_to(p.arn)),
        "PermissionsBoundaryUsageCount": 0, "IsAttachable": True,
        "CreateDate": p.created, "UpdateDate": p.updated,
        **({"Description": p.description} if p.description else {}),
        **({"Tags": tag_list(p.tags)} if p.tags else {}),
    }  # fmt: skip
