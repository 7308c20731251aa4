"""Plan one reconcile step of a HyperPod cluster: (desired, observed, now) -> actions.

Level-triggered and idempotent: the same inputs give the same actions, and applying them moves
the observed state toward the desired one, so a restarted operator simply plans again.
Desired: the cluster record (groups and their InstanceCount, KubernetesConfig). Observed: the
instance records and the Kubernetes nodes that carry the cluster's id label.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.logic.node_spec import Taint, kubernetes_labels, kubernetes_taints
from podwarden.model.cluster import (
    Cluster,
    ClusterStatus,
    GroupStatus,
    Instance,
    InstanceGroup,
    InstanceStatus,
)


@dataclass(frozen=True)
class ObservedNode:
    name: str
    ready: bool
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]


# -- actions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Launch:
    group: str
    count: int


@dataclass(frozen=True)
class CreateNode:
    instance_id: str


@dataclass(frozen=True)
class MarkRunning:
    instance_id: str


@dataclass(frozen=True)
class SyncNode:
    """Bring the node's user labels and taints to the group's KubernetesConfig."""

    instance_id: str


@dataclass(frozen=True)
class Terminate:
    instance_id: str


@dataclass(frozen=True)
class DeleteNode:
    node_name: str


@dataclass(frozen=True)
class Forget:
    """The instance is terminated and its node gone: drop the record."""

    instance_id: str


@dataclass(frozen=True)
class SetGroup:
    group: str
    status: str
    applied_kubernetes_config: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RemoveGroup:
    group: str


@dataclass(frozen=True)
class SetCluster:
    status: str


@dataclass(frozen=True)
class RemoveCluster:
    pass


Action = (
    Launch
    | CreateNode
    | MarkRunning
    | SyncNode
    | Terminate
    | DeleteNode
    | Forget
    | SetGroup
    | RemoveGroup
    | SetCluster
    | RemoveCluster
)


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    # seconds until something time-based is due (a pending launch); None: wait for a change
    requeue_after: float | None = None

    def due(self, seconds: float) -> None:
        if self.requeue_after is None or seconds < self.requeue_after:
            self.requeue_after = max(0.0, seconds)


def _node_matches_config(node: ObservedNode, group: InstanceGroup) -> bool:
    want_labels = kubernetes_labels(group.spec)
    if any(node.labels.get(k) != v for k, v in want_labels.items()):
        return False
    return set(node.taints) == set(kubernetes_taints(group.spec))


def plan_cluster(
    cluster: Cluster,
    instances: list[Instance],
    nodes: Mapping[str, ObservedNode],
    now: float,
) -> Plan:
    plan = Plan()
    by_group: dict[str, list[Instance]] = {}
    for inst in instances:
        by_group.setdefault(inst.group, []).append(inst)
    known_nodes = {i.node_name for i in instances}

    # nodes that carry this cluster's id but whose instance podwarden has no record of
    plan.actions += [DeleteNode(name) for name in sorted(nodes) if name not in known_nodes]

    deleting_cluster = cluster.status == ClusterStatus.DELETING
    all_in_service = True
    for group in cluster.groups.values():
        members = by_group.pop(group.name, [])
        target = 0 if deleting_cluster else group.target_count
        done = _plan_group(plan, group, members, nodes, target=target, now=now)
        status = _group_status(cluster, group, done, deleting_cluster)
        if group.deleting and not members:
            plan.actions.append(RemoveGroup(group.name))
            continue
        config = group.spec.get("KubernetesConfig", {})
        applied = config if done else None
        if status != group.status or (
            applied is not None and applied != group.applied_kubernetes_config
        ):
            plan.actions.append(SetGroup(group.name, status, applied))
        all_in_service = all_in_service and status == GroupStatus.IN_SERVICE

    # instances of groups that no longer exist at all
    for orphans in by_group.values():
        for inst in orphans:
            _retire(plan, inst, nodes)

    if deleting_cluster:
        if not instances and not nodes:
            plan.actions.append(RemoveCluster())
    elif all_in_service and cluster.status in (ClusterStatus.CREATING, ClusterStatus.UPDATING):
        plan.actions.append(SetCluster(ClusterStatus.IN_SERVICE))
    return plan


def _plan_group(
    plan: Plan,
    group: InstanceGroup,
    members: list[Instance],
    nodes: Mapping[str, ObservedNode],
    *,
    target: int,
    now: float,
) -> bool:
    """Plan one group's instances; True when it has converged (target reached, all Running,
    nodes carry the KubernetesConfig, nothing shutting down)."""
    live = [i for i in members if i.status != InstanceStatus.SHUTTING_DOWN]
    converged = len(live) == target and len(live) == len(members)
    if len(live) < target:
        plan.actions.append(Launch(group.name, target - len(live)))
    elif len(live) > target:
        # retire the youngest first, pending ones before running ones
        order = sorted(live, key=lambda i: (i.status == InstanceStatus.RUNNING, -i.launch_time))
        for inst in order[: len(live) - target]:
            plan.actions.append(Terminate(inst.instance_id))
        live = order[len(live) - target :]
    for inst in members:
        if inst.status == InstanceStatus.SHUTTING_DOWN:
            _retire(plan, inst, nodes)
    for inst in live:
        converged = _plan_instance(plan, group, inst, nodes.get(inst.node_name), now) and converged
    return converged


def _plan_instance(
    plan: Plan, group: InstanceGroup, inst: Instance, node: ObservedNode | None, now: float
) -> bool:
    """Plan one live instance; True when it is Running on a node that carries its config."""
    if inst.status == InstanceStatus.PENDING:
        if now < inst.ready_at:
            plan.due(inst.ready_at - now)
        elif node is None:
            plan.actions.append(CreateNode(inst.instance_id))
        elif node.ready:
            plan.actions.append(MarkRunning(inst.instance_id))
        return False
    if node is None:
        # the node vanished under a running instance: it comes back with the same id
        plan.actions.append(CreateNode(inst.instance_id))
        return False
    if not _node_matches_config(node, group):
        plan.actions.append(SyncNode(inst.instance_id))
        return False
    return True


def _retire(plan: Plan, inst: Instance, nodes: Mapping[str, ObservedNode]) -> None:
    if inst.status != InstanceStatus.SHUTTING_DOWN:
        plan.actions.append(Terminate(inst.instance_id))
    elif inst.node_name in nodes:
        plan.actions.append(DeleteNode(inst.node_name))
    else:
        plan.actions.append(Forget(inst.instance_id))


def _group_status(
    cluster: Cluster, group: InstanceGroup, converged: bool, deleting_cluster: bool
) -> str:
    if group.deleting or deleting_cluster:
        return GroupStatus.DELETING
    if converged:
        return GroupStatus.IN_SERVICE
    if group.status == GroupStatus.CREATING or cluster.status == ClusterStatus.CREATING:
        return GroupStatus.CREATING
    return GroupStatus.UPDATING
