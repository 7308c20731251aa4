"""EKS access entries and access policies.

An access entry maps one IAM principal to a Kubernetes username and groups; STANDARD entries
(and EC2 Auto Mode ones) also take access policies. The entry types and the policies are data
(``policy/tables/eks_access_policies.yaml``). Entries exist only on clusters whose
authentication mode includes the EKS API; on a ``CONFIG_MAP`` cluster every access entry
operation is refused with EKS's InvalidRequestException. The policies an entry holds live in
its ``_podwarden.associatedAccessPolicies`` (the ``AssociatedAccessPolicy`` shape), where the
local authorizer reads them.

Messages quoted from EKS: "The cluster's authentication mode must be set to one of [API,
API_AND_CONFIG_MAP] to perform this operation.", "The specified access entry resource is
already in use on this cluster." (409) and "The specified principalArn could not be found. You
can view your available access entries with 'list-access-entries'." (404), all as reported by
users of terraform-provider-aws. The username rules are the EKS guide's ("Set a custom username
for EKS access entries"); other messages are podwarden's wording of AWS's rules.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.eks import records
from podwarden.logic import eks_identity
from podwarden.logic.eks_identity import Principal
from podwarden.model.aws import arns, kinds
from podwarden.model.aws.private import KEY, private
from podwarden.model.errors import Conflict, InUse, Invalid, NotFound
from podwarden.policy import eks_catalog
from podwarden.store.resources import Record

API_MODES = ("API", "API_AND_CONFIG_MAP")
CLUSTER_ADMIN = eks_catalog.POLICY_ARN_PREFIX + "AmazonEKSClusterAdminPolicy"
RESERVED_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")


def parse_principal(arn: str, cluster: str) -> Principal:
    """An IAM user, role or account root; STS sessions are refused, as EKS does."""
    found = eks_identity.principal(arn)
    if found is None:
        raise Invalid(reason="invalid-principal", principalArn=arn, clusterName=cluster)
    return found


# ---------------------------------------------------------------- lookups


def api_cluster(ctx: Context, name: str) -> Record:
    rec = records.get_cluster(ctx, name)
    if rec.doc["accessConfig"]["authenticationMode"] not in API_MODES:
        raise Conflict(reason="not-api-mode", clusterName=name)
    return rec


def get_entry(ctx: Context, cluster: str, principal_arn: str) -> Record:
    key = kinds.child_key(cluster, principal_arn)
    rec = ctx.store.resources.get(kinds.EKS_ACCESS_ENTRY, ctx.scope, key)
    if rec is None:
        raise NotFound(reason="access-entry-not-found", clusterName=cluster)
    return rec


def _entry_type(name: str, cluster: str) -> eks_catalog.EntryType:
    types = eks_catalog.load_access().entry_types
    found = types.get(name)
    if found is None:
        raise Invalid(
            reason="invalid-entry-type", type=name, valid=list(types), clusterName=cluster
        )
    return found


# ---------------------------------------------------------------- creation


def add_entry(
    ctx: Context,
    cluster: str,
    principal_arn: str,
    *,
    entry_type: str = "STANDARD",
    groups: list[str] | None = None,
    username: str | None = None,
    tags: dict[str, str] | None = None,
) -> Record:
    """Validate and store one access entry (also the creator's entry of CreateCluster)."""
    kind = _entry_type(entry_type, cluster)
    principal = parse_principal(principal_arn, cluster)
    _check_custom(kind, principal, groups, username, account=ctx.account, cluster=cluster)
    now = ctx.now()
    doc: dict[str, Any] = {
        "clusterName": cluster,
        "principalArn": principal_arn,
        "kubernetesGroups": list(groups or kind.groups),
        "accessEntryArn": _entry_arn(ctx, cluster, principal),
        "createdAt": now,
        "modifiedAt": now,
        "tags": dict(tags or {}),
        "username": username or kind.username or principal.default_username,
        "type": kind.name,
        KEY: {"associatedAccessPolicies": []},
    }
    key = kinds.child_key(cluster, principal_arn)
    taken = InUse(reason="access-entry-exists", clusterName=cluster)
    return records.create(
        ctx, kinds.EKS_ACCESS_ENTRY, key, doc, created=now, parent=cluster, taken=taken
    )


def _check_custom(
    kind: eks_catalog.EntryType,
    principal: Principal,
    groups: list[str] | None,
    username: str | None,
    *,
    account: str,
    cluster: str,
) -> None:
    if kind.roles_only and (principal.kind != "role" or principal.account != account):
        raise Invalid(
            reason="entry-needs-role",
            type=kind.name,
            account=account,
            principalArn=principal.arn,
            clusterName=cluster,
        )
    if not kind.custom and (groups or username):
        raise Invalid(reason="entry-not-custom", type=kind.name, clusterName=cluster)
    for prefix in RESERVED_PREFIXES:
        if username and username.startswith(prefix):
            raise Invalid(
                reason="reserved-username", username=username, prefix=prefix, clusterName=cluster
            )


def _entry_arn(ctx: Context, cluster: str, principal: Principal) -> str:
    return arns.eks_child(
        ctx.region,
        ctx.account,
        "access-entry",
        cluster,
        principal.kind,
        principal.account,
        principal.name,
        str(uuid.uuid4()),
    )


def associate(ctx: Context, rec: Record, policy_arn: str, scope_: dict[str, Any]) -> dict[str, Any]:
    """Add (or re-scope) one policy of an entry; returns the stored association."""
    cluster = rec.doc["clusterName"]
    policy = eks_catalog.load_access().policy_by_arn(policy_arn)
    if policy is None:
        raise Invalid(reason="invalid-policy", policyArn=policy_arn, clusterName=cluster)
    if rec.doc["type"] not in policy.entry_types:
        raise Invalid(
            reason="policy-not-for-type",
            policy=policy.name,
            type=rec.doc["type"],
            clusterName=cluster,
        )
    scope_ = _access_scope(scope_, cluster)
    now = ctx.now()
    held: list[dict[str, Any]] = private(rec.doc)["associatedAccessPolicies"]
    old = next((p for p in held if p["policyArn"] == policy_arn), None)
    assoc = {
        "policyArn": policy_arn,
        "accessScope": scope_,
        "associatedAt": old["associatedAt"] if old else now,
        "modifiedAt": now,
    }
    held[:] = [p for p in held if p["policyArn"] != policy_arn] + [assoc]
    rec.doc["modifiedAt"] = now
    ctx.store.resources.save(rec)
    return assoc


def _access_scope(raw: dict[str, Any], cluster: str) -> dict[str, Any]:
    kind, namespaces = raw.get("type"), list(raw.get("namespaces") or [])
    if kind == "namespace" and not namespaces:
        raise Invalid(reason="namespaces-required", clusterName=cluster)
    if kind == "cluster" and namespaces:
        raise Invalid(reason="namespaces-not-allowed", clusterName=cluster)
    if kind not in ("cluster", "namespace"):
        raise Invalid(reason="invalid-access-scope", clusterName=cluster)
    return {"type": kind, "namespaces": namespaces}


# ---------------------------------------------------------------- handlers


def create_access_entry(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    records.require_live(api_cluster(ctx, cluster))
    rec = add_entry(
        ctx,
        cluster,
        params["principalArn"],
        entry_type=params.get("type") or "STANDARD",
        groups=params.get("kubernetesGroups"),
        username=params.get("username"),
        tags=params.get("tags"),
    )
    ctx.wake(kinds.EKS_CLUSTER, params["clusterName"])
    return {"accessEntry": records.public(rec.doc)}


def describe_access_entry(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    api_cluster(ctx, params["clusterName"])
    return {
        "accessEntry": records.public(
            get_entry(ctx, params["clusterName"], params["principalArn"]).doc
        )
    }


def list_access_entries(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    api_cluster(ctx, cluster)
    wanted = params.get("associatedPolicyArn")
    principals = [
        r.doc["principalArn"]
        for r in records.children(ctx, kinds.EKS_ACCESS_ENTRY, cluster)
        if wanted is None
        or any(p["policyArn"] == wanted for p in private(r.doc)["associatedAccessPolicies"])
    ]
    return records.page("accessEntries", principals, params)


def update_access_entry(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    api_cluster(ctx, cluster)
    rec = get_entry(ctx, cluster, params["principalArn"])
    kind = _entry_type(rec.doc["type"], cluster)
    groups, username = params.get("kubernetesGroups"), params.get("username")
    principal = parse_principal(rec.doc["principalArn"], cluster)
    _check_custom(kind, principal, groups, username, account=principal.account, cluster=cluster)
    if groups is not None:
        rec.doc["kubernetesGroups"] = list(groups)
    if username:
        rec.doc["username"] = username
    rec.doc["modifiedAt"] = ctx.now()
    ctx.store.resources.save(rec)
    ctx.wake(kinds.EKS_CLUSTER, params["clusterName"])
    return {"accessEntry": records.public(rec.doc)}


def delete_access_entry(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    api_cluster(ctx, cluster)
    rec = get_entry(ctx, cluster, params["principalArn"])
    ctx.store.resources.delete(kinds.EKS_ACCESS_ENTRY, rec.scope, rec.key)
    ctx.wake(kinds.EKS_CLUSTER, params["clusterName"])
    return {}


def associate_access_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    records.require_live(api_cluster(ctx, cluster))
    rec = get_entry(ctx, cluster, params["principalArn"])
    assoc = associate(ctx, rec, params["policyArn"], params["accessScope"])
    ctx.wake(kinds.EKS_CLUSTER, params["clusterName"])
    return {
        "clusterName": cluster,
        "principalArn": params["principalArn"],
        "associatedAccessPolicy": records.public(copy.deepcopy(assoc)),
    }


def disassociate_access_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    api_cluster(ctx, cluster)
    rec = get_entry(ctx, cluster, params["principalArn"])
    held: list[dict[str, Any]] = private(rec.doc)["associatedAccessPolicies"]
    kept = [p for p in held if p["policyArn"] != params["policyArn"]]
    if len(kept) == len(held):
        raise NotFound(
            reason="policy-not-associated", policyArn=params["policyArn"], clusterName=cluster
        )
    held[:] = kept
    rec.doc["modifiedAt"] = ctx.now()
    ctx.store.resources.save(rec)
    ctx.wake(kinds.EKS_CLUSTER, params["clusterName"])
    return {}


def list_associated_access_policies(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    api_cluster(ctx, cluster)
    rec = get_entry(ctx, cluster, params["principalArn"])
    held = [records.public(p) for p in private(rec.doc)["associatedAccessPolicies"]]
    out = {"clusterName": cluster, "principalArn": params["principalArn"]}
    return {**out, **records.page("associatedAccessPolicies", held, params)}


def list_access_policies(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    policies = [{"name": p.name, "arn": p.arn} for p in eks_catalog.load_access().policies.values()]
    return records.page("accessPolicies", policies, params)


OPERATIONS: Operations = {
    "CreateAccessEntry": create_access_entry,
    "DescribeAccessEntry": describe_access_entry,
    "ListAccessEntries": list_access_entries,
    "UpdateAccessEntry": update_access_entry,
    "DeleteAccessEntry": delete_access_entry,
    "AssociateAccessPolicy": associate_access_policy,
    "DisassociateAccessPolicy": disassociate_access_policy,
    "ListAssociatedAccessPolicies": list_associated_access_policies,
    "ListAccessPolicies": list_access_policies,
}
