"""What ``podwarden status`` shows, shaped from the API's answers (pure: no calls here).

A cluster from DescribeCluster (status, NodeRecovery, NodeProvisioningMode, each instance
group's counts, status and HyperPod AMI release), its nodes from ListClusterNodes counted by
InstanceStatus per group, the nodes' ``node-health-status`` per group when the server's
``/_podwarden/metrics`` answers (the API has no field for it), and the newest ListClusterEvents
entries of a Continuous cluster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# ``(cluster name, instance group) -> {node-health-status: nodes}``
Health = Mapping[tuple[str, str], Mapping[str, int]]


@dataclass(frozen=True)
class GroupView:
    name: str
    instance_type: str
    status: str
    current: int
    target: int
    release: str  # CurrentImageReleaseVersion ("" when the answer has none)
    desired_release: str  # DesiredImageReleaseVersion
    nodes: Mapping[str, int]  # InstanceStatus -> nodes
    health: Mapping[str, int] | None  # node-health-status -> nodes; None: not known


@dataclass(frozen=True)
class EventView:
    time: datetime
    cluster: str
    level: str
    resource: str  # the instance, else the instance group, else the cluster
    description: str


@dataclass(frozen=True)
class ClusterView:
    name: str
    status: str
    recovery: str
    provisioning: str
    created: datetime | None
    failure: str
    groups: tuple[GroupView, ...]
    events: tuple[EventView, ...] = ()

    @property
    def continuous(self) -> bool:
        return self.provisioning == "Continuous"

    @property
    def current(self) -> int:
        return sum(g.current for g in self.groups)

    @property
    def target(self) -> int:
        return sum(g.target for g in self.groups)


@dataclass(frozen=True)
class Picture:
    endpoint: str
    region: str
    taken_at: datetime
    clusters: tuple[ClusterView, ...]
    health_known: bool  # the server's metrics answered (node-health-status per group)
    problems: tuple[str, ...] = field(default=())  # what could not be read, and why

    def events(self, limit: int) -> list[EventView]:
        """The newest ``limit`` events of every cluster, newest first."""
        merged = [e for c in self.clusters for e in c.events]
        return sorted(merged, key=lambda e: e.time, reverse=True)[:limit]


def nodes_by_status(nodes: Iterable[Mapping[str, Any]]) -> dict[str, Counter[str]]:
    """``group -> Counter(InstanceStatus)`` from ListClusterNodes' summaries."""
    out: dict[str, Counter[str]] = {}
    for node in nodes:
        status = (node.get("InstanceStatus") or {}).get("Status", "")
        out.setdefault(str(node.get("InstanceGroupName", "")), Counter())[str(status)] += 1
    return out


def event_view(summary: Mapping[str, Any]) -> EventView:
    resource = summary.get("InstanceId") or summary.get("InstanceGroupName") or "cluster"
    return EventView(
        time=summary["EventTime"],
        cluster=str(summary.get("ClusterName", "")),
        level=str(summary.get("EventLevel", "")),
        resource=str(resource),
        description=str(summary.get("Description", "")),
    )


def cluster_view(
    described: Mapping[str, Any],
    nodes: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]] = (),
    health: Health | None = None,
) -> ClusterView:
    """One cluster from DescribeCluster's answer, its ListClusterNodes summaries, its
    ListClusterEvents summaries and (when known) its nodes' health labels per group."""
    name = str(described["ClusterName"])
    by_group = nodes_by_status(nodes)
    groups = tuple(
        GroupView(
            name=g["InstanceGroupName"],
            instance_type=str(g.get("InstanceType", "")),
            status=str(g.get("Status", "")),
            current=int(g.get("CurrentCount", 0)),
            target=int(g.get("TargetCount", 0)),
            release=str(g.get("CurrentImageReleaseVersion", "")),
            desired_release=str(g.get("DesiredImageReleaseVersion", "")),
            nodes=dict(sorted(by_group.get(g["InstanceGroupName"], Counter()).items())),
            health=None
            if health is None
            else dict(sorted(health.get((name, g["InstanceGroupName"]), {}).items())),
        )
        for g in described.get("InstanceGroups") or []
    )
    return ClusterView(
        name=name,
        status=str(described.get("ClusterStatus", "")),
        recovery=str(described.get("NodeRecovery", "")),
        provisioning=str(described.get("NodeProvisioningMode", "")),
        created=described.get("CreationTime"),
        failure=str(described.get("FailureMessage", "")),
        groups=groups,
        events=tuple(event_view(e) for e in events),
    )


def health_from_samples(samples: Iterable[tuple[Mapping[str, str], float]]) -> Health:
    """``podwarden_cluster_nodes`` samples (labels, value) -> per-group health counts."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for labels, value in samples:
        key = (labels.get("cluster", ""), labels.get("instance_group", ""))
        if value:
            out.setdefault(key, {})[labels.get("health_status", "")] = int(value)
    return out
