"""EKS clusters: CreateCluster, DescribeCluster, ListClusters and DeleteCluster.

An EKS cluster in local mode is a Kubernetes control plane podwarden starts (its own data
directory and ports). CreateCluster records it ``CREATING`` with what the reconciler needs in
``_podwarden`` (``podwarden.logic.eks_lifecycle`` has the transitions): ``kubernetes``, the
exact release to run; ``data_dir``, a directory name unique to this cluster;
``pending_update``; ``creator_arn``, the IAM principal that gets implicit admin on a
``CONFIG_MAP`` cluster; ``bootstrap_self_managed_addons``. The reconciler starts the control
plane and calls ``activate_cluster``; DeleteCluster marks it ``DELETING`` (add-ons too: EKS
deletes them with the cluster) and the reconciler stops it and forgets the cluster's records.

Decisions:

* Versions: only those podwarden can run (``versions``: 1.32-1.34; a release other than the
  default one is built on first use, so such a cluster may stay ``CREATING`` for minutes).
  Without ``version`` the table's default (1.32).
* Authentication mode: without ``accessConfig.authenticationMode`` it is ``CONFIG_MAP``, as
  botocore's CreateCluster doc says for the API and SDKs (the console defaults to
  API_AND_CONFIG_MAP). HyperPod needs API or API_AND_CONFIG_MAP (R4 in docs/requirements.md),
  so a cluster meant for HyperPod must ask for one (``podwarden up`` should).
  ``bootstrapClusterCreatorAdminPermissions`` defaults to true; false with CONFIG_MAP is EKS's
  InvalidParameterException "...must be true if cluster authentication mode is set to
  CONFIG_MAP". With an API mode and true, the caller (its role, for an assumed-role session)
  gets a STANDARD access entry with AmazonEKSClusterAdminPolicy at cluster scope, as EKS does.
* DeleteCluster: EKS deletes add-ons and access entries with the cluster; what blocks it is
  managed node groups and Fargate profiles (DeleteCluster's doc), which podwarden does not
  model, an update in progress (ResourceInUseException "Cannot delete because cluster <name>
  currently has an update in progress", aws/containers-roadmap#1511) and deletion protection.
* ``identity.oidc.issuer``: the cluster's own OIDC issuer, ``https://127.0.0.1:<port>/id/<ID>``
  on podwarden's OIDC listener (EKS's ``https://oidc.eks.<region>.amazonaws.com/id/<ID>`` when
  none runs: ``control.oidc_issuers.new_cluster_issuer``); the cluster's apiserver issues
  service-account tokens with it and STS's AssumeRoleWithWebIdentity accepts them (IRSA).
* Messages "No cluster found for name: <name>." (404) and "Cluster already exists with name:
  <name>" (409) are EKS's (moto's recordings, hashicorp/terraform#30808).
"""

from __future__ import annotations

import uuid
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.eks import access, versions
from podwarden.control.eks.network import network_config, vpc_config
from podwarden.control.eks.records import children, create, get_cluster, page, public
from podwarden.control.eks.updates import RECORDED_ONLY, normalized_logging
from podwarden.control.oidc_issuers import new_cluster_issuer
from podwarden.logic import eks_lifecycle
from podwarden.logic.eks_identity import canonical_arn
from podwarden.model.aws import arns, kinds
from podwarden.model.aws.private import KEY, peek
from podwarden.model.errors import Conflict, InUse, Invalid, Unsupported
from podwarden.policy import eks_catalog

# CreateCluster members kept as given: their request and response shapes have the same members
ECHOED = ("tags", "encryptionConfig", "zonalShiftConfig", *RECORDED_ONLY, "clientRequestToken")


def _access_config(params: dict[str, Any], cluster: str) -> dict[str, Any]:
    given = params.get("accessConfig") or {}
    mode = given.get("authenticationMode", "CONFIG_MAP")
    bootstrap = given.get("bootstrapClusterCreatorAdminPermissions", True)
    if mode == "CONFIG_MAP" and not bootstrap:
        raise Invalid(reason="config-map-needs-creator-admin", clusterName=cluster)
    return {"bootstrapClusterCreatorAdminPermissions": bootstrap, "authenticationMode": mode}


def create_cluster(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = params["name"]
    taken = InUse(reason="cluster-exists", clusterName=name)
    if ctx.store.resources.get(kinds.EKS_CLUSTER, ctx.scope, name) is not None:
        raise taken
    if arns.parse_iam(params["roleArn"], "role") is None:
        raise Invalid(reason="invalid-role-arn", roleArn=params["roleArn"], clusterName=name)
    if params.get("outpostConfig"):
        raise Unsupported(reason="outposts", clusterName=name)
    version = params.get("version") or eks_catalog.load_versions().default
    known = versions.known(version, name)
    doc = _cluster_doc(ctx, params, known, versions.release(version, name))
    create(ctx, kinds.EKS_CLUSTER, name, doc, created=doc["createdAt"], taken=taken)
    if doc["accessConfig"]["authenticationMode"] != "CONFIG_MAP":
        _bootstrap_admin(ctx, doc)
    ctx.wake(kinds.EKS_CLUSTER, params["name"])
    return {"cluster": public(doc)}


def _cluster_doc(
    ctx: Context, params: dict[str, Any], known: eks_catalog.KubeVersion, release: str
) -> dict[str, Any]:
    name, cluster_id = params["name"], str(uuid.uuid4())
    vpc = vpc_config(ctx, params["resourcesVpcConfig"], name)
    doc: dict[str, Any] = {
        "name": name,
        "arn": arns.eks_cluster(ctx.region, ctx.account, name),
        "createdAt": ctx.now(),
        "version": known.version,
        "roleArn": params["roleArn"],
        "resourcesVpcConfig": vpc,
        "kubernetesNetworkConfig": network_config(
            ctx, params.get("kubernetesNetworkConfig") or {}, vpc.get("vpcId"), name
        ),
        "logging": normalized_logging(None, params.get("logging") or {}),
        "identity": {
            "oidc": {"issuer": new_cluster_issuer(ctx.store.resources, ctx.region, cluster_id)}
        },
        "status": "CREATING",
        "certificateAuthority": {},
        "platformVersion": known.platform_version,
        "id": cluster_id,
        "health": {"issues": []},
        "accessConfig": _access_config(params, name),
        "upgradePolicy": params.get("upgradePolicy") or {"supportType": "EXTENDED"},
        "deletionProtection": bool(params.get("deletionProtection", False)),
        KEY: {
            "kubernetes": release,
            "data_dir": f"eks/{name}-{cluster_id[:8]}",
            "pending_update": None,
            "creator_arn": canonical_arn(ctx.principal_arn),
            "bootstrap_self_managed_addons": params.get("bootstrapSelfManagedAddons", True),
        },
    }
    doc.update({m: params[m] for m in ECHOED if params.get(m) is not None})
    doc.setdefault("tags", {})
    return doc


def _bootstrap_admin(ctx: Context, doc: dict[str, Any]) -> None:
    if not doc["accessConfig"]["bootstrapClusterCreatorAdminPermissions"]:
        return
    creator = peek(doc).get("creator_arn")
    if not creator:
        return
    entry = access.add_entry(ctx, doc["name"], creator)
    access.associate(ctx, entry, access.CLUSTER_ADMIN, {"type": "cluster"})


def describe_cluster(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"cluster": public(get_cluster(ctx, params["name"]).doc)}


def list_clusters(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    names = [r.key for r in ctx.store.resources.list(kinds.EKS_CLUSTER, ctx.scope)]
    return page("clusters", names, params)


def delete_cluster(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = get_cluster(ctx, params["name"])
    name, doc = rec.key, rec.doc
    if doc["status"] == "UPDATING":
        raise InUse(reason="cluster-updating", clusterName=name)
    if doc.get("deletionProtection"):
        raise Conflict(reason="deletion-protection", clusterName=name)
    if doc["status"] != "DELETING":
        eks_lifecycle.begin_deletion(doc)
        ctx.store.resources.save(rec)
        for addon in children(ctx, kinds.EKS_ADDON, name):
            eks_lifecycle.begin_addon_deletion(addon.doc, ctx.now())
            ctx.store.resources.save(addon)
        ctx.wake(kinds.EKS_CLUSTER, params["name"])
    return {"cluster": public(doc)}


OPERATIONS: Operations = {
    "CreateCluster": create_cluster,
    "DescribeCluster": describe_cluster,
    "ListClusters": list_clusters,
    "DeleteCluster": delete_cluster,
}
