"""IAM roles: create, read, list, update, delete, tags and inline policies.

A role's output has three views, as IAM's do: CreateRole returns the role as created, GetRole adds
``RoleLastUsed`` (always present, empty until STS assumes the role), and ListRoles and instance
profiles leave out ``Tags``, ``PermissionsBoundary`` and ``RoleLastUsed`` (IAM documents that
ListRoles does not return them). Service-linked roles are AWS's: a caller cannot change their
trust or permissions or delete them with DeleteRole (``UnmodifiableEntity``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from podwarden.control.aws import iam_policy_doc as pdoc
from podwarden.control.aws.iam_common import (
    PROFILE,
    ROLE,
    drop_tags,
    fail,
    get_role,
    key,
    merge_tags,
    new_id,
    no_role,
    normalize_path,
    page,
    protect,
    role_arn,
    roles,
    update,
    when,
)
from podwarden.control.aws.iam_policies import find_policy
from podwarden.control.context import Context
from podwarden.store.resources import Duplicate, Record

View = Literal["create", "get", "list"]
T = TypeVar("T")
DEFAULT_SESSION = 3600  # MaxSessionDuration when CreateRole does not say


def role_out(doc: dict[str, Any], view: View) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": doc["Path"],
        "RoleName": doc["RoleName"],
        "RoleId": doc["RoleId"],
        "Arn": doc["Arn"],
        "CreateDate": when(doc["CreateDate"]),
        "AssumeRolePolicyDocument": pdoc.encode(doc["AssumeRolePolicyDocument"]),
        "MaxSessionDuration": doc["MaxSessionDuration"],
    }
    if doc.get("Description") is not None:
        out["Description"] = doc["Description"]
    if view == "list":
        return out
    if doc.get("Tags"):
        out["Tags"] = doc["Tags"]
    if doc.get("PermissionsBoundary"):
        out["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": doc["PermissionsBoundary"],
        }
    if view == "get":
        used = doc.get("LastUsed")
        out["RoleLastUsed"] = (
            {"LastUsedDate": when(used["Date"]), "Region": used["Region"]} if used else {}
        )
    return out


def new_role(ctx: Context, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Store a role built from CreateRole's input (``extra`` adds fields, for service-linked
    roles) and return its document; ``EntityAlreadyExists`` if the name is taken."""
    name, path = params["RoleName"], normalize_path(params.get("Path"))
    doc: dict[str, Any] = {
        "RoleName": name,
        "RoleId": new_id("AROA"),
        "Path": path,
        "Arn": role_arn(ctx.account, path, name),
        "CreateDate": ctx.now(),
        "AssumeRolePolicyDocument": params["AssumeRolePolicyDocument"],
        "MaxSessionDuration": params.get("MaxSessionDuration") or DEFAULT_SESSION,
        "Tags": merge_tags([], params.get("Tags") or []),
        "Attached": [],
        "Inline": {},
        **extra,
    }
    if params.get("Description") is not None:
        doc["Description"] = params["Description"]
    if params.get("PermissionsBoundary"):
        doc["PermissionsBoundary"] = params["PermissionsBoundary"]
    record = Record(kind=ROLE, scope=ctx.account, key=key(name), doc=doc, created=doc["CreateDate"])
    try:
        ctx.store.resources.create(record)
    except Duplicate:
        fail("EntityAlreadyExists", f"Role with name {name} already exists.")
    return doc


def create_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    text = params["AssumeRolePolicyDocument"]
    pdoc.check(text, pdoc.TRUST)
    pdoc.check_size(text, pdoc.TRUST_POLICY_SIZE, "ACLSizePerRole")
    boundary = params.get("PermissionsBoundary")
    if boundary and find_policy(ctx, boundary) is None:
        fail("NoSuchEntity", f"Scope ARN: {boundary} does not exist or is not attachable.")
    return {"Role": role_out(new_role(ctx, params), "create")}


def get_role_op(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"Role": role_out(get_role(ctx, params["RoleName"]).doc, "get")}


def list_roles(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    prefix = params.get("PathPrefix") or "/"
    chosen = [d for d in roles(ctx) if d["Path"].startswith(prefix)]
    chunk, more = page(chosen, params)
    return {"Roles": [role_out(d, "list") for d in chunk], **more}


def delete_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """IAM refuses while the role is in an instance profile or has policies, in that order."""
    doc = get_role(ctx, params["RoleName"]).doc
    protect(doc)
    in_profile = any(
        key(doc["RoleName"]) in p.doc["Roles"]
        for p in ctx.store.resources.list(PROFILE, ctx.account)
    )
    if in_profile:
        fail(
            "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first."
        )
    if doc["Attached"]:
        fail("DeleteConflict", "Cannot delete entity, must detach all policies first.")
    if doc["Inline"]:
        fail("DeleteConflict", "Cannot delete entity, must delete policies first.")
    ctx.store.resources.delete(ROLE, ctx.account, key(doc["RoleName"]))
    return {}


def _on_role(ctx: Context, name: str, change: Callable[[dict[str, Any]], T]) -> T:
    return update(ctx, ROLE, name, change, lambda: no_role(name))


def update_assume_role_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    text = params["PolicyDocument"]
    pdoc.check(text, pdoc.TRUST)
    pdoc.check_size(text, pdoc.TRUST_POLICY_SIZE, "ACLSizePerRole")

    def change(doc: dict[str, Any]) -> None:
        protect(doc)
        doc["AssumeRolePolicyDocument"] = text

    _on_role(ctx, params["RoleName"], change)
    return {}


def update_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateRole: Description and MaxSessionDuration, each only when given."""

    def change(doc: dict[str, Any]) -> None:
        for member in ("Description", "MaxSessionDuration"):
            if params.get(member) is not None:
                doc[member] = params[member]

    _on_role(ctx, params["RoleName"], change)
    return {}


def update_role_description(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        doc["Description"] = params["Description"]
        return doc

    return {"Role": role_out(_on_role(ctx, params["RoleName"], change), "create")}


def tag_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def change(doc: dict[str, Any]) -> None:
        doc["Tags"] = merge_tags(doc["Tags"], params["Tags"])

    _on_role(ctx, params["RoleName"], change)
    return {}


def untag_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def change(doc: dict[str, Any]) -> None:
        doc["Tags"] = drop_tags(doc["Tags"], params["TagKeys"])

    _on_role(ctx, params["RoleName"], change)
    return {}


def list_role_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    chunk, more = page(get_role(ctx, params["RoleName"]).doc["Tags"], params)
    return {"Tags": chunk, **more}


# --- inline policies -----------------------------------------------------------------------------


def put_role_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, text = params["PolicyName"], params["PolicyDocument"]
    pdoc.check(text, pdoc.PERMISSIONS)

    def change(doc: dict[str, Any]) -> None:
        protect(doc)
        others = sum(pdoc.size(t) for n, t in doc["Inline"].items() if n != name)
        if others + pdoc.size(text) > pdoc.INLINE_ROLE_POLICIES_SIZE:
            fail(
                "LimitExceeded",
                f"Maximum policy size of {pdoc.INLINE_ROLE_POLICIES_SIZE} bytes exceeded for "
                f"role {doc['RoleName']}",
            )
        doc["Inline"][name] = text

    _on_role(ctx, params["RoleName"], change)
    return {}


def _inline(doc: dict[str, Any], name: str) -> str:
    text = doc["Inline"].get(name)
    if text is None:
        fail("NoSuchEntity", f"The role policy with name {name} cannot be found.")
    return str(text)


def get_role_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    doc = get_role(ctx, params["RoleName"]).doc
    text = _inline(doc, params["PolicyName"])
    return {
        "RoleName": doc["RoleName"],
        "PolicyName": params["PolicyName"],
        "PolicyDocument": pdoc.encode(text),
    }


def delete_role_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def change(doc: dict[str, Any]) -> None:
        protect(doc)
        _inline(doc, params["PolicyName"])
        del doc["Inline"][params["PolicyName"]]

    _on_role(ctx, params["RoleName"], change)
    return {}


def list_role_policies(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    names = sorted(get_role(ctx, params["RoleName"]).doc["Inline"])
    chunk, more = page(names, params)
    return {"PolicyNames": chunk, **more}


HANDLERS = {
    "CreateRole": create_role,
    "GetRole": get_role_op,
    "ListRoles": list_roles,
    "DeleteRole": delete_role,
    "UpdateAssumeRolePolicy": update_assume_role_policy,
    "UpdateRole": update_role,
    "UpdateRoleDescription": update_role_description,
    "TagRole": tag_role,
    "UntagRole": untag_role,
    "ListRoleTags": list_role_tags,
    "PutRolePolicy": put_role_policy,
    "GetRolePolicy": get_role_policy,
    "DeleteRolePolicy": delete_role_policy,
    "ListRolePolicies": list_role_policies,
}
