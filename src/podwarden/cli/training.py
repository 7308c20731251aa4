"""The training services podwarden runs against each Kubernetes that hosts HyperPod nodes
(``cli.providers.KubeService``): HyperPod's job auto-resume for Kubeflow PyTorchJobs
(``training.auto_resume``), wired to the store for the HyperPod cluster events it records.

Each service gets its own ``kubernetes.aio`` client from the plane's admin kubeconfig and closes
it when cancelled (the plane stopped, or podwarden shuts down).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from podwarden.cli.providers import KubeService
from podwarden.kube.nodes import api_client
from podwarden.model.cluster import ClusterEvent
from podwarden.store.sql import Store
from podwarden.training.auto_resume import JobAutoResume

ClusterEventFn = Callable[[str, str, str, str], Awaitable[None]]


def cluster_event_recorder(store: Store, clock: Callable[[], float] = time.time) -> ClusterEventFn:
    """``record(cluster_id, instance_id, level, text)``: an Instance event in the HyperPod
    cluster's stream (ListClusterEvents), naming the instance's group; nothing for a cluster
    that no longer exists."""

    async def record(cluster_id: str, instance_id: str, level: str, text: str) -> None:
        if store.cluster_by_id(cluster_id) is None:
            return
        group = next(
            (i.group for i in store.list_instances(cluster_id) if i.instance_id == instance_id),
            "",
        )
        event = ClusterEvent(
            str(uuid.uuid4()), cluster_id, clock(), "Instance", level, text, group, instance_id
        )
        store.add_events([event])

    return record


def training_services(store: Store) -> list[KubeService]:
    record = cluster_event_recorder(store)

    async def auto_resume(key: str, kubeconfig: Path) -> None:
        api = await api_client(kubeconfig)
        try:
            await JobAutoResume(api, record_cluster_event=record).run()
        finally:
            await api.close()

    return [auto_resume]
