"""What a HyperPod cluster's orchestrator is in the local account: the Kubernetes minor of the
EKS cluster its ``Orchestrator.Eks.ClusterArn`` names (the AMI releases of its groups ship for
that minor, ``policy.hyperpod_images``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.model.aws import arns, kinds
from podwarden.policy import eks_catalog
from podwarden.store.resources import Resources


def kubernetes_minor(resources: Resources, spec: Mapping[str, Any]) -> str:
    """The Kubernetes minor of the EKS cluster a HyperPod cluster's ``Orchestrator`` names (a
    CreateCluster request or a cluster's spec); the EKS default version (what podwarden's
    embedded Kubernetes runs) when the local account has no such EKS cluster, as the
    reconciler then falls back to that Kubernetes (``providers.eks_target``)."""
    orchestrator = spec.get("Orchestrator") or {}
    target = arns.parse_eks_cluster(str((orchestrator.get("Eks") or {}).get("ClusterArn", "")))
    if target is not None:
        rec = resources.get(kinds.EKS_CLUSTER, target.scope, target.name)
        if rec is not None and rec.doc.get("version"):
            return str(rec.doc["version"])
    return eks_catalog.load_versions().default
