"""IAM's users, groups (and membership) and roles: create, get, list, update, delete, tags.
The state is ``shoal.iam``'s (:mod:`shoal.iam.directory`)."""

from __future__ import annotations

from typing import Any

from shoal.api.iam_scope import entity, iam, page, tag_list, tags_in
from shoal.api.query_router import FormCall, iam_api
from shoal.iam.models import GROUP, ROLE, USER

# ------------------------------------------------------------------------------- users


@iam_api.handles("CreateUser")
async def create_user(call: FormCall) -> dict[str, Any]:
    p = call.params
    user = iam(call).directory.create(USER, p["UserName"], p.get("Path", "/"), tags=tags_in(call))
    return {"User": entity(call, user)}


@iam_api.handles("GetUser")
async def get_user(call: FormCall) -> dict[str, Any]:
    name = call.params.get("UserName") or (call.principal and call.principal.user_name)
    if not name:  # the account root, as AWS answers GetUser for it
        root = iam(call).root
        return {"User": {"Path": "/", "UserName": "root", "UserId": root.account,
                         "Arn": root.arn, "CreateDate": 0}}  # fmt: skip
    return {"User": entity(call, iam(call).directory.get(USER, name))}


@iam_api.handles("ListUsers")
async def list_users(call: FormCall) -> dict[str, Any]:
    users = iam(call).directory.all(USER, call.params.get("PathPrefix", "/"))
    return page(call, users, "Users", lambda u: entity(call, u))


@iam_api.handles("UpdateUser")
async def update_user(call: FormCall) -> None:
    p = call.params
    user = iam(call).directory.get(USER, p["UserName"])
    iam(call).directory.rename(
        USER, user.name, p.get("NewUserName", user.name), p.get("NewPath", user.path)
    )


@iam_api.handles("DeleteUser")
async def delete_user(call: FormCall) -> None:
    iam(call).directory.delete(USER, call.params["UserName"])


# ------------------------------------------------------------------------------- groups


@iam_api.handles("CreateGroup")
async def create_group(call: FormCall) -> dict[str, Any]:
    p = call.params
    group = iam(call).directory.create(GROUP, p["GroupName"], p.get("Path", "/"))
    return {"Group": entity(call, group)}


@iam_api.handles("GetGroup")
async def get_group(call: FormCall) -> dict[str, Any]:
    directory = iam(call).directory
    group = directory.get(GROUP, call.params["GroupName"])
    users = [directory.get(USER, name) for name in group.members]
    return {"Group": entity(call, group), **page(call, users, "Users", lambda u: entity(call, u))}


@iam_api.handles("ListGroups")
async def list_groups(call: FormCall) -> dict[str, Any]:
    groups = iam(call).directory.all(GROUP, call.params.get("PathPrefix", "/"))
    return page(call, groups, "Groups", lambda g: entity(call, g))


@iam_api.handles("UpdateGroup")
async def update_group(call: FormCall) -> None:
    p = call.params
    group = iam(call).directory.get(GROUP, p["GroupName"])
    iam(call).directory.rename(
        GROUP, group.name, p.get("NewGroupName", group.name), p.get("NewPath", group.path)
    )


@iam_api.handles("DeleteGroup")
async def delete_group(call: FormCall) -> None:
    iam(call).directory.delete(GROUP, call.params["GroupName"])


@iam_api.handles("AddUserToGroup")
async def add_user_to_group(call: FormCall) -> None:
    iam(call).directory.add_member(call.params["GroupName"], call.params["UserName"])


@iam_api.handles("RemoveUserFromGroup")
async def remove_user_from_group(call: FormCall) -> None:
    iam(call).directory.remove_member(call.params["GroupName"], call.params["UserName"])


@iam_api.handles("ListGroupsForUser")
async def list_groups_for_user(call: FormCall) -> dict[str, Any]:
    groups = iam(call).directory.groups_of(call.params["UserName"])
    return page(call, groups, "Groups", lambda g: entity(call, g))


# ------------------------------------------------------------------------------- roles


@iam_api.handles("CreateRole")
async def create_role(call: FormCall) -> dict[str, Any]:
    p = call.params
    role = iam(call).directory.create(
        ROLE, p["RoleName"], p.get("Path", "/"), tags=tags_in(call),
        trust=p["AssumeRolePolicyDocument"], description=p.get("Description", ""),
        max_session=p.get("MaxSessionDuration", 3600),
    )  # fmt: skip
    return {"Role": entity(call, role)}


@iam_api.handles("GetRole")
async def get_role(call: FormCall) -> dict[str, Any]:
    role = iam(call).directory.get(ROLE, call.params["RoleName"])
    return {"Role": {**entity(call, role), "RoleLastUsed": {}}}


@iam_api.handles("ListRoles")
async def list_roles(call: FormCall) -> dict[str, Any]:
    roles = iam(call).directory.all(ROLE, call.params.get("PathPrefix", "/"))
    return page(call, roles, "Roles", lambda r: entity(call, r))


@iam_api.handles("UpdateRole")
async def update_role(call: FormCall) -> None:
    p = call.params
    changes: dict[str, Any] = {}
    if "Description" in p:
        changes["description"] = p["Description"]
    if "MaxSessionDuration" in p:
        changes["max_session"] = p["MaxSessionDuration"]
    iam(call).directory.update(ROLE, p["RoleName"], **changes)


@iam_api.handles("UpdateAssumeRolePolicy")
async def update_assume_role_policy(call: FormCall) -> None:
    p = call.params
    iam(call).directory.update(ROLE, p["RoleName"], trust=p["PolicyDocument"])


@iam_api.handles("ListInstanceProfilesForRole")
async def list_instance_profiles_for_role(call: FormCall) -> dict[str, Any]:
    """Shoal has no instance profiles (no EC2 instances); Terraform asks before DeleteRole."""
    iam(call).directory.get(ROLE, call.params["RoleName"])
    return {"InstanceProfiles": [], "IsTruncated": False}


@iam_api.handles("DeleteRole")
async def delete_role(call: FormCall) -> None:
    iam(call).directory.delete(ROLE, call.params["RoleName"])


# ------------------------------------------------------------------------------- tags


def _tag_handlers(kind: str, noun: str) -> None:
    name_key = f"{noun}Name"

    @iam_api.handles(f"Tag{noun}")
    async def tag(call: FormCall) -> None:
        iam(call).directory.tag(kind, call.params[name_key], dict(tags_in(call)))

    @iam_api.handles(f"Untag{noun}")
    async def untag(call: FormCall) -> None:
        iam(call).directory.untag(kind, call.params[name_key], call.params["TagKeys"])

    @iam_api.handles(f"List{noun}Tags")
    async def list_tags(call: FormCall) -> dict[str, Any]:
        found = iam(call).directory.get(kind, call.params[name_key])
        return page(call, tag_list(found.tags), "Tags")


_tag_handlers(USER, "User")
_tag_handlers(ROLE, "Role")
