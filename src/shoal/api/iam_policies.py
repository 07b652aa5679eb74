"""IAM policies: customer managed policies and their versions, AWS managed policies (read-only),
inline policies of users, groups and roles, and attaching managed policies to them.

The inline and attach operations are the same for the three kinds of entity; they are
registered once per kind (``PutUserPolicy``, ``PutGroupPolicy``, ``PutRolePolicy``…).
"""

from __future__ import annotations

from typing import Any

from shoal.api.iam_scope import encoded, iam, page, policy, tags_in
from shoal.api.query_router import FormCall, iam_api
from shoal.iam.models import GROUP, ROLE, USER, PolicyVersion

# -------------------------------------------------------------------- managed policies


def _version(v: PolicyVersion, default: str, document: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"VersionId": v.id, "IsDefaultVersion": v.id == default,
                           "CreateDate": v.created}  # fmt: skip
    if document:
        out["Document"] = encoded(v.document)
    return out


@iam_api.handles("CreatePolicy")
async def create_policy(call: FormCall) -> dict[str, Any]:
    p = call.params
    created = iam(call).policies.create(
        p["PolicyName"], p.get("Path", "/"), p["PolicyDocument"], p.get("Description", ""),
        tags_in(call),
    )  # fmt: skip
    return {"Policy": policy(call, created)}


@iam_api.handles("GetPolicy")
async def get_policy(call: FormCall) -> dict[str, Any]:
    return {"Policy": policy(call, iam(call).policies.get(call.params["PolicyArn"]))}


@iam_api.handles("DeletePolicy")
async def delete_policy(call: FormCall) -> None:
    arn = call.params["PolicyArn"]
    svc = iam(call)
    svc.policies.delete(arn, len(svc.directory.attached_to(arn)))


@iam_api.handles("ListPolicies")
async def list_policies(call: FormCall) -> dict[str, Any]:
    p = call.params
    svc = iam(call)
    scope = p.get("Scope", "All")
    found = [
        x for x in svc.policies.all()
        if (scope == "All" or (scope == "AWS") == x.aws)
        and x.path.startswith(p.get("PathPrefix", "/"))
        and (not p.get("OnlyAttached") or svc.directory.attached_to(x.arn))
    ]  # fmt: skip
    return page(call, found, "Policies", lambda x: policy(call, x))


@iam_api.handles("CreatePolicyVersion")
async def create_policy_version(call: FormCall) -> dict[str, Any]:
    p = call.params
    policies = iam(call).policies
    v = policies.create_version(p["PolicyArn"], p["PolicyDocument"], p.get("SetAsDefault", False))
    return {"PolicyVersion": _version(v, policies.get(p["PolicyArn"]).default, document=False)}


@iam_api.handles("GetPolicyVersion")
async def get_policy_version(call: FormCall) -> dict[str, Any]:
    p = call.params
    policies = iam(call).policies
    v = policies.version(p["PolicyArn"], p["VersionId"])
    return {"PolicyVersion": _version(v, policies.get(p["PolicyArn"]).default)}


@iam_api.handles("ListPolicyVersions")
async def list_policy_versions(call: FormCall) -> dict[str, Any]:
    found = iam(call).policies.get(call.params["PolicyArn"])
    versions = sorted(found.versions, key=lambda v: -v.created)
    return page(call, versions, "Versions", lambda v: _version(v, found.default, False))


@iam_api.handles("SetDefaultPolicyVersion")
async def set_default_policy_version(call: FormCall) -> None:
    iam(call).policies.set_default(call.params["PolicyArn"], call.params["VersionId"])


@iam_api.handles("DeletePolicyVersion")
async def delete_policy_version(call: FormCall) -> None:
    iam(call).policies.delete_version(call.params["PolicyArn"], call.params["VersionId"])


@iam_api.handles("TagPolicy")
async def tag_policy(call: FormCall) -> None:
    iam(call).policies.tag(call.params["PolicyArn"], dict(tags_in(call)))


@iam_api.handles("UntagPolicy")
async def untag_policy(call: FormCall) -> None:
    iam(call).policies.untag(call.params["PolicyArn"], call.params["TagKeys"])


@iam_api.handles("ListPolicyTags")
async def list_policy_tags(call: FormCall) -> dict[str, Any]:
    found = iam(call).policies.get(call.params["PolicyArn"])
    return page(call, [{"Key": k, "Value": v} for k, v in found.tags], "Tags")


@iam_api.handles("ListEntitiesForPolicy")
async def list_entities_for_policy(call: FormCall) -> dict[str, Any]:
    p = call.params
    svc = iam(call)
    svc.policies.get(p["PolicyArn"])
    wanted = {"User": [USER], "Group": [GROUP], "Role": [ROLE]}.get(
        p.get("EntityFilter", ""), [USER, GROUP, ROLE]
    )
    found = [e for e in svc.directory.attached_to(p["PolicyArn"]) if e.kind in wanted
             and e.path.startswith(p.get("PathPrefix", "/"))]  # fmt: skip
    out: dict[str, Any] = {"PolicyUsers": [], "PolicyGroups": [], "PolicyRoles": []}
    for e in found:
        noun = e.kind.capitalize()
        out[f"Policy{noun}s"].append({f"{noun}Name": e.name, f"{noun}Id": e.id})
    out["IsTruncated"] = False
    return out


# -------------------------------------------------------------------- per entity


def _entity_handlers(kind: str, noun: str) -> None:
    name_key = f"{noun}Name"

    @iam_api.handles(f"Put{noun}Policy")
    async def put(call: FormCall) -> None:
        p = call.params
        iam(call).directory.put_inline(kind, p[name_key], p["PolicyName"], p["PolicyDocument"])

    @iam_api.handles(f"Get{noun}Policy")
    async def get(call: FormCall) -> dict[str, Any]:
        p = call.params
        document = iam(call).directory.inline(kind, p[name_key], p["PolicyName"])
        return {name_key: iam(call).directory.get(kind, p[name_key]).name,
                "PolicyName": p["PolicyName"], "PolicyDocument": encoded(document)}  # fmt: skip

    @iam_api.handles(f"Delete{noun}Policy")
    async def delete(call: FormCall) -> None:
        p = call.params
        iam(call).directory.delete_inline(kind, p[name_key], p["PolicyName"])

    @iam_api.handles(f"List{noun}Policies")
    async def list_inline(call: FormCall) -> dict[str, Any]:
        found = iam(call).directory.get(kind, call.params[name_key])
        return page(call, [n for n, _ in found.inline], "PolicyNames")

    @iam_api.handles(f"Attach{noun}Policy")
    async def attach(call: FormCall) -> None:
        iam(call).directory.attach(kind, call.params[name_key], call.params["PolicyArn"])

    @iam_api.handles(f"Detach{noun}Policy")
    async def detach(call: FormCall) -> None:
        iam(call).directory.detach(kind, call.params[name_key], call.params["PolicyArn"])

    @iam_api.handles(f"ListAttached{noun}Policies")
    async def list_attached(call: FormCall) -> dict[str, Any]:
        svc = iam(call)
        found = svc.directory.get(kind, call.params[name_key])
        prefix = call.params.get("PathPrefix", "/")
        attached = [svc.policies.attachable(a) for a in found.attached]
        attached = [a for a in attached if a.path.startswith(prefix)]
        return page(call, attached, "AttachedPolicies",
                    lambda a: {"PolicyName": a.name, "PolicyArn": a.arn})  # fmt: skip


for _kind, _noun in ((USER, "User"), (GROUP, "Group"), (ROLE, "Role")):
    _entity_handlers(_kind, _noun)
