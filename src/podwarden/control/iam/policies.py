"""IAM managed policies: the account's own (create, read, list, delete) and their versions;
AWS's are read-only (``podwarden.control.iam.managed`` has the view of both).

AWS-managed policies' ``AttachmentCount`` counts this account's roles only, as IAM's does.
``podwarden.wire.errors_iam`` words the errors (and says which messages are not IAM's own).

Tags (``podwarden.control.iam.tags``) are for customer-managed policies, as the Tag*Policy
references say. IAM's answer to TagPolicy or UntagPolicy on an AWS-managed policy is not public:
podwarden refuses them as it refuses every other change to one (UnmodifiableEntity "Cannot modify
AWS managed policy <arn>.", as DeletePolicy), and ListPolicyTags reads an AWS-managed policy's
tags as none. An ARN that names no policy is NoSuchEntity "Policy <arn> was not found."; a string
that is not an ARN, InvalidInput.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from podwarden.control.context import Context, Operations
from podwarden.control.iam import policy_doc as pdoc
from podwarden.control.iam import records
from podwarden.control.iam.managed import (
    Policy,
    all_policies,
    from_record,
    modifiable,
    require,
)
from podwarden.control.iam.paging import paged
from podwarden.control.iam.records import Doc, key, new_id, normalize_path, when
from podwarden.control.iam.roles import attachment_counts, roles
from podwarden.control.iam.tags import Tagged
from podwarden.model.aws import arns, kinds
from podwarden.model.errors import InUse, LimitExceeded, NotFound

T = TypeVar("T")
MAX_VERSIONS = 5


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


def _check_permissions(text: str) -> None:
    pdoc.check(text, pdoc.PERMISSIONS)
    pdoc.check_size(text, pdoc.MANAGED_POLICY_SIZE, "PolicySize")


# --- customer-managed policies -------------------------------------------------------------------


def create_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, text = params["PolicyName"], params["PolicyDocument"]
    _check_permissions(text)
    path, now = normalize_path(params.get("Path")), ctx.now()
    doc: Doc = {
        "PolicyName": name,
        "PolicyId": new_id("ANPA"),
        "Arn": arns.iam(ctx.account, "policy", name, path),
        "Path": path,
        "CreateDate": now,
        "UpdateDate": now,
        "DefaultVersionId": "v1",
        "NextVersion": 2,
        "Versions": {"v1": {"Document": text, "CreateDate": now}},
        "Tags": TAGS.initial(params),
    }
    if params.get("Description") is not None:
        doc["Description"] = params["Description"]
    records.create(ctx, kinds.IAM_POLICY, key(name), doc, InUse(reason="policy-exists", name=name))
    return {"Policy": policy_out(ctx, from_record(doc), "create")}


def get_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"Policy": policy_out(ctx, require(ctx, params["PolicyArn"]), "get")}


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
        for p in all_policies(ctx)
        if scope in ("All", "AWS" if p.aws else "Local")
        and p.path.startswith(prefix)
        and (not params.get("OnlyAttached") or used(p))
    ]
    return paged("Policies", chosen, params, lambda p: policy_out(ctx, p, "list"))


def delete_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    p = require(ctx, params["PolicyArn"])
    modifiable(p)
    in_use = attachment_counts(ctx)[p.arn] or any(
        d.get("PermissionsBoundary") == p.arn for d in roles(ctx)
    )
    if in_use:
        raise InUse(reason="policy-attached")
    if len(p.versions) > 1:
        raise InUse(reason="policy-has-versions")
    records.delete(ctx, kinds.IAM_POLICY, key(p.name))
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


def _no_version(arn: str, version: str) -> NotFound:
    return NotFound(reason="policy-version-not-found", arn=arn, version=version)


def get_policy_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    p, version = require(ctx, params["PolicyArn"]), params["VersionId"]
    if version not in p.versions:
        raise _no_version(p.arn, version)
    return {"PolicyVersion": _version_out(p, version, with_document=True)}


def list_policy_versions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Newest first, as IAM lists them; the documents are left out, as IAM leaves them out."""
    p = require(ctx, params["PolicyArn"])
    ordered = sorted(p.versions, key=lambda v: int(v[1:]), reverse=True)
    return paged("Versions", ordered, params, lambda v: _version_out(p, v, with_document=False))


def _on_policy(ctx: Context, arn: str, edit: Callable[[Doc], T]) -> T:
    """Apply ``edit`` to a customer-managed policy's record (AWS's cannot change)."""
    p = require(ctx, arn)
    modifiable(p)
    missing = NotFound(reason="policy-not-found", arn=arn)
    return records.change(ctx, kinds.IAM_POLICY, key(p.name), edit, missing=missing, label=p.name)


TAGS = Tagged(
    "Policy",
    edit=lambda ctx, params, edit: _on_policy(ctx, params["PolicyArn"], edit),
    read=lambda ctx, params: require(ctx, params["PolicyArn"]).tags,
)


def create_policy_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    text = params["PolicyDocument"]
    _check_permissions(text)
    now = ctx.now()

    def edit(doc: Doc) -> str:
        if len(doc["Versions"]) >= MAX_VERSIONS:
            raise LimitExceeded(reason="policy-versions", limit=MAX_VERSIONS)
        version = f"v{doc['NextVersion']}"
        doc["NextVersion"] += 1
        doc["Versions"][version] = {"Document": text, "CreateDate": now}
        if params.get("SetAsDefault"):
            doc["DefaultVersionId"], doc["UpdateDate"] = version, now
        return version

    version = _on_policy(ctx, params["PolicyArn"], edit)
    p = require(ctx, params["PolicyArn"])
    return {"PolicyVersion": _version_out(p, version, with_document=False)}


def _known_version(doc: Doc, version: str) -> None:
    if version not in doc["Versions"]:
        raise _no_version(doc["Arn"], version)


def delete_policy_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    version = params["VersionId"]

    def edit(doc: Doc) -> None:
        _known_version(doc, version)
        if version == doc["DefaultVersionId"]:
            raise InUse(reason="default-version")
        del doc["Versions"][version]

    _on_policy(ctx, params["PolicyArn"], edit)
    return {}


def set_default_policy_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    version, now = params["VersionId"], ctx.now()

    def edit(doc: Doc) -> None:
        _known_version(doc, version)
        doc["DefaultVersionId"], doc["UpdateDate"] = version, now

    _on_policy(ctx, params["PolicyArn"], edit)
    return {}


OPERATIONS: Operations = {
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "ListPolicies": list_policies,
    "DeletePolicy": delete_policy,
    "GetPolicyVersion": get_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "CreatePolicyVersion": create_policy_version,
    "DeletePolicyVersion": delete_policy_version,
    "SetDefaultPolicyVersion": set_default_policy_version,
    **TAGS.operations(),
}
