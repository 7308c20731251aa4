"""The training services podwarden runs against each Kubernetes that hosts HyperPod nodes
(``providers.kubes.KubeService``): the simulated trainer of job pods on kwok nodes
(``training.simulator``: progress, checkpoints, log files kwok serves), and HyperPod's job
auto-resume for Kubeflow PyTorchJobs (``training.auto_resume``), wired to the store for the
HyperPod cluster events it records, and the HyperPod training operator for HyperPodPyTorchJobs
(``training.hpto``: active only where its EKS add-on is installed), writing its log where kwok
serves it as the log of the add-on's operator pod (``hyp get-operator-logs``).

Each service gets its own ``kubernetes.aio`` client from the plane's admin kubeconfig and closes
it when cancelled (the plane stopped, or podwarden shuts down).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from podwarden.kube.nodes import api_client
from podwarden.model.cluster import ClusterEvent
from podwarden.providers.kubes import KubeService
from podwarden.store.sql import Store
from podwarden.training.auto_resume import JobAutoResume
from podwarden.training.hpto import HyperPodTrainingOperator
from podwarden.training.simulator import TrainingSimulator

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


def training_services(store: Store, log_root: Path) -> list[KubeService]:
    """``log_root``: where the simulated containers' log files go, a folder per Kubernetes
    (``embedded``, or the plane's key); kwok reads them by absolute path."""
    record = cluster_event_recorder(store)

    async def simulator(key: str, kubeconfig: Path) -> None:
        api = await api_client(kubeconfig)
        try:
            await TrainingSimulator(api, log_dir=log_root / (key or "embedded")).run()
        finally:
            await api.close()

    async def auto_resume(key: str, kubeconfig: Path) -> None:
        api = await api_client(kubeconfig)
        try:
            await JobAutoResume(api, record_cluster_event=record).run()
        finally:
            await api.close()

    async def training_operator(key: str, kubeconfig: Path) -> None:
        folder = log_root / (key or "embedded")
        folder.mkdir(parents=True, exist_ok=True)
        api = await api_client(kubeconfig)
        try:
            log_file = folder / "hp-training-operator.log"
            await HyperPodTrainingOperator(api, log_file=log_file).run()
        finally:
            await api.close()

    return [simulator, auto_resume, training_operator]
