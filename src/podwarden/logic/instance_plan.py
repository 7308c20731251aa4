"""Plan one live instance of a HyperPod cluster's group: its launch or reboot coming up, its
deep health checks, a recovery its health label or the Batch* APIs ask for, and its node's
configuration (``logic.cluster_plan`` calls it for each instance no software update claims)."""

from __future__ import annotations

from dataclasses import dataclass, field

from podwarden.logic.cluster_actions import (
    Action,
    CreateNode,
    FinishDeepCheck,
    MarkRunning,
    NodeBooted,
    Reboot,
    Replace,
    StartDeepCheck,
    SyncNode,
)
from podwarden.logic.node_spec import kubernetes_labels, kubernetes_taints
from podwarden.logic.recovery_policy import LABEL_RECOVERY, ObservedNode, RecoveryPolicy
from podwarden.model.cluster import DeepCheck, Instance, InstanceGroup, InstanceStatus, Recovery
from podwarden.model.labels import AGENT_TAINT_KEYS, HEALTH


@dataclass
class Plan:
    """A cluster plan being made (``logic.cluster_plan``): its actions and when it wants the
    next pass."""

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


def plan_instance(
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
    (Ready again, and out of quarantine if a reboot had put it there), then it is Running.

    A new node is registered, and made Ready, by its kubelet (kwok), not booted: a Ready posted
    before would stop kwok from ever registering it (``providers.local.LocalInstances.booted``).
    The node watch wakes the next pass when the kubelet makes it Ready."""
    if now < inst.ready_at:
        plan.due(inst.ready_at - now)
    elif node is None:
        plan.actions.append(CreateNode(inst.instance_id))
    elif not node.registered:
        pass  # its kubelet has yet to register it
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
    labels it for recovery), or one already recorded for its run (a multi-node check that a
    node checked together failed: ``logic.deep_checks``), ends them as Failed; otherwise they
    end when their time is up, each check's result given by the check runner."""
    if node is None:
        plan.actions.append(CreateNode(inst.instance_id))
        return False
    recorded = any(r.get("Status") == DeepCheck.FAILED for r in inst.deep_check_results)
    if node.labels.get(HEALTH) in LABEL_RECOVERY or recorded:
        plan.actions.append(FinishDeepCheck(inst.instance_id, passed=False))
    elif now >= inst.deep_check_until:
        plan.actions.append(FinishDeepCheck(inst.instance_id, passed=True))
    else:
        plan.due(inst.deep_check_until - now)
    return False
