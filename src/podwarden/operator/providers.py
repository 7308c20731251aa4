"""What the cluster reconciler needs of where instances live: a :class:`Providers` gives each
HyperPod cluster's :class:`InstanceProvider` at the start of every pass.

``providers.kubes.KubeProviders`` implements it: the Kubernetes behind the EKS cluster that the
cluster's ``Orchestrator.Eks.ClusterArn`` names, by the rules of ``providers.eks_target``:

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

from typing import Any, Protocol

from podwarden.model.cluster import Cluster


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

    async def workload_pods(self, name: str) -> int: ...

    async def prepare_update(self, name: str) -> None: ...

    async def reimage(self, name: str, release: str, at: str) -> None: ...

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
