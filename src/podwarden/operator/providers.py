"""Where a HyperPod cluster's instances live: the Kubernetes behind the EKS cluster that its
``Orchestrator.Eks.ClusterArn`` names.

The cluster reconciler asks a :class:`Providers` for each cluster's :class:`InstanceProvider`
at the start of every pass (the composition root implements it: ``cli.providers``). The rules
of the mapping are here, as :func:`eks_target`:

- an EKS cluster of the local account that podwarden started (its record has no
  ``_podwarden.adopted``): that cluster's control plane, once the EKS reconciler runs it (until
  then the lookup raises ``TemporaryError`` and the pass is retried; the HyperPod side never
  starts planes);
- the adopted EKS cluster (``podwarden`` of the seeded account), an ARN of no EKS cluster the
  local account has (another account or Region, a cluster deleted meanwhile), or no ARN at all
  (preflight switched off): the Kubernetes podwarden was started with (``podwarden up``'s
  embedded control plane, or the cluster ``podwarden serve --kubeconfig`` points at).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from podwarden.model.aws import arns, kinds
from podwarden.model.aws.private import EksPlane
from podwarden.model.cluster import Cluster
from podwarden.store.resources import Resources


class InstanceProvider(Protocol):
    """What the cluster reconciler does to instances (``providers.local.LocalInstances``)."""

    async def nodes_of(self, cluster_id: str) -> list[dict[str, Any]]: ...

    async def launch(self, manifest: dict[str, Any]) -> None: ...

    async def update(self, name: str, patch: dict[str, Any]) -> None: ...

    async def booted(self, name: str, at: str) -> None: ...

    async def reboot(self, name: str, at: str) -> None: ...

    async def event(self, node: str, reason: str, message: str) -> None: ...

    async def deep_check_started(self, name: str) -> None: ...

    async def deep_check_finished(self, name: str, passed: bool) -> None: ...

    async def drain(self, name: str) -> int: ...

    async def terminate(self, name: str) -> None: ...


class Providers(Protocol):
    async def provider_for(self, cluster: Cluster) -> InstanceProvider:
        """The provider of the Kubernetes that hosts ``cluster``'s nodes; ``TemporaryError``
        while that Kubernetes is not running yet."""


class OneProvider:
    """Every HyperPod cluster on one Kubernetes (tests, or a single-cluster setup)."""

    def __init__(self, provider: InstanceProvider) -> None:
        self.provider = provider

    async def provider_for(self, cluster: Cluster) -> InstanceProvider:
        return self.provider


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
