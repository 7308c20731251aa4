"""IAM instance profiles: the container EC2 (and EKS node groups) pass a role to instances in.

One record per profile (kind ``iam:instance-profile``) holding the keys of its roles; IAM allows
one role per profile (its quota InstanceSessionsPerInstanceProfile). The profile's ``Roles`` are
rendered from the role records at read time, so they always show the role as it is now.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from podwarden.control.aws.iam_common import (
    PROFILE,
    ROLE,
    fail,
    get_role,
    key,
    merge_tags,
    new_id,
    normalize_path,
    page,
    update,
    when,
)
from podwarden.control.aws.iam_roles import role_out
from podwarden.control.context import Context
from podwarden.store.resources import Duplicate, Record

T = TypeVar("T")
ROLES_PER_PROFILE = 1


def _missing(name: str) -> NoReturn:
    fail("NoSuchEntity", f"Instance Profile {name} cannot be found.")


def _profile(ctx: Context, name: str) -> dict[str, Any]:
    rec = ctx.store.resources.get(PROFILE, ctx.account, key(name))
    if rec is None:
        _missing(name)
    return rec.doc


def profile_out(ctx: Context, doc: dict[str, Any]) -> dict[str, Any]:
    members = [ctx.store.resources.get(ROLE, ctx.account, k) for k in doc["Roles"]]
    out: dict[str, Any] = {
        "Path": doc["Path"],
        "InstanceProfileName": doc["InstanceProfileName"],
        "InstanceProfileId": doc["InstanceProfileId"],
        "Arn": doc["Arn"],
        "CreateDate": when(doc["CreateDate"]),
        "Roles": [role_out(r.doc, "list") for r in members if r is not None],
    }
    if doc["Tags"]:
        out["Tags"] = doc["Tags"]
    return out


def create_instance_profile(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, path, now = params["InstanceProfileName"], normalize_path(params.get("Path")), ctx.now()
    doc = {
        "InstanceProfileName": name,
        "InstanceProfileId": new_id("AIPA"),
        "Path": path,
        "Arn": f"arn:aws:iam::{ctx.account}:instance-profile{path}{name}",
        "CreateDate": now,
        "Roles": [],
        "Tags": merge_tags([], params.get("Tags") or []),
    }
    record = Record(kind=PROFILE, scope=ctx.account, key=key(name), doc=doc, created=now)
    try:
        ctx.store.resources.create(record)
    except Duplicate:
        fail("EntityAlreadyExists", f"Instance Profile {name} already exists.")
    return {"InstanceProfile": profile_out(ctx, doc)}


def get_instance_profile(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"InstanceProfile": profile_out(ctx, _profile(ctx, params["InstanceProfileName"]))}


def _change(ctx: Context, name: str, change: Callable[[dict[str, Any]], T]) -> T:
    return update(ctx, PROFILE, name, change, lambda: _missing(name))


def add_role_to_instance_profile(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    role = key(get_role(ctx, params["RoleName"]).doc["RoleName"])

    def change(doc: dict[str, Any]) -> None:
        if role in doc["Roles"] or len(doc["Roles"]) >= ROLES_PER_PROFILE:
            fail(
                "LimitExceeded",
                f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_PROFILE}",
            )
        doc["Roles"].append(role)

    _change(ctx, params["InstanceProfileName"], change)
    return {}


def remove_role_from_instance_profile(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    role = params["RoleName"]

    def change(doc: dict[str, Any]) -> None:
        if key(role) not in doc["Roles"]:
            fail("NoSuchEntity", f"The role with name {role} cannot be found.")
        doc["Roles"].remove(key(role))

    _change(ctx, params["InstanceProfileName"], change)
    return {}


def delete_instance_profile(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    doc = _profile(ctx, params["InstanceProfileName"])
    if doc["Roles"]:
        fail(
            "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first."
        )
    ctx.store.resources.delete(PROFILE, ctx.account, key(doc["InstanceProfileName"]))
    return {}


def list_instance_profiles(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    prefix = params.get("PathPrefix") or "/"
    docs = sorted(
        (r.doc for r in ctx.store.resources.list(PROFILE, ctx.account)),
        key=lambda d: d["InstanceProfileName"].lower(),
    )
    chunk, more = page([d for d in docs if d["Path"].startswith(prefix)], params)
    return {"InstanceProfiles": [profile_out(ctx, d) for d in chunk], **more}


def list_instance_profiles_for_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    role = key(get_role(ctx, params["RoleName"]).doc["RoleName"])
    docs = sorted(
        (r.doc for r in ctx.store.resources.list(PROFILE, ctx.account) if role in r.doc["Roles"]),
        key=lambda d: d["InstanceProfileName"].lower(),
    )
    chunk, more = page(docs, params)
    return {"InstanceProfiles": [profile_out(ctx, d) for d in chunk], **more}


HANDLERS = {
    "CreateInstanceProfile": create_instance_profile,
    "GetInstanceProfile": get_instance_profile,
    "AddRoleToInstanceProfile": add_role_to_instance_profile,
    "RemoveRoleFromInstanceProfile": remove_role_from_instance_profile,
    "DeleteInstanceProfile": delete_instance_profile,
    "ListInstanceProfiles": list_instance_profiles,
    "ListInstanceProfilesForRole": list_instance_profiles_for_role,
}
