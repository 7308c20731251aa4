"""What is true at scrape time, counted when Prometheus asks rather than kept up to date on every
change: HyperPod nodes by cluster, instance group and health status (from the node watches'
caches: no Kubernetes call), instance groups whose automatic recovery is paused (from the store),
and each reconciler's queue depth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from typing import Any, Final

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from podwarden.model.cluster import Cluster
from podwarden.model.labels import CLUSTER_NAME, GROUP_NAME, HEALTH

# every HyperPod node podwarden watches, as the watch last saw it (a Kubernetes Node object)
NodeSource = Callable[[], Iterable[Mapping[str, Any]]]
ClusterSource = Callable[[], Iterable[Cluster]]
NO_HEALTH: Final = "Unknown"  # a node without the health label (not one HyperPod launched)


def nodes_by_health(nodes: Iterable[Mapping[str, Any]]) -> Counter[tuple[str, str, str]]:
    """``(cluster name, instance group, node-health-status) -> nodes`` from the nodes' labels."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for node in nodes:
        labels = node.get("metadata", {}).get("labels") or {}
        key = (labels.get(CLUSTER_NAME, ""), labels.get(GROUP_NAME, ""), labels.get(HEALTH))
        counts[(key[0], key[1], key[2] or NO_HEALTH)] += 1
    return counts


class StateCollector(Collector):
    def __init__(
        self, nodes: NodeSource, clusters: ClusterSource, queues: Mapping[str, Sized]
    ) -> None:
        self.nodes = nodes
        self.clusters = clusters
        self.queues = queues

    def collect(self) -> Iterator[Metric]:
        yield self._nodes()
        yield self._paused()
        yield self._queues()

    def _nodes(self) -> Metric:
        family = GaugeMetricFamily(
            "podwarden_cluster_nodes",
            "HyperPod nodes by cluster, instance group and node-health-status label",
            labels=("cluster", "instance_group", "health_status"),
        )
        for (cluster, group, health), count in sorted(nodes_by_health(self.nodes()).items()):
            family.add_metric((cluster, group, health), count)
        return family

    def _paused(self) -> Metric:
        family = GaugeMetricFamily(
            "podwarden_remediation_paused",
            "1 while automatic recovery of an instance group is paused by its safety limits",
            labels=("cluster", "instance_group"),
        )
        for cluster in self.clusters():
            for name, group in sorted(cluster.groups.items()):
                family.add_metric((cluster.name, name), 1 if group.remediation_paused else 0)
        return family

    def _queues(self) -> Metric:
        family = GaugeMetricFamily(
            "podwarden_workqueue_depth",
            "Keys waiting in a reconciler's work queue",
            labels=("name",),
        )
        for name, queue in sorted(self.queues.items()):
            family.add_metric((name,), len(queue))
        return family
