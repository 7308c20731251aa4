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
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podwarden.control.aws.eks_common import (
    ACCESS_ENTRY,
    child_key,
    children,
    get_cluster,
    in_use,
    invalid_parameter,
    invalid_request,
    listing,
    not_found,
    paged,
    private,
    public,
    require_live,
    scope,
)
from podwarden.control.context import Context
from podwarden.model.aws import kinds
from podwarden.policy import eks_catalog
from podwarden.store.resources import Duplicate, Record

API_MODES = ("API", "API_AND_CONFIG_MAP")
CLUSTER_ADMIN = eks_catalog.POLICY_ARN_PREFIX + "AmazonEKSClusterAdminPolicy"
RESERVED_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")
_IAM = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>[0-9]{12}):"
    r"(?:(?P<kind>user|role)/(?P<path>(?:[^/]+/)*)(?P<name>[^/]+)|root)"
)
_ASSUMED = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):sts::(?P<account>[0-9]{12}):assumed-role/(?P<name>[^/]+)/.+"
)
NO_ENTRY = (
    "The specified principalArn could not be found. "
    "You can view your available access entries with 'list-access-entries'."
)


@dataclass(frozen=True)
class Principal:
    arn: str
    account: str
    kind: str  # user | role | root
    name: str

    @property
    def default_username(self) -> str:
        """A user's ARN; for a role its assumed-role ARN, path dropped, with {{SessionName}}."""
        if self.kind == "role":
            return f"arn:aws:sts::{self.account}:assumed-role/{self.name}/{{{{SessionName}}}}"
        return self.arn


def parse_principal(arn: str, cluster: str) -> Principal:
    """An IAM user, role or account root; STS sessions are refused, as EKS does."""
    m = _IAM.fullmatch(arn)
    if m is None:
        raise invalid_parameter(
            f"The principalArn {arn} is not a valid IAM user or role ARN "
            "(STS session principals are not supported).",
            clusterName=cluster,
        )
    kind = m["kind"] or "root"
    return Principal(arn, m["account"], kind, m["name"] or "root")


def creator_principal(arn: str) -> str:
    """The IAM principal behind a caller: an assumed-role session is its role."""
    m = _ASSUMED.fullmatch(arn)
    if m:
        return f"arn:{m['partition']}:iam::{m['account']}:role/{m['name']}"
    return arn


# ---------------------------------------------------------------- lookups


def api_cluster(ctx: Context, name: str) -> Record:
    rec = get_cluster(ctx, name)
    if rec.doc["accessConfig"]["authenticationMode"] not in API_MODES:
        raise invalid_request(
            "The cluster's authentication mode must be set to one of "
            "[API, API_AND_CONFIG_MAP] to perform this operation.",
            clusterName=name,
        )
    return rec


def get_entry(ctx: Context, cluster: str, principal_arn: str) -> Record:
    rec = ctx.store.resources.get(ACCESS_ENTRY, scope(ctx), child_key(cluster, principal_arn))
    if rec is None:
        raise not_found(NO_ENTRY, clusterName=cluster)
    return rec


def _entry_type(name: str, cluster: str) -> eks_catalog.EntryType:
    types = eks_catalog.load_access().entry_types
    found = types.get(name)
    if found is None:
        raise invalid_parameter(
            f"The type {name} is not valid. Valid values are [{', '.join(types)}]",
            clusterName=cluster,
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
        "_podwarden": {"associatedAccessPolicies": []},
    }
    rec = Record(ACCESS_ENTRY, scope(ctx), child_key(cluster, principal_arn), doc, parent=cluster)
    rec.created = now
    try:
        return ctx.store.resources.create(rec)
    except Duplicate:
        raise in_use(
            "The specified access entry resource is already in use on this cluster.",
            clusterName=cluster,
        ) from None


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
        raise invalid_parameter(
            f"Access entries of type {kind.name} need an IAM role of account {account}; "
            f"{principal.arn} is not one.",
            clusterName=cluster,
        )
    if not kind.custom and (groups or username):
        raise invalid_parameter(
            f"kubernetesGroups and username can't be set on an access entry of type {kind.name}.",
            clusterName=cluster,
        )
    for prefix in RESERVED_PREFIXES:
        if username and username.startswith(prefix):
            raise invalid_parameter(
                f"The username {username} is not valid: a username can't start with {prefix}",
                clusterName=cluster,
            )


def _entry_arn(ctx: Context, cluster: str, principal: Principal) -> str:
    return (
        f"arn:aws:eks:{ctx.region}:{ctx.account}:access-entry/{cluster}/{principal.kind}/"
        f"{principal.account}/{principal.name}/{uuid.uuid4()}"
    )


def associate(ctx: Context, rec: Record, policy_arn: str, scope_: dict[str, Any]) -> dict[str, Any]:
    """Add (or re-scope) one policy of an entry; returns the stored association."""
    cluster = rec.doc["clusterName"]
    policy = eks_catalog.load_access().policy_by_arn(policy_arn)
    if policy is None:
        raise invalid_parameter(f"The policyArn {policy_arn} is not valid.", clusterName=cluster)
    if rec.doc["type"] not in policy.entry_types:
        raise invalid_parameter(
            f"The access policy {policy.name} can't be associated with an access entry of type "
            f"{rec.doc['type']}.",
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
        raise invalid_parameter(
            "namespaces must be set when the access scope type is namespace.", clusterName=cluster
        )
    if kind == "cluster" and namespaces:
        raise invalid_parameter(
            "namespaces can't be set when the access scope type is cluster.", clusterName=cluster
        )
    if kind not in ("cluster", "namespace"):
        raise invalid_parameter(
            "accessScope.type must be cluster or namespace.", clusterName=cluster
        )
    return {"type": kind, "namespaces": namespaces}


# ---------------------------------------------------------------- handlers


def create_access_entry(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    require_live(api_cluster(ctx, cluster))
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
    return {"accessEntry": public(rec.doc)}


def describe_access_entry(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    api_cluster(ctx, params["clusterName"])
    return {
        "accessEntry": public(get_entry(ctx, params["clusterName"], params["principalArn"]).doc)
    }


def list_access_entries(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    api_cluster(ctx, cluster)
    wanted = params.get("associatedPolicyArn")
    arns = [
        r.doc["principalArn"]
        for r in children(ctx, ACCESS_ENTRY, cluster)
        if wanted is None
        or any(p["policyArn"] == wanted for p in private(r.doc)["associatedAccessPolicies"])
    ]
    items, token = paged(arns, params)
    return listing("accessEntries", items, token)


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
    return {"accessEntry": public(rec.doc)}


def delete_access_entry(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    api_cluster(ctx, cluster)
    rec = get_entry(ctx, cluster, params["principalArn"])
    ctx.store.resources.delete(ACCESS_ENTRY, rec.scope, rec.key)
    ctx.wake(kinds.EKS_CLUSTER, params["clusterName"])
    return {}


def associate_access_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    require_live(api_cluster(ctx, cluster))
    rec = get_entry(ctx, cluster, params["principalArn"])
    assoc = associate(ctx, rec, params["policyArn"], params["accessScope"])
    ctx.wake(kinds.EKS_CLUSTER, params["clusterName"])
    return {
        "clusterName": cluster,
        "principalArn": params["principalArn"],
        "associatedAccessPolicy": public(copy.deepcopy(assoc)),
    }


def disassociate_access_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    api_cluster(ctx, cluster)
    rec = get_entry(ctx, cluster, params["principalArn"])
    held: list[dict[str, Any]] = private(rec.doc)["associatedAccessPolicies"]
    kept = [p for p in held if p["policyArn"] != params["policyArn"]]
    if len(kept) == len(held):
        raise not_found(
            f"The policyArn {params['policyArn']} is not associated with the access entry.",
            clusterName=cluster,
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
    items, token = paged(private(rec.doc)["associatedAccessPolicies"], params)
    out = {"clusterName": cluster, "principalArn": params["principalArn"]}
    return {**out, **listing("associatedAccessPolicies", public({"x": items})["x"], token)}


def list_access_policies(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    policies = [{"name": p.name, "arn": p.arn} for p in eks_catalog.load_access().policies.values()]
    items, token = paged(policies, params)
    return listing("accessPolicies", items, token)


HANDLERS: dict[str, Callable[[Context, dict[str, Any]], dict[str, Any]]] = {
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
