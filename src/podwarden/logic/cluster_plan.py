"""Plan one reconcile step of a HyperPod cluster: (desired, observed, now) -> actions.

Level-triggered and idempotent: the same inputs give the same actions, and applying them moves
the observed state toward the desired one, so a restarted operator simply plans again.
Desired: the cluster record (groups and their InstanceCount, KubernetesConfig). Observed: the
instance records and the Kubernetes nodes that carry the cluster's id label.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from podwarden.logic.cluster_actions import (
    Action,
    CreateNode,
    DeleteNode,
    FinishDeepCheck,
    Forget,
    Launch,
    MarkRunning,
    NodeBooted,
    PauseRemediation,
    Reboot,
    ReleaseLogicalIds,
    RemoveCluster,
    RemoveGroup,
    Replace,
    SetCluster,
    SetGroup,
    StartDeepCheck,
    SyncNode,
    Terminate,
)
from podwarden.logic.node_spec import Taint, kubernetes_labels, kubernetes_taints
from podwarden.logic.software_update import ACTIVE as UPDATE_ACTIVE
from podwarden.logic.software_update import NodeView, UpdateTiming, plan_update
from podwarden.model.cluster import (
    Cluster,
    ClusterStatus,
    DeepCheck,
    GroupStatus,
    Instance,
    InstanceGroup,
    InstanceStatus,
    Recovery,
    SoftwareUpdateStatus,
)
from podwarden.model.labels import (
    AGENT_TAINT_KEYS,
    HEALTH,
    PENDING_REBOOT,
    PENDING_REPLACEMENT,
    SCHEDULABLE,
)
from podwarden.policy.remediation import RemediationLimits


@dataclass(frozen=True)
class ObservedNode:
    name: str
    ready: bool
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]


# a health label that asks for a recovery (set by the health agent, a failed deep check or a
# user; docs/sources.md, "Health label values" and "Node recovery")
LABEL_RECOVERY = {PENDING_REBOOT: Recovery.REBOOT, PENDING_REPLACEMENT: Recovery.REPLACE}


@dataclass(frozen=True)
class RecoveryPolicy:
    """Whether health labels trigger recovery (NodeRecovery Automatic), and which instance
    types may be replaced automatically (R15 in docs/requirements.md: never CPU instances)."""

    automatic: bool
    is_cpu_only: Callable[[str], bool]
    limits: RemediationLimits | None = None
    paused: bool = False

    def allows(self, action: Recovery, instance_type: str) -> bool:
        if not self.automatic or self.paused:
            return False
        return not (action == Recovery.REPLACE and self.is_cpu_only(instance_type))


def recovery_policy(
    cluster: Cluster, is_cpu_only: Callable[[str], bool], limits: RemediationLimits | None
) -> RecoveryPolicy:
    return RecoveryPolicy(cluster.spec.get("NodeRecovery") == "Automatic", is_cpu_only, limits)


def pause_reason(
    group: InstanceGroup,
    live: list[Instance],
    nodes: Mapping[str, ObservedNode],
    limits: RemediationLimits,
    now: float,
) -> tuple[str, tuple[str, ...]]:
    """Why automatic recovery of the group must pause now ("" if it need not), and the
    unhealthy nodes. Instances still joining (Pending) never count as failures."""
    running = [i for i in live if i.status == InstanceStatus.RUNNING]
    unhealthy = tuple(
        i.node_name
        for i in running
        if i.node_name in nodes
        and nodes[i.node_name].labels.get(HEALTH, SCHEDULABLE) != SCHEDULABLE
    )
    # at least one unhealthy node may always be repaired, so small groups still recover
    allowed = max(1.0, limits.max_unhealthy_fraction * len(running))
    if len(unhealthy) > allowed:
        return (
            f"{len(unhealthy)} of {len(running)} nodes of instance group {group.name} are "
            f"unhealthy, more than the limit of {limits.max_unhealthy_fraction:.0%}: automatic "
            "recovery is paused until fewer are",
            unhealthy,
        )
    recent = [t for t in group.repairs if now - t <= limits.repair_window_seconds]
    if len(recent) >= limits.max_repairs:
        return (
            f"instance group {group.name} had {len(recent)} automatic repairs in the last "
            f"{limits.repair_window_seconds:.0f} s (limit {limits.max_repairs}): automatic "
            "recovery is paused",
            unhealthy,
        )
    return "", unhealthy


@dataclass(frozen=True)
class UpdateInputs:
    """What a software update reads besides nodes (``logic.software_update``): workload pods
    still on nodes drained for it, the alarms in ALARM, its simulated durations."""

    now: float = 0.0
    pods_left: Mapping[str, int] = field(default_factory=dict)
    alarms_firing: frozenset[str] = frozenset()
    timing: UpdateTiming = field(default_factory=UpdateTiming)


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
    user_taints = {t for t in node.taints if t.key not in AGENT_TAINT_KEYS}
    return user_taints == set(kubernetes_taints(group.spec))


def _never_cpu(_: str) -> bool:
    return False


def plan_cluster(
    cluster: Cluster,
    instances: list[Instance],
    nodes: Mapping[str, ObservedNode],
    now: float,
    *,
    is_cpu_only: Callable[[str], bool] = _never_cpu,
    limits: RemediationLimits | None = None,
    updates: UpdateInputs | None = None,
) -> Plan:
    plan = Plan()
    updates = dataclasses.replace(updates or UpdateInputs(), now=now)
    policy = recovery_policy(cluster, is_cpu_only, limits)
    if cluster.status == ClusterStatus.FAILED:
        return plan  # nothing to do until the user updates or deletes it
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
        claimed = set() if deleting_cluster else _plan_update(plan, group, members, nodes, updates)
        done = _plan_group(
            plan, group, members, nodes, target=target, now=now, policy=policy, skip=claimed
        )
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
        return plan
    updating = _updating_status(cluster)
    if updating is not None and updating != cluster.status:
        plan.actions.append(SetCluster(updating))
    elif updating is None and all_in_service and cluster.status in SETTLING:
        plan.actions.append(SetCluster(ClusterStatus.IN_SERVICE))
    return plan


# cluster statuses that end in InService once every group is
SETTLING = frozenset(
    {
        ClusterStatus.CREATING,
        ClusterStatus.UPDATING,
        ClusterStatus.SYSTEM_UPDATING,
        ClusterStatus.ROLLING_BACK,
    }
)


def _updating_status(cluster: Cluster) -> str | None:
    """SystemUpdating while a group's software update is under way, RollingBack while one rolls
    back; None when none is active."""
    active = [
        g.software_update.status
        for g in cluster.groups.values()
        if g.software_update is not None and g.software_update.status in UPDATE_ACTIVE
    ]
    if not active:
        return None
    if SoftwareUpdateStatus.ROLLBACK_IN_PROGRESS in active:
        return ClusterStatus.ROLLING_BACK
    return ClusterStatus.SYSTEM_UPDATING


def _plan_update(
    plan: Plan,
    group: InstanceGroup,
    members: list[Instance],
    nodes: Mapping[str, ObservedNode],
    updates: UpdateInputs,
) -> set[str]:
    """The group's software update step, if one is active; the instances it steps through."""
    if group.software_update is None or group.software_update.status not in UPDATE_ACTIVE:
        return set()
    live = [i for i in members if i.status != InstanceStatus.SHUTTING_DOWN]
    views = {
        i.node_name: NodeView(n.ready, n.labels.get(HEALTH, SCHEDULABLE))
        for i in live
        if (n := nodes.get(i.node_name)) is not None
    }
    step = plan_update(
        group,
        live,
        views,
        pods_left=updates.pods_left,
        alarms_firing=updates.alarms_firing,
        now=updates.now,
        timing=updates.timing,
    )
    plan.actions += step.actions
    if step.requeue_after is not None:
        plan.due(step.requeue_after)
    return step.claimed


def _plan_group(
    plan: Plan,
    group: InstanceGroup,
    members: list[Instance],
    nodes: Mapping[str, ObservedNode],
    *,
    target: int,
    now: float,
    policy: RecoveryPolicy,
    skip: set[str] | frozenset[str] = frozenset(),
) -> bool:
    """Plan one group's instances; True when it has converged (target reached, all Running,
    nodes carry the KubernetesConfig, nothing shutting down). ``skip``: instances a software
    update steps through now (not converged)."""
    live = [i for i in members if i.status != InstanceStatus.SHUTTING_DOWN]
    converged = len(live) == target and len(live) == len(members)
    if policy.limits is not None and policy.automatic:
        reason, unhealthy = pause_reason(group, live, nodes, policy.limits, now)
        if reason != group.remediation_paused:
            plan.actions.append(PauseRemediation(group.name, reason, unhealthy))
        policy = dataclasses.replace(policy, paused=bool(reason))
    if len(live) < target:
        plan.actions.append(_launch(group, members, target - len(live)))
    elif len(live) > target:
        # retire the youngest first, pending ones before running ones
        order = sorted(live, key=lambda i: (i.status == InstanceStatus.RUNNING, -i.launch_time))
        for inst in order[: len(live) - target]:
            plan.actions.append(Terminate(inst.instance_id))
        live = order[len(live) - target :]
    for inst in members:
        if inst.status == InstanceStatus.SHUTTING_DOWN:
            _retire(plan, inst, nodes)
    if group.reserved_logical_ids:
        # taken by this pass's launch (applied before) or by instances, or beyond the target
        plan.actions.append(ReleaseLogicalIds(group.name))
    for inst in live:
        if inst.instance_id in skip:
            converged = False
            continue
        node = nodes.get(inst.node_name)
        converged = _plan_instance(plan, group, inst, node, now=now, policy=policy) and converged
    return converged


def _launch(group: InstanceGroup, members: list[Instance], count: int) -> Launch:
    """Launch ``count`` instances; the NodeLogicalIds BatchAddClusterNodes promised and no
    instance has yet go first."""
    used = {i.logical_id for i in members}
    promised = tuple(x for x in group.reserved_logical_ids if x not in used)
    return Launch(group.name, count, promised[:count])


def _plan_instance(
    plan: Plan,
    group: InstanceGroup,
    inst: Instance,
    node: ObservedNode | None,
    *,
    now: float,
    policy: RecoveryPolicy,
) -> bool:
    """Plan one live instance; True when it is Running on a node that carries its config."""
    action: Action | None = _recovery(inst, node, policy)
    if action is None and inst.status == InstanceStatus.DEEP_HEALTH_CHECK_IN_PROGRESS:
        return _plan_deep_check(plan, inst, node, now)
    if action is None and inst.status == InstanceStatus.PENDING:
        return _plan_pending(plan, inst, node, now)
    if action is None:
        action = _running_step(group, inst, node)
    if action is None:
        return True
    plan.actions.append(action)
    return False


def _plan_pending(plan: Plan, inst: Instance, node: ObservedNode | None, now: float) -> bool:
    """A launching or rebooting instance: once its time is up its node is created, or booted
    (Ready again, and out of quarantine if a reboot had put it there), then it is Running."""
    if now < inst.ready_at:
        plan.due(inst.ready_at - now)
    elif node is None:
        plan.actions.append(CreateNode(inst.instance_id))
    elif node.ready and node.labels.get(HEALTH) not in LABEL_RECOVERY:
        plan.actions.append(MarkRunning(inst.instance_id))
    else:
        plan.actions.append(NodeBooted(inst.instance_id))
    return False


def _running_step(group: InstanceGroup, inst: Instance, node: ObservedNode | None) -> Action | None:
    if node is None:
        # the node vanished under a running instance: it comes back with the same id
        return CreateNode(inst.instance_id)
    if inst.deep_check == DeepCheck.REQUESTED and node.ready:
        return StartDeepCheck(inst.instance_id)
    if not _node_matches_config(node, group):
        keep = tuple(t for t in node.taints if t.key in AGENT_TAINT_KEYS)
        return SyncNode(inst.instance_id, keep)
    return None


def _recovery(
    inst: Instance, node: ObservedNode | None, policy: RecoveryPolicy
) -> Reboot | Replace | None:
    """A recovery asked for by the Batch* APIs, or by the node's health label when the policy
    lets labels trigger one (automatic)."""
    requested = Recovery(inst.recovery) if inst.recovery else None
    automatic = False
    if requested is None and node is not None and inst.status == InstanceStatus.RUNNING:
        wanted = LABEL_RECOVERY.get(node.labels.get(HEALTH, ""))
        if wanted is not None and policy.allows(wanted, inst.instance_type):
            requested, automatic = wanted, True
    if requested is None:
        return None
    if requested == Recovery.REBOOT:
        return Reboot(inst.instance_id, automatic)
    return Replace(inst.instance_id, automatic)


def _plan_deep_check(plan: Plan, inst: Instance, node: ObservedNode | None, now: float) -> bool:
    """An instance under deep health checks: a failure reported on the node (the health agent
    labels it for recovery) ends them as Failed; otherwise they pass when their time is up."""
    if node is None:
        plan.actions.append(CreateNode(inst.instance_id))
        return False
    if node.labels.get(HEALTH) in LABEL_RECOVERY:
        plan.actions.append(FinishDeepCheck(inst.instance_id, passed=False))
    elif now >= inst.deep_check_until:
        plan.actions.append(FinishDeepCheck(inst.instance_id, passed=True))
    else:
        plan.due(inst.deep_check_until - now)
    return False


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
    update = group.software_update
    if update is not None and update.status in UPDATE_ACTIVE:
        return GroupStatus.SYSTEM_UPDATING
    if converged:
        return GroupStatus.IN_SERVICE
    if group.status == GroupStatus.CREATING or cluster.status == ClusterStatus.CREATING:
        return GroupStatus.CREATING
    return GroupStatus.UPDATING
