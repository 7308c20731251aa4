"""Collectors of EKS facts: the cluster, its add-ons, access entries, managed node groups' roles
and Pod Identity associations. Read-only calls through a :data:`Call`."""

from __future__ import annotations

from typing import Any

from podwarden.checks.transport import Call, CallFailed
from podwarden.logic.preflight_facts import Addon, EksCluster, Unknown

MAX_ITEMS = 200  # access entries, node groups... described one by one: enough for real clusters
API_MODES = frozenset({"API", "API_AND_CONFIG_MAP"})


def pages(
    call: Call,
    service: str,
    operation: str,
    params: dict[str, Any],
    *,
    items: str,
    cursor: str,
) -> list[Any]:
    """Every item of a paginated list operation; ``cursor`` is the member that carries the
    next page's token (EKS nextToken, EC2 NextToken, IAM Marker)."""
    out: list[Any] = []
    request = dict(params)
    while True:
        page = call(service, operation, request)
        out += page.get(items) or []
        following = page.get(cursor)
        if service == "iam" and not page.get("IsTruncated"):
            following = None
        if not following or len(out) >= MAX_ITEMS * 10:
            return out
        request = {**params, cursor: following}


def eks_cluster(call: Call, name: str) -> EksCluster | Unknown:
    try:
        cluster = call("eks", "DescribeCluster", {"name": name})["cluster"]
    except CallFailed as exc:
        if exc.missing:
            return Unknown(f"EKS cluster {name} does not exist ({exc.code})", missing=True)
        return Unknown(f"EKS cluster {name} could not be read ({exc.reason})")
    vpc = cluster.get("resourcesVpcConfig") or {}
    mode = (cluster.get("accessConfig") or {}).get("authenticationMode", "CONFIG_MAP")
    return EksCluster(
        name=name,
        arn=str(cluster.get("arn", "")),
        status=str(cluster.get("status", "")),
        version=str(cluster.get("version", "")),
        authentication_mode=str(mode),
        ip_family=str((cluster.get("kubernetesNetworkConfig") or {}).get("ipFamily", "ipv4")),
        vpc_id=vpc.get("vpcId"),
        subnet_ids=tuple(vpc.get("subnetIds") or []),
        oidc_issuer=str(((cluster.get("identity") or {}).get("oidc") or {}).get("issuer", "")),
        addons=_addons(call, name),
        access_entries=_access_entries(call, name) if mode in API_MODES else {},
        node_group_roles=_node_group_roles(call, name),
        pod_identity_associations=_associations(call, name),
    )


def _addons(call: Call, cluster: str) -> dict[str, Addon] | Unknown:
    try:
        names = pages(
            call, "eks", "ListAddons", {"clusterName": cluster}, items="addons", cursor="nextToken"
        )
        out = {}
        for name in names[:MAX_ITEMS]:
            addon = call("eks", "DescribeAddon", {"clusterName": cluster, "addonName": name})
            doc = addon["addon"]
            out[name] = Addon(name, str(doc.get("addonVersion", "")), str(doc.get("status", "")))
    except CallFailed as exc:
        return Unknown(exc.reason)
    return out


def _access_entries(call: Call, cluster: str) -> dict[str, str] | Unknown:
    try:
        principals = pages(
            call,
            "eks",
            "ListAccessEntries",
            {"clusterName": cluster},
            items="accessEntries",
            cursor="nextToken",
        )
        out = {}
        for arn in principals[:MAX_ITEMS]:
            entry = call(
                "eks", "DescribeAccessEntry", {"clusterName": cluster, "principalArn": arn}
            )["accessEntry"]
            out[arn] = str(entry.get("type", "STANDARD"))
    except CallFailed as exc:
        return Unknown(exc.reason)
    return out


def _node_group_roles(call: Call, cluster: str) -> tuple[str, ...] | Unknown:
    try:
        names = pages(
            call,
            "eks",
            "ListNodegroups",
            {"clusterName": cluster},
            items="nodegroups",
            cursor="nextToken",
        )
        roles = []
        for name in names[:MAX_ITEMS]:
            group = call(
                "eks", "DescribeNodegroup", {"clusterName": cluster, "nodegroupName": name}
            )["nodegroup"]
            if group.get("nodeRole"):
                roles.append(str(group["nodeRole"]))
    except CallFailed as exc:
        return Unknown(exc.reason)
    return tuple(dict.fromkeys(roles))


def _associations(call: Call, cluster: str) -> tuple[str, ...] | Unknown:
    try:
        found = pages(
            call,
            "eks",
            "ListPodIdentityAssociations",
            {"clusterName": cluster},
            items="associations",
            cursor="nextToken",
        )
    except CallFailed as exc:
        return Unknown(exc.reason)
    return tuple(f"{a.get('namespace')}/{a.get('serviceAccount')}" for a in found)
