"""EKS (rest-json, signing name ``eks``) of the local AWS account: clusters, and
:data:`HANDLERS`, every EKS operation podwarden answers.

An EKS cluster in local mode is a Kubernetes control plane podwarden starts (its own data
directory and ports). CreateCluster records it ``CREATING`` with what the reconciler needs in
``_podwarden`` (see ``eks_common`` for the layout and the transitions): ``kubernetes``, the
exact release to run; ``data_dir``, a directory name unique to this cluster;
``pending_update``; ``creator_arn``, the IAM principal that gets implicit admin on a
``CONFIG_MAP`` cluster; ``bootstrap_self_managed_addons``. The reconciler starts the control
plane and calls ``activate_cluster``; DeleteCluster marks it ``DELETING`` (add-ons too: EKS
deletes them with the cluster) and the reconciler stops it and calls ``forget_cluster``.

Decisions:

* Versions: only those podwarden can run (``eks_versions.yaml``: 1.32 today). A version EKS
  offers but podwarden cannot run is InvalidParameterException naming the runnable ones; one
  EKS does not know is EKS's "unsupported Kubernetes version <v>". Without ``version`` the
  table's default (1.32).
* Authentication mode: without ``accessConfig.authenticationMode`` it is ``CONFIG_MAP``, as
  botocore's CreateCluster doc says for the API and SDKs (the console defaults to
  API_AND_CONFIG_MAP). HyperPod needs API or API_AND_CONFIG_MAP (seed R4), so a cluster meant
  for HyperPod must ask for one (``podwarden up`` should).
  ``bootstrapClusterCreatorAdminPermissions`` defaults to true; false with CONFIG_MAP is EKS's
  InvalidParameterException "...must be true if cluster authentication mode is set to
  CONFIG_MAP". With an API mode and true, the caller (its role, for an assumed-role session)
  gets a STANDARD access entry with AmazonEKSClusterAdminPolicy at cluster scope, as EKS does.
* DeleteCluster: EKS deletes add-ons and access entries with the cluster; what blocks it is
  managed node groups and Fargate profiles (DeleteCluster's doc), which podwarden does not
  model, an update in progress (ResourceInUseException "Cannot delete because cluster <name>
  currently has an update in progress", aws/containers-roadmap#1511) and deletion protection.
* Messages "No cluster found for name: <name>." (404) and "Cluster already exists with name:
  <name>" (409) are EKS's (moto's recordings, hashicorp/terraform#30808).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

from podwarden.control.aws import eks_access, eks_addons, eks_pod_identity, eks_updates
from podwarden.control.aws.eks_common import (
    ADDON,
    CLUSTER,
    children,
    get_cluster,
    in_use,
    invalid_parameter,
    invalid_request,
    listing,
    paged,
    private,
    public,
    scope,
)
from podwarden.control.aws.eks_network import network_config, vpc_config
from podwarden.control.aws.eks_updates import normalized_logging
from podwarden.control.context import Context
from podwarden.model.aws import kinds
from podwarden.policy import eks_catalog
from podwarden.store.resources import Duplicate, Record

Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/.+")
# CreateCluster members kept as given: their request and response shapes have the same members
ECHOED = (
    "tags",
    "encryptionConfig",
    "zonalShiftConfig",
    "computeConfig",
    "storageConfig",
    "remoteNetworkConfig",
    "controlPlaneScalingConfig",
    "kubeApiServerConfig",
    "kubeSchedulerConfig",
    "kubeControllerManagerConfig",
    "clientRequestToken",
)


def runnable_version(requested: str | None, cluster: str) -> tuple[str, str]:
    """The minor version a new cluster runs and the exact release: the request's if podwarden
    can run it, else InvalidParameterException."""
    versions = eks_catalog.load_versions()
    version = requested or versions.default
    if versions.get(version) is None:
        raise invalid_parameter(f"unsupported Kubernetes version {version}", clusterName=cluster)
    if version not in versions.runnable:
        raise invalid_parameter(
            f"Kubernetes {version} is an EKS version podwarden cannot run: its local control "
            f"plane runs {versions.runnable_text()}.",
            clusterName=cluster,
        )
    return version, versions.runnable[version]


def _access_config(params: dict[str, Any], cluster: str) -> dict[str, Any]:
    given = params.get("accessConfig") or {}
    mode = given.get("authenticationMode", "CONFIG_MAP")
    bootstrap = given.get("bootstrapClusterCreatorAdminPermissions", True)
    if mode == "CONFIG_MAP" and not bootstrap:
        raise invalid_parameter(
            "bootstrapClusterCreatorAdminPermissions must be true if cluster authentication "
            "mode is set to CONFIG_MAP",
            clusterName=cluster,
        )
    return {"bootstrapClusterCreatorAdminPermissions": bootstrap, "authenticationMode": mode}


def create_cluster(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = params["name"]
    if ctx.store.resources.get(CLUSTER, scope(ctx), name) is not None:
        raise in_use(f"Cluster already exists with name: {name}", clusterName=name)
    if not _ROLE_ARN.fullmatch(params["roleArn"]):
        raise invalid_parameter(f"Invalid Role Arn: '{params['roleArn']}'", clusterName=name)
    if params.get("outpostConfig"):
        raise invalid_parameter(
            "podwarden does not run EKS clusters on Outposts.", clusterName=name
        )
    version, release = runnable_version(params.get("version"), name)
    doc = _cluster_doc(ctx, params, version, release)
    rec = Record(CLUSTER, scope(ctx), name, doc)
    rec.created = doc["createdAt"]
    try:
        ctx.store.resources.create(rec)
    except Duplicate:
        raise in_use(f"Cluster already exists with name: {name}", clusterName=name) from None
    if doc["accessConfig"]["authenticationMode"] != "CONFIG_MAP":
        _bootstrap_admin(ctx, doc)
    ctx.wake(kinds.EKS_CLUSTER, params["name"])
    return {"cluster": public(doc)}


def _cluster_doc(
    ctx: Context, params: dict[str, Any], version: str, release: str
) -> dict[str, Any]:
    name, cluster_id = params["name"], str(uuid.uuid4())
    vpc = vpc_config(ctx, params["resourcesVpcConfig"], name)
    known = eks_catalog.load_versions().get(version)
    assert known is not None  # runnable_version checked it
    doc: dict[str, Any] = {
        "name": name,
        "arn": f"arn:aws:eks:{ctx.region}:{ctx.account}:cluster/{name}",
        "createdAt": ctx.now(),
        "version": version,
        "roleArn": params["roleArn"],
        "resourcesVpcConfig": vpc,
        "kubernetesNetworkConfig": network_config(
            ctx, params.get("kubernetesNetworkConfig") or {}, vpc.get("vpcId"), name
        ),
        "logging": normalized_logging(None, params.get("logging") or {}),
        "identity": {"oidc": {"issuer": _issuer(ctx.region, cluster_id)}},
        "status": "CREATING",
        "certificateAuthority": {},
        "platformVersion": known.platform_version,
        "id": cluster_id,
        "health": {"issues": []},
        "accessConfig": _access_config(params, name),
        "upgradePolicy": params.get("upgradePolicy") or {"supportType": "EXTENDED"},
        "deletionProtection": bool(params.get("deletionProtection", False)),
        "_podwarden": {
            "kubernetes": release,
            "data_dir": f"eks/{name}-{cluster_id[:8]}",
            "pending_update": None,
            "creator_arn": eks_access.creator_principal(ctx.principal_arn),
            "bootstrap_self_managed_addons": params.get("bootstrapSelfManagedAddons", True),
        },
    }
    doc.update({m: params[m] for m in ECHOED if params.get(m) is not None})
    doc.setdefault("tags", {})
    return doc


def _issuer(region: str, cluster_id: str) -> str:
    """EKS's OIDC issuer URL form; the reconciler may point it at the local issuer instead."""
    return f"https://oidc.eks.{region}.amazonaws.com/id/{cluster_id.replace('-', '').upper()}"


def _bootstrap_admin(ctx: Context, doc: dict[str, Any]) -> None:
    if not doc["accessConfig"]["bootstrapClusterCreatorAdminPermissions"]:
        return
    creator = private(doc)["creator_arn"]
    if not creator:
        return
    entry = eks_access.add_entry(ctx, doc["name"], creator)
    eks_access.associate(ctx, entry, eks_access.CLUSTER_ADMIN, {"type": "cluster"})


def describe_cluster(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"cluster": public(get_cluster(ctx, params["name"]).doc)}


def list_clusters(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    names = [r.key for r in ctx.store.resources.list(CLUSTER, scope(ctx))]
    items, token = paged(names, params)
    return listing("clusters", items, token)


def delete_cluster(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = get_cluster(ctx, params["name"])
    name, doc = rec.key, rec.doc
    if doc["status"] == "UPDATING":
        raise in_use(
            f"Cannot delete because cluster {name} currently has an update in progress",
            clusterName=name,
        )
    if doc.get("deletionProtection"):
        raise invalid_request(
            f"Cluster {name} has deletion protection enabled: disable it with "
            "UpdateClusterConfig before deleting the cluster.",
            clusterName=name,
        )
    if doc["status"] != "DELETING":
        doc["status"] = "DELETING"
        ctx.store.resources.save(rec)
        for addon in children(ctx, ADDON, name):
            addon.doc["status"] = "DELETING"
            addon.doc["modifiedAt"] = ctx.now()
            ctx.store.resources.save(addon)
        ctx.wake(kinds.EKS_CLUSTER, params["name"])
    return {"cluster": public(doc)}


def describe_cluster_versions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The versions EKS offers (not only the ones podwarden runs), newest first; without
    ``includeAll`` the unsupported ones are left out."""
    table = eks_catalog.load_versions()
    today = dt.datetime.fromtimestamp(ctx.now(), dt.UTC).date()
    wanted = set(params.get("clusterVersions") or [])
    out = []
    for v in table.versions.values():
        status = v.status(today)
        info = _version_info(v, status, v.version == table.default)
        if wanted and v.version not in wanted:
            continue
        if params.get("defaultOnly") and not info["defaultVersion"]:
            continue
        if params.get("versionStatus") and params["versionStatus"] != status:
            continue
        if status == "UNSUPPORTED" and not (params.get("includeAll") or wanted):
            continue
        out.append(info)
    items, token = paged(out, params)
    return listing("clusterVersions", items, token)


def _version_info(v: eks_catalog.KubeVersion, status: str, default: bool) -> dict[str, Any]:
    def at(day: dt.date) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)

    return {
        "clusterVersion": v.version,
        "clusterType": "eks",
        "defaultPlatformVersion": v.platform_version,
        "defaultVersion": default,
        "releaseDate": at(v.released),
        "endOfStandardSupportDate": at(v.end_of_standard_support),
        "endOfExtendedSupportDate": at(v.end_of_extended_support),
        "status": status.lower().replace("_", "-"),
        "versionStatus": status,
    }


HANDLERS: dict[str, Handler] = {
    "CreateCluster": create_cluster,
    "DescribeCluster": describe_cluster,
    "ListClusters": list_clusters,
    "DeleteCluster": delete_cluster,
    "DescribeClusterVersions": describe_cluster_versions,
    **eks_updates.HANDLERS,
    **eks_addons.HANDLERS,
    **eks_access.HANDLERS,
    **eks_pod_identity.HANDLERS,
}
