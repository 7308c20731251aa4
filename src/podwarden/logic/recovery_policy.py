"""Which observed nodes ask for a recovery, and when automatic recovery may act: the health
labels that request one, NodeRecovery, R15's rule for CPU instances, and the safety limits
(policy/tables/remediation.yaml) that pause it. Pure; ``logic.cluster_plan`` applies it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from podwarden.logic.node_spec import Taint
from podwarden.model.cluster import Cluster, Instance, InstanceGroup, InstanceStatus, Recovery
from podwarden.model.labels import HEALTH, PENDING_REBOOT, PENDING_REPLACEMENT, SCHEDULABLE
from podwarden.policy.remediation import RemediationLimits


@dataclass(frozen=True)
class ObservedNode:
    name: str
    ready: bool
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    registered: bool = True  # by its kubelet (``logic.node_spec.registered``)


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
