"""IAM roles: create, read, list, update, delete and tags; the role record the other IAM modules
(inline policies, attachments, instance profiles, service-linked roles) and STS read.

A role is one record (kind ``iam:role``) holding everything IAM hangs on it: the trust policy
text, attached managed policy ARNs (in attach order), inline policies, tags, the permissions
boundary, the service a service-linked role belongs to, and when STS last assumed it.

A role's output has three views, as IAM's do: CreateRole returns the role as created, GetRole adds
``RoleLastUsed`` (always present, empty until STS assumes the role), and ListRoles and instance
profiles leave out ``Tags``, ``PermissionsBoundary`` and ``RoleLastUsed`` (IAM documents that
ListRoles does not return them). Service-linked roles are AWS's: a caller cannot change their
trust or permissions or delete them with DeleteRole (``UnmodifiableEntity``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from podwarden.control.context import Context, Operations
from podwarden.control.iam import policy_doc as pdoc
from podwarden.control.iam import records
from podwarden.control.iam.managed import find_policy
from podwarden.control.iam.paging import paged
from podwarden.control.iam.records import Doc, identity, key, new_id, normalize_path, when
from podwarden.control.iam.tags import Tagged
from podwarden.model.aws import arns, kinds
from podwarden.model.errors import Denied, InUse, NotFound
from podwarden.store.resources import Record

View = Literal["create", "get", "list"]
T = TypeVar("T")
DEFAULT_SESSION = 3600  # MaxSessionDuration when CreateRole does not say


# --- the role record -----------------------------------------------------------------------------


def missing(name: str) -> NotFound:
    return NotFound(reason="role-not-found", name=name)


def get_role(ctx: Context, name: str) -> Record:
    return records.require(ctx, kinds.IAM_ROLE, key(name), missing(name))


def on_role(ctx: Context, name: str, edit: Callable[[Doc], T]) -> T:
    """Apply ``edit`` to the role's document (NoSuchEntity if there is no such role)."""
    return records.change(ctx, kinds.IAM_ROLE, key(name), edit, missing=missing(name), label=name)


TAGS = Tagged(
    "Role",
    edit=lambda ctx, params, edit: on_role(ctx, params["RoleName"], edit),
    read=lambda ctx, params: get_role(ctx, params["RoleName"]).doc["Tags"],
)


def protect(doc: Doc) -> None:
    """Refuse a caller's change to a service-linked role: those are AWS's, as in IAM."""
    if doc.get("ServiceName"):
        raise Denied(reason="protected-role", name=doc["RoleName"])


def roles(ctx: Context) -> list[Doc]:
    """Every role of the account, sorted by name as IAM lists them."""
    docs = [r.doc for r in records.of_kind(ctx, kinds.IAM_ROLE)]
    return sorted(docs, key=lambda d: d["RoleName"].lower())


def attachment_counts(ctx: Context) -> Counter[str]:
    """How many of this account's roles each managed policy ARN is attached to."""
    return Counter(arn for doc in roles(ctx) for arn in doc.get("Attached", []))


def role_out(doc: Doc, view: View) -> dict[str, Any]:
    out = identity(doc, "Role")
    out["AssumeRolePolicyDocument"] = pdoc.encode(doc["AssumeRolePolicyDocument"])
    out["MaxSessionDuration"] = doc["MaxSessionDuration"]
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


def new_role(ctx: Context, params: dict[str, Any], **extra: Any) -> Doc:
    """Store a role built from CreateRole's input (``extra`` adds fields, for service-linked
    roles) and return its document; ``EntityAlreadyExists`` if the name is taken."""
    name, path = params["RoleName"], normalize_path(params.get("Path"))
    doc: Doc = {
        "RoleName": name,
        "RoleId": new_id("AROA"),
        "Path": path,
        "Arn": arns.role(ctx.account, name, path),
        "CreateDate": ctx.now(),
        "AssumeRolePolicyDocument": params["AssumeRolePolicyDocument"],
        "MaxSessionDuration": params.get("MaxSessionDuration") or DEFAULT_SESSION,
        "Tags": TAGS.initial(params),
        "Attached": [],
        "Inline": {},
        **extra,
    }
    if params.get("Description") is not None:
        doc["Description"] = params["Description"]
    if params.get("PermissionsBoundary"):
        doc["PermissionsBoundary"] = params["PermissionsBoundary"]
    records.create(ctx, kinds.IAM_ROLE, key(name), doc, InUse(reason="role-exists", name=name))
    return doc


# --- handlers ------------------------------------------------------------------------------------


def _check_trust(text: str) -> None:
    pdoc.check(text, pdoc.TRUST)
    pdoc.check_size(text, pdoc.TRUST_POLICY_SIZE, "ACLSizePerRole")


def create_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    _check_trust(params["AssumeRolePolicyDocument"])
    boundary = params.get("PermissionsBoundary")
    if boundary and find_policy(ctx, boundary) is None:
        raise NotFound(reason="boundary-not-found", arn=boundary)
    return {"Role": role_out(new_role(ctx, params), "create")}


def get_role_op(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"Role": role_out(get_role(ctx, params["RoleName"]).doc, "get")}


def list_roles(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    prefix = params.get("PathPrefix") or "/"
    chosen = [d for d in roles(ctx) if d["Path"].startswith(prefix)]
    return paged("Roles", chosen, params, lambda d: role_out(d, "list"))


def delete_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """IAM refuses while the role is in an instance profile or has policies, in that order."""
    doc = get_role(ctx, params["RoleName"]).doc
    protect(doc)
    in_profile = any(
        key(doc["RoleName"]) in p.doc["Roles"]
        for p in records.of_kind(ctx, kinds.IAM_INSTANCE_PROFILE)
    )
    if in_profile:
        raise InUse(reason="in-instance-profile")
    if doc["Attached"]:
        raise InUse(reason="role-has-attached-policies")
    if doc["Inline"]:
        raise InUse(reason="role-has-inline-policies")
    records.delete(ctx, kinds.IAM_ROLE, key(doc["RoleName"]))
    return {}


def update_assume_role_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    text = params["PolicyDocument"]
    _check_trust(text)

    def edit(doc: Doc) -> None:
        protect(doc)
        doc["AssumeRolePolicyDocument"] = text

    on_role(ctx, params["RoleName"], edit)
    return {}


def update_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateRole: Description and MaxSessionDuration, each only when given."""

    def edit(doc: Doc) -> None:
        for member in ("Description", "MaxSessionDuration"):
            if params.get(member) is not None:
                doc[member] = params[member]

    on_role(ctx, params["RoleName"], edit)
    return {}


def update_role_description(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def edit(doc: Doc) -> Doc:
        doc["Description"] = params["Description"]
        return doc

    return {"Role": role_out(on_role(ctx, params["RoleName"], edit), "create")}


OPERATIONS: Operations = {
    "CreateRole": create_role,
    "GetRole": get_role_op,
    "ListRoles": list_roles,
    "DeleteRole": delete_role,
    "UpdateAssumeRolePolicy": update_assume_role_policy,
    "UpdateRole": update_role,
    "UpdateRoleDescription": update_role_description,
    **TAGS.operations(),
}
