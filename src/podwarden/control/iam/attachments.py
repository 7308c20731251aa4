"""Managed policies attached to roles: AttachRolePolicy, DetachRolePolicy and
ListAttachedRolePolicies.

A role's record keeps the attached ARNs in attach order (``Attached``), AWS's policies and the
account's alike; at most 10 per role (IAM's default quota). A service-linked role's attachments
are AWS's (``UnmodifiableEntity``), and a service role policy (path ``/aws-service-role/``)
attaches to no caller's role (``PolicyNotAttachable``).
"""

from __future__ import annotations

from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.iam.managed import check_arn, find_policy
from podwarden.control.iam.paging import paged
from podwarden.control.iam.records import Doc
from podwarden.control.iam.roles import get_role, on_role, protect
from podwarden.model.errors import Invalid, LimitExceeded, NotFound

POLICIES_PER_ROLE = 10  # IAM's default quota of managed policies attached to one role


def attach_role_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Attach a managed policy; attaching one already attached changes nothing, as in IAM."""
    name, arn = params["RoleName"], params["PolicyArn"]
    get_role(ctx, name)
    check_arn(arn)
    p = find_policy(ctx, arn)
    if p is None:
        raise NotFound(reason="policy-not-attachable", arn=arn)

    def edit(doc: Doc) -> None:
        protect(doc)
        if p.service_linked:
            raise Invalid(reason="service-role-policy")
        if arn in doc["Attached"]:
            return
        if len(doc["Attached"]) >= POLICIES_PER_ROLE:
            raise LimitExceeded(
                reason="quota-exceeded", quota="PoliciesPerRole", limit=POLICIES_PER_ROLE
            )
        doc["Attached"].append(arn)

    on_role(ctx, name, edit)
    return {}


def detach_role_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, arn = params["RoleName"], params["PolicyArn"]
    check_arn(arn)

    def edit(doc: Doc) -> None:
        protect(doc)
        if arn not in doc["Attached"]:
            raise NotFound(reason="policy-not-found", arn=arn)
        doc["Attached"].remove(arn)

    on_role(ctx, name, edit)
    return {}


def list_attached_role_policies(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """In attach order; PathPrefix filters on the policies' paths."""
    prefix = params.get("PathPrefix") or "/"
    attached = []
    for arn in get_role(ctx, params["RoleName"]).doc["Attached"]:
        p = find_policy(ctx, arn)
        if p is not None and p.path.startswith(prefix):
            attached.append({"PolicyName": p.name, "PolicyArn": p.arn})
    return paged("AttachedPolicies", attached, params)


OPERATIONS: Operations = {
    "AttachRolePolicy": attach_role_policy,
    "DetachRolePolicy": detach_role_policy,
    "ListAttachedRolePolicies": list_attached_role_policies,
}
