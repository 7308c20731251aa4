"""Cluster updates: UpdateClusterConfig, UpdateClusterVersion, DescribeUpdate, ListUpdates.

An update is recorded ``InProgress`` with the changes it makes (``records.start_update``); the
cluster goes ``UPDATING`` and names it in ``_podwarden.pending_update``. The reconciler does
what the change needs (a new apiserver for a ``VersionUpdate``, the authenticator for an
``AccessConfigUpdate``) and calls ``eks_lifecycle.finish_update``, which applies the changes
and puts the cluster back to ``ACTIVE``.

EKS's rules and messages:

* one update at a time: ResourceInUseException "Cannot <UpdateType> because cluster <name>
  currently has update <id> in progress" (aws-controllers-k8s/community#1192,
  aws/aws-cdk#33452);
* one kind of change per UpdateClusterConfig: InvalidParameterException "Only one type of
  update can be allowed." (crossplane-contrib/provider-aws#642);
* authentication mode only forward, one step: CONFIG_MAP -> API_AND_CONFIG_MAP -> API
  (EKS guide: "you can't change the authentication mode back to a mode that removes the EKS
  API and access entries"); anything else, the current mode included, is
  InvalidParameterException "Unsupported authentication mode update from <a> to <b>" (AWS's
  EKS security workshop shows CONFIG_MAP -> API refused with it);
* Kubernetes one minor version up at a time: InvalidParameterException "Unsupported
  Kubernetes minor version update from <a> to <b>" (widely reported for skips and downgrades);
  podwarden also refuses a target its local control plane cannot run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.eks import versions
from podwarden.control.eks.network import subnets_vpc
from podwarden.control.eks.records import (
    children,
    get_cluster,
    page,
    public,
    start_update,
)
from podwarden.logic import eks_lifecycle
from podwarden.model.aws import kinds
from podwarden.model.errors import Conflict, InUse, Invalid, NotFound, Unsupported
from podwarden.policy import eks_catalog
from podwarden.store.resources import Record

AUTH_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
Change = tuple[str, list[tuple[str, str]], dict[str, Any]]  # type, params, changes
# Cluster configurations podwarden records as CreateCluster gives them (``clusters.ECHOED``)
# but cannot apply to a local control plane
RECORDED_ONLY = (
    "computeConfig",
    "storageConfig",
    "remoteNetworkConfig",
    "controlPlaneScalingConfig",
    "kubeApiServerConfig",
    "kubeSchedulerConfig",
    "kubeControllerManagerConfig",
)
# UpdateClusterConfig members podwarden cannot apply to a local control plane
UNSUPPORTED = ("kubernetesNetworkConfig", *RECORDED_ONLY)


def normalized_logging(current: dict[str, Any] | None, request: dict[str, Any]) -> dict[str, Any]:
    """``Logging`` as EKS reports it: one entry of enabled types, one of disabled ones; the
    request's entries switch types on or off, the rest keep ``current``'s state."""
    enabled = {
        t for e in (current or {}).get("clusterLogging", []) if e.get("enabled") for t in e["types"]
    }
    for entry in request.get("clusterLogging", []):
        types = set(entry.get("types") or [])
        enabled = enabled | types if entry.get("enabled") else enabled - types
    groups = [
        ([t for t in LOG_TYPES if t in enabled], True),
        ([t for t in LOG_TYPES if t not in enabled], False),
    ]
    return {"clusterLogging": [{"types": ts, "enabled": on} for ts, on in groups if ts]}


# ---------------------------------------------------------------- UpdateClusterConfig


def _access(ctx: Context, doc: dict[str, Any], value: dict[str, Any]) -> Change:
    old, new = doc["accessConfig"]["authenticationMode"], value.get("authenticationMode")
    if new not in AUTH_MODES or AUTH_MODES.index(new) != AUTH_MODES.index(old) + 1:
        raise Invalid(reason="auth-mode-update", old=old, new=new, clusterName=doc["name"])
    return (
        "AccessConfigUpdate",
        [("AuthenticationMode", new)],
        {"accessConfig.authenticationMode": new},
    )


def _logging(ctx: Context, doc: dict[str, Any], value: dict[str, Any]) -> Change:
    logging = normalized_logging(doc.get("logging"), value)
    if logging == doc.get("logging"):
        raise Invalid(
            "No changes needed for the logging config provided",
            reason="no-changes",
            clusterName=doc["name"],
        )
    return "LoggingUpdate", [("ClusterLogging", json.dumps(logging))], {"logging": logging}


ENDPOINT_MEMBERS = (
    ("endpointPublicAccess", "EndpointPublicAccess"),
    ("endpointPrivateAccess", "EndpointPrivateAccess"),
    ("publicAccessCidrs", "PublicAccessCidrs"),
)
VPC_MEMBERS = (("subnetIds", "Subnets"), ("securityGroupIds", "SecurityGroups"))


def _vpc(ctx: Context, doc: dict[str, Any], value: dict[str, Any]) -> Change:
    """Endpoint access, or subnets and security groups: one kind per request."""
    endpoint = [(m, p) for m, p in ENDPOINT_MEMBERS if value.get(m) is not None]
    vpc = [(m, p) for m, p in VPC_MEMBERS if value.get(m) is not None]
    if endpoint and vpc:
        raise Invalid(reason="one-update-type", clusterName=doc["name"])
    if vpc and "subnetIds" in value:
        subnets_vpc(ctx, list(value["subnetIds"]), doc["name"])
    kind = "VpcConfigUpdate" if vpc else "EndpointAccessUpdate"
    chosen = vpc or endpoint
    if not chosen:
        raise Invalid(
            "No changes were given in resourcesVpcConfig.",
            reason="no-changes",
            clusterName=doc["name"],
        )
    params = [(p, _text(value[m])) for m, p in chosen]
    return kind, params, {f"resourcesVpcConfig.{m}": value[m] for m, _ in chosen}


def _simple(
    update_type: str, param: str, path: str
) -> Callable[[Context, dict[str, Any], Any], Change]:
    def build(ctx: Context, doc: dict[str, Any], value: Any) -> Change:
        if doc.get(path) == value:
            raise Invalid(
                f"No changes needed for the {path} provided",
                reason="no-changes",
                clusterName=doc["name"],
            )
        return update_type, [(param, _text(value))], {path: value}

    return build


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


# UpdateClusterConfig member -> how it becomes an update
CONFIG_UPDATES: dict[str, Callable[[Context, dict[str, Any], Any], Change]] = {
    "accessConfig": _access,
    "logging": _logging,
    "resourcesVpcConfig": _vpc,
    "upgradePolicy": _simple("UpgradePolicyUpdate", "UpgradePolicy", "upgradePolicy"),
    "deletionProtection": _simple(
        "DeletionProtectionUpdate", "DeletionProtection", "deletionProtection"
    ),
    "zonalShiftConfig": _simple("ZonalShiftConfigUpdate", "ZonalShiftConfig", "zonalShiftConfig"),
}


# the update type named when another update blocks this one
GUARD_NAMES = {
    "accessConfig": "AccessConfigUpdate",
    "logging": "LoggingUpdate",
    "resourcesVpcConfig": "VpcConfigUpdate",
    "upgradePolicy": "UpgradePolicyUpdate",
    "deletionProtection": "DeletionProtectionUpdate",
    "zonalShiftConfig": "ZonalShiftConfigUpdate",
}


def update_cluster_config(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = params["name"]
    given = [m for m in (*CONFIG_UPDATES, *UNSUPPORTED) if params.get(m) is not None]
    if len(given) > 1:
        raise Invalid(reason="one-update-type", clusterName=name)
    if not given:
        raise Invalid("No update was given.", reason="no-changes", clusterName=name)
    member = given[0]
    rec = get_cluster(ctx, name)
    if member in UNSUPPORTED:
        raise Unsupported(reason="update-not-supported", member=member, clusterName=name)
    _require_updatable(rec, GUARD_NAMES[member])
    update_type, shown, changes = CONFIG_UPDATES[member](ctx, rec.doc, params[member])
    return start_update(ctx, rec, update_type, shown, changes)


# ---------------------------------------------------------------- UpdateClusterVersion


def update_cluster_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = get_cluster(ctx, params["name"])
    _require_updatable(rec, "VersionUpdate")
    current, target = rec.doc["version"], params["version"]
    known = versions.known(target, rec.key)
    if target != eks_catalog.next_minor(current):
        raise Invalid(reason="version-update", current=current, target=target, clusterName=rec.key)
    shown = [("Version", target), ("PlatformVersion", known.platform_version)]
    changes = {
        "version": target,
        "platformVersion": known.platform_version,
        "_podwarden.kubernetes": versions.release(target, rec.key),
    }
    return start_update(ctx, rec, "VersionUpdate", shown, changes)


# ---------------------------------------------------------------- shared


def _require_updatable(rec: Record, update_type: str) -> None:
    pending = eks_lifecycle.pending_update(rec.doc)
    if rec.doc["status"] == "UPDATING" and pending:
        raise InUse(
            reason="update-in-progress",
            updateType=update_type,
            updateId=pending,
            clusterName=rec.key,
        )
    if rec.doc["status"] != "ACTIVE":
        raise Conflict(reason="cluster-not-active", clusterName=rec.key)


def _updates(ctx: Context, cluster: str, addon: str | None) -> list[Record]:
    return [
        r
        for r in children(ctx, kinds.EKS_UPDATE, cluster)
        if eks_lifecycle.updated_addon(r.doc) == addon
    ]


def describe_update(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, update_id = params["name"], params["updateId"]
    get_cluster(ctx, name)
    rec = ctx.store.resources.get(kinds.EKS_UPDATE, ctx.scope, kinds.child_key(name, update_id))
    if rec is None or eks_lifecycle.updated_addon(rec.doc) != params.get("addonName"):
        raise NotFound(reason="update-not-found", updateId=update_id, clusterName=name)
    return {"update": public(rec.doc)}


def list_updates(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The cluster's own updates, or with ``addonName`` that add-on's."""
    get_cluster(ctx, params["name"])
    ids = [r.doc["id"] for r in _updates(ctx, params["name"], params.get("addonName"))]
    return page("updateIds", ids, params)


OPERATIONS: Operations = {
    "UpdateClusterConfig": update_cluster_config,
    "UpdateClusterVersion": update_cluster_version,
    "DescribeUpdate": describe_update,
    "ListUpdates": list_updates,
}
