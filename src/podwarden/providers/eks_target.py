"""Which Kubernetes hosts a HyperPod cluster's instances: the one behind the EKS cluster that
its ``Orchestrator.Eks.ClusterArn`` names, when the local account has it (``KubeProviders``
applies it; the rules are in ``operator.providers``' docstring)."""

from __future__ import annotations

from dataclasses import dataclass

from podwarden.model.aws import arns, kinds
from podwarden.model.aws.private import EksPlane
from podwarden.model.cluster import Cluster
from podwarden.store.resources import Resources


@dataclass(frozen=True)
class EksTarget:
    """The local account's EKS cluster a HyperPod cluster names."""

    name: str
    status: str
    key: str  # the control plane's key (``_podwarden.data_dir``), as the EKS reconciler uses it
    adopted: bool  # the embedded control plane (nothing of its own)


def eks_arn(cluster: Cluster) -> str | None:
    orchestrator = cluster.spec.get("Orchestrator") or {}
    arn = (orchestrator.get("Eks") or {}).get("ClusterArn")
    return arn if isinstance(arn, str) else None


def eks_target(resources: Resources, cluster: Cluster) -> EksTarget | None:
    """The EKS cluster behind ``cluster``, or None when the local account has none by that ARN
    (the caller falls back to the Kubernetes podwarden was started with)."""
    target = arns.parse_eks_cluster(eks_arn(cluster) or "")
    if target is None:
        return None
    rec = resources.get(kinds.EKS_CLUSTER, target.scope, target.name)
    if rec is None:
        return None
    plane = EksPlane.of(rec.key, rec.doc)
    return EksTarget(
        name=rec.key, status=str(rec.doc.get("status", "")), key=plane.key, adopted=plane.adopted
    )
