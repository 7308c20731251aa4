"""A role's inline policies: PutRolePolicy, GetRolePolicy, DeleteRolePolicy, ListRolePolicies.

They live in the role's record (``Inline``: name -> document text) and count together against
IAM's quota of 10,240 characters (whitespace excluded) per role. A service-linked role's are
AWS's (``UnmodifiableEntity``).
"""

from __future__ import annotations

from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.iam import policy_doc as pdoc
from podwarden.control.iam.paging import paged
from podwarden.control.iam.records import Doc
from podwarden.control.iam.roles import get_role, on_role, protect
from podwarden.model.errors import LimitExceeded, NotFound


def put_role_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, text = params["PolicyName"], params["PolicyDocument"]
    pdoc.check(text, pdoc.PERMISSIONS)

    def edit(doc: Doc) -> None:
        protect(doc)
        others = sum(pdoc.size(t) for n, t in doc["Inline"].items() if n != name)
        if others + pdoc.size(text) > pdoc.INLINE_ROLE_POLICIES_SIZE:
            raise LimitExceeded(
                reason="inline-policies-size",
                limit=pdoc.INLINE_ROLE_POLICIES_SIZE,
                name=doc["RoleName"],
            )
        doc["Inline"][name] = text

    on_role(ctx, params["RoleName"], edit)
    return {}


def _inline(doc: Doc, name: str) -> str:
    text = doc["Inline"].get(name)
    if text is None:
        raise NotFound(reason="inline-policy-not-found", name=name)
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
    def edit(doc: Doc) -> None:
        protect(doc)
        _inline(doc, params["PolicyName"])
        del doc["Inline"][params["PolicyName"]]

    on_role(ctx, params["RoleName"], edit)
    return {}


def list_role_policies(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return paged("PolicyNames", sorted(get_role(ctx, params["RoleName"]).doc["Inline"]), params)


OPERATIONS: Operations = {
    "PutRolePolicy": put_role_policy,
    "GetRolePolicy": get_role_policy,
    "DeleteRolePolicy": delete_role_policy,
    "ListRolePolicies": list_role_policies,
}
