"""Where the dashboard reads from: the store (clusters, instances, events) and the Kubernetes
that hosts each cluster's nodes, through the connections ``providers.kubes.KubeProviders``
already holds (the node watch's cache, and its client for Events and jobs). Read-only: a
Kubernetes podwarden is not connected to yet (an EKS cluster's plane before its first HyperPod
cluster needs it) reads as "not reachable", never as a reason to connect."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from podwarden.kube.dashboard_reads import JobObjects, job_objects, node_events
from podwarden.model.cluster import Cluster, ClusterEvent, Instance
from podwarden.model.errors import PodwardenError
from podwarden.providers.eks_target import eks_target
from podwarden.providers.kubes import EMBEDDED, Kube, KubeProviders
from podwarden.store.sql import Store

log = logging.getLogger("podwarden.dashboard")

Node = dict[str, Any]


class Sources:
    def __init__(self, store: Store, providers: Callable[[], KubeProviders | None]) -> None:
        self.store = store
        self.providers = providers  # None until the server has started them

    # ------------------------------------------------------------------ the store

    def clusters(self, account: str) -> list[Cluster]:
        return self.store.list_clusters(account=account)

    def cluster(self, account: str, cluster_id: str) -> Cluster | None:
        """The account's cluster by id (another account's reads as none)."""
        found = self.store.cluster_by_id(cluster_id)
        return found if found is not None and found.account == account else None

    def instances(self, cluster: Cluster) -> list[Instance]:
        return self.store.list_instances(cluster.cluster_id)

    def events(self, cluster: Cluster) -> list[ClusterEvent]:
        return self.store.list_events(cluster.cluster_id)

    # ------------------------------------------------------------------ Kubernetes

    def _kube(self, cluster: Cluster) -> Kube | None:
        providers = self.providers()
        if providers is None:
            return None
        target = eks_target(self.store.resources, cluster)
        key = EMBEDDED if target is None or target.adopted else target.key
        return providers.kube(key)

    async def nodes(self, cluster: Cluster) -> dict[str, Node] | None:
        """The cluster's nodes by name (the watch's cache), None when not reachable."""
        kube = self._kube(cluster)
        if kube is None:
            return None
        try:
            found = await kube.instances.nodes_of(cluster.cluster_id)
        except PodwardenError as exc:
            log.info("dashboard: nodes of %s: %s", cluster.name, exc)
            return None
        return {n["metadata"]["name"]: n for n in found}

    async def node_events(self, cluster: Cluster) -> list[Node]:
        kube = self._kube(cluster)
        if kube is None:
            return []
        try:
            return await node_events(kube.nodes.api)
        except PodwardenError as exc:
            log.info("dashboard: node events for %s: %s", cluster.name, exc)
            return []

    async def jobs(self, cluster: Cluster) -> JobObjects | None:
        kube = self._kube(cluster)
        if kube is None:
            return None
        try:
            return await job_objects(kube.nodes.api)
        except PodwardenError as exc:
            log.info("dashboard: jobs for %s: %s", cluster.name, exc)
            return None
