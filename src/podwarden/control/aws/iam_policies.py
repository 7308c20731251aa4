"""IAM managed policies: AWS's (from ``podwarden.policy.aws_policies``) and the account's own,
their versions, and attaching them to roles.

AWS-managed policies are visible in every account and never change; their ``AttachmentCount``
counts this account's roles only, as IAM's does. Their ``PolicyId`` is derived from the ARN, so it
is the same in every account and across restarts. Customer-managed policies are records (kind
``iam:policy``) holding up to five versions; the default one is what GetPolicy points at.

Where IAM's message for a case was not found in public error reports, the message follows IAM's
wording for the nearest documented case; those are DeletePolicy and CreatePolicyVersion on an
AWS-managed policy (``UnmodifiableEntity``) and GetPolicyVersion for an unknown version.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from podwarden.control.aws import iam_policy_doc as pdoc
from podwarden.control.aws.iam_common import (
    POLICY,
    ROLE,
    attachment_counts,
    fail,
    get_role,
    key,
    merge_tags,
    new_id,
    no_role,
    normalize_path,
    page,
    protect,
    roles,
    update,
    when,
)
from podwarden.control.context import Context
from podwarden.policy.aws_policies import ManagedPolicy, load_aws_policies
from podwarden.store.resources import Duplicate, Record
from podwarden.store.sql import Store

T = TypeVar("T")
MAX_VERSIONS = 5
POLICIES_PER_ROLE = 10  # IAM's default quota of managed policies attached to one role
_CUSTOMER_ARN = re.compile(r"arn:aws:iam::(\d{12}):policy(/(?:[^/]+/)*)([^/]+)")


@dataclass(frozen=True)
class Policy:
    """A managed policy, AWS's or the account's, as GetPolicy and GetPolicyVersion see it.
    ``versions`` maps version id to (document text, creation time)."""

    name: str
    path: str
    arn: str
    policy_id: str
    description: str | None
    default_version: str
    created: float
    updated: float
    versions: dict[str, tuple[str, float]] = field(repr=False)
    tags: list[dict[str, str]]
    aws: bool

    @property
    def service_linked(self) -> bool:
        return self.path == "/aws-service-role/"


def _aws_id(arn: str) -> str:
    """A stable ANPA id for an AWS-managed policy: derived from its ARN, uppercase base32."""
    digest = base64.b32encode(hashlib.sha256(arn.encode()).digest()).decode()
    return "ANPA" + digest[:17]


def _from_aws(p: ManagedPolicy) -> Policy:
    updated = p.updated.timestamp()
    return Policy(
        name=p.name,
        path=p.path,
        arn=p.arn,
        policy_id=_aws_id(p.arn),
        description=p.description,
        default_version=p.version_id,
        created=p.created.timestamp(),
        updated=updated,
        versions={p.version_id: (p.document_json, updated)},
        tags=[],
        aws=True,
    )


def _from_record(doc: dict[str, Any]) -> Policy:
    return Policy(
        name=doc["PolicyName"],
        path=doc["Path"],
        arn=doc["Arn"],
        policy_id=doc["PolicyId"],
        description=doc.get("Description"),
        default_version=doc["DefaultVersionId"],
        created=doc["CreateDate"],
        updated=doc["UpdateDate"],
        versions={v: (x["Document"], x["CreateDate"]) for v, x in doc["Versions"].items()},
        tags=doc["Tags"],
        aws=False,
    )


def check_arn(arn: str) -> None:
    if not arn.startswith("arn:"):
        fail("InvalidInput", f"ARN {arn} is not valid.")


def find_policy(ctx: Context, arn: str) -> Policy | None:
    """The managed policy an ARN names in this account's view, or None."""
    return policy_in(ctx.store, ctx.account, arn)


def policy_in(store: Store, account: str, arn: str) -> Policy | None:
    """The managed policy an ARN names in ``account``'s view (AWS's, or the account's own), or
    None: :func:`find_policy` for callers without a request, such as the operator."""
    aws = load_aws_policies().get(arn)
    if aws is not None:
        return _from_aws(aws)
    m = _CUSTOMER_ARN.fullmatch(arn)
    if m is None or m.group(1) != account:
        return None
    rec = store.resources.get(POLICY, account, key(m.group(3)))
    return _from_record(rec.doc) if rec is not None and rec.doc["Arn"] == arn else None


def default_document(p: Policy) -> str:
    """The text of a managed policy's default version: the permissions it grants."""
    return p.versions[p.default_version][0]


def _require(ctx: Context, arn: str) -> Policy:
    check_arn(arn)
    found = find_policy(ctx, arn)
    if found is None:
        fail("NoSuchEntity", f"Policy {arn} was not found.")
    return found


def _all_policies(ctx: Context) -> list[Policy]:
    aws = [_from_aws(p) for p in load_aws_policies().values()]
    own = [_from_record(r.doc) for r in ctx.store.resources.list(POLICY, ctx.account)]
    return sorted(aws + own, key=lambda p: (p.name.lower(), p.arn))


def policy_out(ctx: Context, p: Policy, view: str) -> dict[str, Any]:
    """The Policy structure; ``view`` is "get" (with Description and Tags), "create" (with Tags)
    or "list" (neither), as IAM's documentation of the Policy shape says."""
    boundaries = sum(1 for d in roles(ctx) if d.get("PermissionsBoundary") == p.arn)
    out: dict[str, Any] = {
        "PolicyName": p.name,
        "PolicyId": p.policy_id,
        "Arn": p.arn,
        "Path": p.path,
        "DefaultVersionId": p.default_version,
        "AttachmentCount": attachment_counts(ctx)[p.arn],
        "PermissionsBoundaryUsageCount": boundaries,
        "IsAttachable": True,
        "CreateDate": when(p.created),
        "UpdateDate": when(p.updated),
    }
    if view == "get" and p.description:
        out["Description"] = p.description
    if view != "list" and p.tags:
        out["Tags"] = p.tags
    return out


def _unmodifiable(p: Policy) -> None:
    if p.aws:
        fail("UnmodifiableEntity", f"Cannot modify AWS managed policy {p.arn}.")


# --- customer-managed policies -------------------------------------------------------------------


def create_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, text = params["PolicyName"], params["PolicyDocument"]
    pdoc.check(text, pdoc.PERMISSIONS)
    pdoc.check_size(text, pdoc.MANAGED_POLICY_SIZE, "PolicySize")
    path, now = normalize_path(params.get("Path")), ctx.now()
    doc: dict[str, Any] = {
        "PolicyName": name,
        "PolicyId": new_id("ANPA"),
        "Arn": f"arn:aws:iam::{ctx.account}:policy{path}{name}",
        "Path": path,
        "CreateDate": now,
        "UpdateDate": now,
        "DefaultVersionId": "v1",
        "NextVersion": 2,
        "Versions": {"v1": {"Document": text, "CreateDate": now}},
        "Tags": merge_tags([], params.get("Tags") or []),
    }
    if params.get("Description") is not None:
        doc["Description"] = params["Description"]
    try:
        ctx.store.resources.create(
            Record(kind=POLICY, scope=ctx.account, key=key(name), doc=doc, created=now)
        )
    except Duplicate:
        fail(
            "EntityAlreadyExists",
            f"A policy called {name} already exists. Duplicate names are not allowed.",
        )
    return {"Policy": policy_out(ctx, _from_record(doc), "create")}


def get_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"Policy": policy_out(ctx, _require(ctx, params["PolicyArn"]), "get")}


def list_policies(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Scope All|AWS|Local, OnlyAttached (with PolicyUsageFilter), PathPrefix; sorted by name."""
    scope, prefix = params.get("Scope") or "All", params.get("PathPrefix") or "/"
    counts = attachment_counts(ctx)
    boundaries = {d.get("PermissionsBoundary") for d in roles(ctx)}
    usage = params.get("PolicyUsageFilter")

    def used(p: Policy) -> bool:
        by_attach = counts[p.arn] > 0 and usage != "PermissionsBoundary"
        by_boundary = p.arn in boundaries and usage != "PermissionsPolicy"
        return by_attach or by_boundary

    chosen = [
        p
        for p in _all_policies(ctx)
        if scope in ("All", "AWS" if p.aws else "Local")
        and p.path.startswith(prefix)
        and (not params.get("OnlyAttached") or used(p))
    ]
    chunk, more = page(chosen, params)
    return {"Policies": [policy_out(ctx, p, "list") for p in chunk], **more}


def delete_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    p = _require(ctx, params["PolicyArn"])
    _unmodifiable(p)
    in_use = attachment_counts(ctx)[p.arn] or any(
        d.get("PermissionsBoundary") == p.arn for d in roles(ctx)
    )
    if in_use:
        fail("DeleteConflict", "Cannot delete a policy attached to entities.")
    if len(p.versions) > 1:
        fail(
            "DeleteConflict",
            "This policy has more than one version. Before you delete a policy, you must delete "
            "the policy's versions. The default version is deleted with the policy.",
        )
    ctx.store.resources.delete(POLICY, ctx.account, key(p.name))
    return {}


# --- versions ------------------------------------------------------------------------------------


def _version_out(p: Policy, version: str, with_document: bool) -> dict[str, Any]:
    text, created = p.versions[version]
    out: dict[str, Any] = {
        "VersionId": version,
        "IsDefaultVersion": version == p.default_version,
        "CreateDate": when(created),
    }
    if with_document:
        out["Document"] = pdoc.encode(text)
    return out


def get_policy_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    p, version = _require(ctx, params["PolicyArn"]), params["VersionId"]
    if version not in p.versions:
        fail("NoSuchEntity", f"Policy {p.arn} version {version} does not exist.")
    return {"PolicyVersion": _version_out(p, version, with_document=True)}


def list_policy_versions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Newest first, as IAM lists them; the documents are left out, as IAM leaves them out."""
    p = _require(ctx, params["PolicyArn"])
    ordered = sorted(p.versions, key=lambda v: int(v[1:]), reverse=True)
    chunk, more = page(ordered, params)
    return {"Versions": [_version_out(p, v, with_document=False) for v in chunk], **more}


def _change_policy(ctx: Context, arn: str, change: Callable[[dict[str, Any]], T]) -> T:
    """Apply ``change`` to a customer-managed policy's record (AWS's cannot change)."""
    p = _require(ctx, arn)
    _unmodifiable(p)

    def missing() -> NoReturn:
        fail("NoSuchEntity", f"Policy {arn} was not found.")

    return update(ctx, POLICY, p.name, change, missing)


def create_policy_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    text = params["PolicyDocument"]
    pdoc.check(text, pdoc.PERMISSIONS)
    pdoc.check_size(text, pdoc.MANAGED_POLICY_SIZE, "PolicySize")
    now = ctx.now()

    def change(doc: dict[str, Any]) -> str:
        if len(doc["Versions"]) >= MAX_VERSIONS:
            fail(
                "LimitExceeded",
                f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a "
                "new version, you must delete an existing version.",
            )
        version = f"v{doc['NextVersion']}"
        doc["NextVersion"] += 1
        doc["Versions"][version] = {"Document": text, "CreateDate": now}
        if params.get("SetAsDefault"):
            doc["DefaultVersionId"], doc["UpdateDate"] = version, now
        return version

    version = _change_policy(ctx, params["PolicyArn"], change)
    p = _require(ctx, params["PolicyArn"])
    return {"PolicyVersion": _version_out(p, version, with_document=False)}


def _known_version(doc: dict[str, Any], version: str) -> None:
    if version not in doc["Versions"]:
        fail("NoSuchEntity", f"Policy {doc['Arn']} version {version} does not exist.")


def delete_policy_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    version = params["VersionId"]

    def change(doc: dict[str, Any]) -> None:
        _known_version(doc, version)
        if version == doc["DefaultVersionId"]:
            fail("DeleteConflict", "Cannot delete the default version of a policy.")
        del doc["Versions"][version]

    _change_policy(ctx, params["PolicyArn"], change)
    return {}


def set_default_policy_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    version, now = params["VersionId"], ctx.now()

    def change(doc: dict[str, Any]) -> None:
        _known_version(doc, version)
        doc["DefaultVersionId"], doc["UpdateDate"] = version, now

    _change_policy(ctx, params["PolicyArn"], change)
    return {}


# --- attachments ---------------------------------------------------------------------------------


def attach_role_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Attach a managed policy; attaching one already attached changes nothing, as in IAM."""
    name, arn = params["RoleName"], params["PolicyArn"]
    get_role(ctx, name)
    check_arn(arn)
    p = find_policy(ctx, arn)
    if p is None:
        fail("NoSuchEntity", f"Policy {arn} does not exist or is not attachable.")

    def change(doc: dict[str, Any]) -> None:
        protect(doc)
        if p.service_linked:
            fail("PolicyNotAttachable", "Cannot attach a Service Role Policy to a Customer Role.")
        if arn in doc["Attached"]:
            return
        if len(doc["Attached"]) >= POLICIES_PER_ROLE:
            fail("LimitExceeded", f"Cannot exceed quota for PoliciesPerRole: {POLICIES_PER_ROLE}")
        doc["Attached"].append(arn)

    update(ctx, ROLE, name, change, lambda: no_role(name))
    return {}


def detach_role_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, arn = params["RoleName"], params["PolicyArn"]
    check_arn(arn)

    def change(doc: dict[str, Any]) -> None:
        protect(doc)
        if arn not in doc["Attached"]:
            fail("NoSuchEntity", f"Policy {arn} was not found.")
        doc["Attached"].remove(arn)

    update(ctx, ROLE, name, change, lambda: no_role(name))
    return {}


def list_attached_role_policies(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """In attach order; PathPrefix filters on the policies' paths."""
    prefix = params.get("PathPrefix") or "/"
    attached = []
    for arn in get_role(ctx, params["RoleName"]).doc["Attached"]:
        p = find_policy(ctx, arn)
        if p is not None and p.path.startswith(prefix):
            attached.append({"PolicyName": p.name, "PolicyArn": p.arn})
    chunk, more = page(attached, params)
    return {"AttachedPolicies": chunk, **more}


HANDLERS = {
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "ListPolicies": list_policies,
    "DeletePolicy": delete_policy,
    "GetPolicyVersion": get_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "CreatePolicyVersion": create_policy_version,
    "DeletePolicyVersion": delete_policy_version,
    "SetDefaultPolicyVersion": set_default_policy_version,
    "AttachRolePolicy": attach_role_policy,
    "DetachRolePolicy": detach_role_policy,
    "ListAttachedRolePolicies": list_attached_role_policies,
}
