"""Plan one reconcile step of a HyperPod cluster: (desired, observed, now) -> actions.

Level-triggered and idempotent: the same inputs give the same actions, and applying them moves
the observed state toward the desired one, so a restarted operator simply plans again.
Desired: the cluster record (groups and their InstanceCount, KubernetesConfig). Observed: the
instance records and the Kubernetes nodes that carry the cluster's id label.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from podwarden.logic.capacity import LaunchStep, Provisioning, launch_step
from podwarden.logic.cluster_actions import (
    Action,
    CapacityFailed,
    DeleteNode,
    Forget,
    Launch,
    PauseRemediation,
    ReleaseLogicalIds,
    RemoveCluster,
    RemoveGroup,
    SetCluster,
    SetGroup,
    Terminate,
)
from podwarden.logic.instance_plan import Plan, plan_instance
from podwarden.logic.recovery_policy import (
    ObservedNode,
    RecoveryPolicy,
    pause_reason,
    recovery_policy,
)
from podwarden.logic.software_update import ACTIVE as UPDATE_ACTIVE
from podwarden.logic.software_update import UpdateInputs, update_step, updating_status
from podwarden.model.cluster import (
    Cluster,
    ClusterStatus,
    GroupStatus,
    Instance,
    InstanceGroup,
    InstanceStatus,
)
from podwarden.policy.remediation import RemediationLimits


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
    provisioning: Provisioning | None = None,
) -> Plan:
    plan = Plan()
    provisioning = dataclasses.replace(
        provisioning or Provisioning(), continuous=_continuous(cluster)
    )
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
        in_service = _plan_group_and_status(
            plan,
            cluster,
            group,
            members,
            nodes=nodes,
            now=now,
            policy=policy,
            updates=updates,
            provisioning=provisioning,
        )
        all_in_service = all_in_service and in_service

    # instances of groups that no longer exist at all
    for orphans in by_group.values():
        for inst in orphans:
            _retire(plan, inst, nodes)
    refused: list[Action] = [a for a in plan.actions if isinstance(a, CapacityFailed)]
    if refused:
        return Plan(refused[:1])  # not Continuous: all or nothing (``logic.capacity``)

    if deleting_cluster:
        if not instances and not nodes:
            plan.actions.append(RemoveCluster())
        return plan
    updating = updating_status(cluster)
    if updating is not None and updating != cluster.status:
        plan.actions.append(SetCluster(updating))
    elif updating is None and all_in_service and cluster.status in SETTLING:
        plan.actions.append(SetCluster(ClusterStatus.IN_SERVICE))
    return plan


def _plan_group_and_status(
    plan: Plan,
    cluster: Cluster,
    group: InstanceGroup,
    members: list[Instance],
    *,
    nodes: Mapping[str, ObservedNode],
    now: float,
    policy: RecoveryPolicy,
    updates: UpdateInputs,
    provisioning: Provisioning,
) -> bool:
    """Plan one group (its software update, instances, status and applied configuration);
    True when it is InService."""
    deleting_cluster = cluster.status == ClusterStatus.DELETING
    target = 0 if deleting_cluster else group.target_count
    claimed = set() if deleting_cluster else _plan_update(plan, group, members, nodes, updates)
    done = _plan_group(
        plan,
        group,
        members,
        nodes,
        target=target,
        now=now,
        policy=policy,
        skip=claimed,
        provisioning=provisioning,
    )
    status = _group_status(cluster, group, done, deleting_cluster)
    if group.deleting and not members:
        plan.actions.append(RemoveGroup(group.name))
        return True
    config = group.spec.get("KubernetesConfig", {})
    applied = config if done else None
    if status != group.status or (
        applied is not None and applied != group.applied_kubernetes_config
    ):
        plan.actions.append(SetGroup(group.name, status, applied))
    return status == GroupStatus.IN_SERVICE


# cluster statuses that end in InService once every group is
SETTLING = frozenset(
    {
        ClusterStatus.CREATING,
        ClusterStatus.UPDATING,
        ClusterStatus.SYSTEM_UPDATING,
        ClusterStatus.ROLLING_BACK,
    }
)


def _plan_update(
    plan: Plan,
    group: InstanceGroup,
    members: list[Instance],
    nodes: Mapping[str, ObservedNode],
    updates: UpdateInputs,
) -> set[str]:
    """The group's software update step (or the start of a scheduled one); the instances it
    steps through."""
    step = update_step(group, members, nodes, updates)
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
    provisioning: Provisioning | None = None,
) -> bool:
    """Plan one group's instances; True when it has converged (target reached, all Running,
    nodes carry the KubernetesConfig, nothing shutting down; in Continuous mode, the target
    short only for capacity: ``logic.capacity``). ``skip``: instances a software update steps
    through now (not converged)."""
    live = [i for i in members if i.status != InstanceStatus.SHUTTING_DOWN]
    converged = len(live) == target and len(live) == len(members)
    if policy.limits is not None and policy.automatic:
        reason, unhealthy = pause_reason(group, live, nodes, policy.limits, now)
        if reason != group.remediation_paused:
            plan.actions.append(PauseRemediation(group.name, reason, unhealthy))
        policy = dataclasses.replace(policy, paused=bool(reason))
    step = _provision(
        plan,
        group,
        members,
        current=len(live),
        target=target,
        now=now,
        provisioning=provisioning or Provisioning(),
    )
    converged = converged or (step.waiting and len(live) == len(members))
    if len(live) > target:
        # retire the youngest first, pending ones before running ones
        order = sorted(live, key=lambda i: (i.status == InstanceStatus.RUNNING, -i.launch_time))
        for inst in order[: len(live) - target]:
            plan.actions.append(Terminate(inst.instance_id))
        live = order[len(live) - target :]
    for inst in members:
        if inst.status == InstanceStatus.SHUTTING_DOWN:
            _retire(plan, inst, nodes)
    if group.reserved_logical_ids:
        # taken by this pass's launch (applied before) or by instances, or beyond the target;
        # those of instances that wait for capacity stay promised
        keep = _still_promised(group, members, step.launch, step.short)
        if list(keep) != group.reserved_logical_ids:
            plan.actions.append(ReleaseLogicalIds(group.name, keep))
    for inst in live:
        if inst.instance_id in skip:
            converged = False
            continue
        node = nodes.get(inst.node_name)
        converged = plan_instance(plan, group, inst, node, now=now, policy=policy) and converged
    return converged


def _provision(
    plan: Plan,
    group: InstanceGroup,
    members: list[Instance],
    *,
    current: int,
    target: int,
    now: float,
    provisioning: Provisioning,
) -> LaunchStep:
    """Launch what the group lacks within capacity, or record why not (``logic.capacity``)."""
    step = launch_step(
        group, current, target - current, now, provisioning, continuous=provisioning.continuous
    )
    plan.actions += step.actions
    if step.launch:
        plan.actions.append(_launch(group, members, step.launch))
    if step.requeue is not None:
        plan.due(step.requeue)
    return step


def _still_promised(
    group: InstanceGroup, members: list[Instance], launched: int, short: int
) -> tuple[str, ...]:
    """The reserved NodeLogicalIds still promised after this pass: those of instances that wait
    for capacity (the ones the launch took come first)."""
    used = {i.logical_id for i in members}
    promised = [x for x in group.reserved_logical_ids if x not in used]
    return tuple(promised[launched : launched + short])


def _continuous(cluster: Cluster) -> bool:
    return cluster.spec.get("NodeProvisioningMode") == "Continuous"


def _launch(group: InstanceGroup, members: list[Instance], count: int) -> Launch:
    """Launch ``count`` instances; the NodeLogicalIds BatchAddClusterNodes promised and no
    instance has yet go first."""
    used = {i.logical_id for i in members}
    promised = tuple(x for x in group.reserved_logical_ids if x not in used)
    return Launch(group.name, count, promised[:count])


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
    if group.status == GroupStatus.IN_SERVICE and _continuous(cluster):
        # "Your clusters and instance groups remain InService while scaling" (Continuous;
        # docs/sources.md, "Continuous provisioning"): only a request makes a group Updating
        return GroupStatus.IN_SERVICE
    if group.status == GroupStatus.CREATING or cluster.status == ClusterStatus.CREATING:
        return GroupStatus.CREATING
    return GroupStatus.UPDATING
