"""IAM instance profiles: the container EC2 (and EKS node groups) pass a role to instances in.

One record per profile (kind ``iam:instance-profile``) holding the keys of its roles and its tags;
IAM allows one role per profile (its quota InstanceSessionsPerInstanceProfile). The profile's
``Roles`` are rendered from the role records at read time, so they always show the role as it is
now. Create and Get return the profile's ``Tags``; ListInstanceProfiles leaves them out, as its
reference says IAM's resource-listings do, and so does ListInstanceProfilesForRole (a listing too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from podwarden.control.context import Context, Operations
from podwarden.control.iam import records
from podwarden.control.iam.paging import paged
from podwarden.control.iam.records import Doc, identity, key, new_id, normalize_path
from podwarden.control.iam.roles import get_role, role_out
from podwarden.control.iam.roles import missing as no_role
from podwarden.control.iam.tags import Tagged
from podwarden.model.aws import arns, kinds
from podwarden.model.errors import InUse, LimitExceeded, NotFound

T = TypeVar("T")
ROLES_PER_PROFILE = 1


def _missing(name: str) -> NotFound:
    return NotFound(reason="instance-profile-not-found", name=name)


def _profile(ctx: Context, name: str) -> Doc:
    return records.require(ctx, kinds.IAM_INSTANCE_PROFILE, key(name), _missing(name)).doc


def _profiles(ctx: Context, role: str | None = None) -> list[Doc]:
    """The account's profiles (those holding ``role``'s key, when given), sorted by name."""
    docs = [r.doc for r in records.of_kind(ctx, kinds.IAM_INSTANCE_PROFILE)]
    chosen = [d for d in docs if role is None or role in d["Roles"]]
    return sorted(chosen, key=lambda d: d["InstanceProfileName"].lower())


def profile_out(ctx: Context, doc: Doc, listing: bool = False) -> dict[str, Any]:
    """The InstanceProfile structure; a ``listing`` leaves out its tags, as IAM's do."""
    members = [records.get(ctx, kinds.IAM_ROLE, k) for k in doc["Roles"]]
    out = identity(doc, "InstanceProfile")
    out["Roles"] = [role_out(r.doc, "list") for r in members if r is not None]
    if doc["Tags"] and not listing:
        out["Tags"] = doc["Tags"]
    return out


def _listed(ctx: Context) -> Callable[[Doc], dict[str, Any]]:
    return lambda doc: profile_out(ctx, doc, listing=True)


def create_instance_profile(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, path, now = params["InstanceProfileName"], normalize_path(params.get("Path")), ctx.now()
    doc = {
        "InstanceProfileName": name,
        "InstanceProfileId": new_id("AIPA"),
        "Path": path,
        "Arn": arns.iam(ctx.account, "instance-profile", name, path),
        "CreateDate": now,
        "Roles": [],
        "Tags": TAGS.initial(params),
    }
    taken = InUse(reason="instance-profile-exists", name=name)
    records.create(ctx, kinds.IAM_INSTANCE_PROFILE, key(name), doc, taken)
    return {"InstanceProfile": profile_out(ctx, doc)}


def get_instance_profile(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"InstanceProfile": profile_out(ctx, _profile(ctx, params["InstanceProfileName"]))}


def _on_profile(ctx: Context, name: str, edit: Callable[[Doc], T]) -> T:
    return records.change(
        ctx, kinds.IAM_INSTANCE_PROFILE, key(name), edit, missing=_missing(name), label=name
    )


TAGS = Tagged(
    "InstanceProfile",
    edit=lambda ctx, params, edit: _on_profile(ctx, params["InstanceProfileName"], edit),
    read=lambda ctx, params: _profile(ctx, params["InstanceProfileName"])["Tags"],
)


def add_role_to_instance_profile(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    role = key(get_role(ctx, params["RoleName"]).doc["RoleName"])

    def edit(doc: Doc) -> None:
        if role in doc["Roles"] or len(doc["Roles"]) >= ROLES_PER_PROFILE:
            raise LimitExceeded(
                reason="quota-exceeded",
                quota="InstanceSessionsPerInstanceProfile",
                limit=ROLES_PER_PROFILE,
            )
        doc["Roles"].append(role)

    _on_profile(ctx, params["InstanceProfileName"], edit)
    return {}


def remove_role_from_instance_profile(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    role = params["RoleName"]

    def edit(doc: Doc) -> None:
        if key(role) not in doc["Roles"]:
            raise no_role(role)
        doc["Roles"].remove(key(role))

    _on_profile(ctx, params["InstanceProfileName"], edit)
    return {}


def delete_instance_profile(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    doc = _profile(ctx, params["InstanceProfileName"])
    if doc["Roles"]:
        raise InUse(reason="in-instance-profile")
    records.delete(ctx, kinds.IAM_INSTANCE_PROFILE, key(doc["InstanceProfileName"]))
    return {}


def list_instance_profiles(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    prefix = params.get("PathPrefix") or "/"
    chosen = [d for d in _profiles(ctx) if d["Path"].startswith(prefix)]
    return paged("InstanceProfiles", chosen, params, _listed(ctx))


def list_instance_profiles_for_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    role = key(get_role(ctx, params["RoleName"]).doc["RoleName"])
    return paged("InstanceProfiles", _profiles(ctx, role), params, _listed(ctx))


OPERATIONS: Operations = {
    "CreateInstanceProfile": create_instance_profile,
    "GetInstanceProfile": get_instance_profile,
    "AddRoleToInstanceProfile": add_role_to_instance_profile,
    "RemoveRoleFromInstanceProfile": remove_role_from_instance_profile,
    "DeleteInstanceProfile": delete_instance_profile,
    "ListInstanceProfiles": list_instance_profiles,
    "ListInstanceProfilesForRole": list_instance_profiles_for_role,
    **TAGS.operations(),
}
