"""Plan one step of an instance group's rolling platform-software update: (desired, observed,
now) -> actions.

UpdateClusterSoftware (or the group's ScheduledUpdateConfig when it falls due) leaves a
:class:`SoftwareUpdate` on the group; each pass of the cluster reconciler asks this module what
to do next. The update moves the group's nodes from ``from_release`` to ``to_release`` one batch
at a time (``DeploymentConfig.RollingUpdatePolicy.MaximumBatchSize``, all at once without one),
waiting ``WaitIntervalInSeconds`` after each batch while it watches the batch's health and the
given alarms. Each node of a batch is

1. drained: quarantined (health label ``Unschedulable`` and the quarantine taint, so job
   auto-resume moves its jobs) and its pods evicted with respect for PodDisruptionBudgets,
   evictions refused now are asked again on later passes (``DrainForUpdate``);
2. re-imaged once no workload pod is left: the instance keeps its id and volumes, its node goes
   NotReady and boots again on the new release (``Reimage``; the boot is the reboot path's);
3. health-checked: Running, Ready and Schedulable for ``settle`` seconds after it booted.

A node of the batch that fails its health check (a health label asking for a recovery, an
instance in Failure, a node not back by its deadline), a drain that outlasts its deadline, or an
alarm of ``AutoRollbackConfiguration`` in ALARM rolls the update back: every node on another
release than ``from_release`` goes through the same steps back to it, in batches of
``RollbackMaximumBatchSize`` (all at once without one), and the group ends RollbackComplete with
the reason. AWS's documents are docs/sources.md, "Platform software updates".

Pure: the operator supplies what it observed (nodes, workload pods left on draining nodes,
alarms in ALARM) and applies the actions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podwarden.logic.cluster_actions import (
    Action,
    DrainForUpdate,
    Reimage,
    SoftwareUpdateStep,
    StartScheduledUpdate,
)
from podwarden.logic.recovery_policy import ObservedNode
from podwarden.logic.update_schedule import ScheduleError, next_due
from podwarden.model.cluster import (
    Cluster,
    ClusterStatus,
    Instance,
    InstanceGroup,
    InstanceStatus,
    SoftwareUpdate,
)
from podwarden.model.cluster import SoftwareUpdateStatus as S
from podwarden.model.labels import HEALTH, SCHEDULABLE

ACTIVE = frozenset({S.PENDING, S.IN_PROGRESS, S.ROLLBACK_IN_PROGRESS})


@dataclass(frozen=True)
class UpdateTiming:
    """Simulated durations of a node's update (seconds, already scaled)."""

    reimage: float = 5.0  # from re-image to the node booting on the new release
    settle: float = 2.0  # healthy this long after booting: the batch's health check passed
    drain_timeout: float = 600.0  # evictions refused (PodDisruptionBudgets) for longer: fail
    boot_timeout: float = 120.0  # not Running and Ready this long after booting: fail


@dataclass(frozen=True)
class NodeView:
    """What the update reads of an instance's node."""

    ready: bool
    health: str


@dataclass(frozen=True)
class UpdateInputs:
    """What a software update reads besides nodes (``logic.software_update``): workload pods
    still on nodes drained for it, the alarms in ALARM, its simulated durations."""

    now: float = 0.0
    pods_left: Mapping[str, int] = field(default_factory=dict)
    alarms_firing: frozenset[str] = frozenset()
    timing: UpdateTiming = field(default_factory=UpdateTiming)
    # the newest AMI release for the cluster's Kubernetes minor (a scheduled update's target)
    latest_release: str = ""


@dataclass
class UpdatePlan:
    actions: list[Action] = field(default_factory=list)
    # instances this update steps through now: the cluster plan leaves them alone
    claimed: set[str] = field(default_factory=set)
    requeue_after: float | None = None

    def due(self, seconds: float) -> None:
        if self.requeue_after is None or seconds < self.requeue_after:
            self.requeue_after = max(0.0, seconds)


def batch_size(policy: Mapping[str, Any] | None, group_size: int) -> int:
    """Nodes per batch for a CapacitySizeConfig (``INSTANCE_COUNT`` or ``CAPACITY_PERCENTAGE``
    of the group's target count, at least 1); the whole group without one."""
    if not policy:
        return max(1, group_size)
    value = int(policy["Value"])
    if policy["Type"] == "CAPACITY_PERCENTAGE":
        return max(1, math.floor(group_size * value / 100))
    return max(1, value)


def scheduled_update(
    group: InstanceGroup, latest: str, now: float
) -> tuple[StartScheduledUpdate | None, float | None]:
    """The group's ScheduledUpdateConfig, when no update is active: (the update to start now,
    if its schedule fell due since ``last_scheduled_update``; seconds until it next falls due).
    Due while the group already runs ``latest`` (the catalog's newest release for the
    cluster's Kubernetes minor), the schedule only moves on."""
    config = group.spec.get("ScheduledUpdateConfig")
    update = group.software_update
    if not config or (update is not None and update.status in ACTIVE):
        return None, None
    try:
        due = next_due(str(config["ScheduleExpression"]), group.last_scheduled_update)
    except ScheduleError:
        return None, None  # refused at CreateCluster/UpdateCluster; an old record: never due
    if due is None:
        return None, None
    if due > now:
        return None, due - now
    start = None
    if latest and latest != group.image_release:
        start = SoftwareUpdate(
            to_release=latest,
            from_release=group.image_release,
            to_image_id=group.image_id,
            from_image_id=group.image_id,
            deployment=dict(config.get("DeploymentConfig") or {}),
            requested=now,
        )
    return StartScheduledUpdate(group.name, due, start), None


def plan_update(
    group: InstanceGroup,
    live: Sequence[Instance],
    nodes: Mapping[str, NodeView],
    *,
    pods_left: Mapping[str, int],
    alarms_firing: frozenset[str],
    now: float,
    timing: UpdateTiming,
) -> UpdatePlan:
    """The next step of ``group``'s software update (an empty plan when none is active)."""
    update = group.software_update
    if update is None or update.status not in ACTIVE:
        return UpdatePlan()
    step = _Pass(group, update, live, nodes, pods_left, alarms_firing, now, timing)
    if update.status == S.PENDING:
        step.record(dataclasses.replace(update, status=S.IN_PROGRESS, next_batch_at=now))
    else:
        step.advance()
    return step.plan


@dataclass
class _Pass:
    """One pass over an active update: what it observed and the plan it makes."""

    group: InstanceGroup
    update: SoftwareUpdate
    live: Sequence[Instance]
    nodes: Mapping[str, NodeView]
    pods_left: Mapping[str, int]
    alarms: frozenset[str]
    now: float
    timing: UpdateTiming
    plan: UpdatePlan = field(default_factory=UpdatePlan)

    @property
    def rolling_back(self) -> bool:
        return self.update.status == S.ROLLBACK_IN_PROGRESS

    @property
    def target(self) -> tuple[str, str]:
        """(release, image id) the nodes are moving to."""
        if self.rolling_back:
            return self.update.from_release, self.update.from_image_id
        return self.update.to_release, self.update.to_image_id

    def record(
        self, update: SoftwareUpdate, *, release: tuple[str, str] | None = None, message: str = ""
    ) -> None:
        self.plan.actions.append(SoftwareUpdateStep(self.group.name, update, release, message))

    def advance(self) -> None:
        by_id = {i.instance_id: i for i in self.live}
        batch = [by_id[i] for i in self.update.batch if i in by_id]
        self.plan.claimed = {i.instance_id for i in batch if i.status != InstanceStatus.PENDING}
        failure = self._failure(batch)
        if failure and not self.rolling_back:
            self._roll_back(failure)
        elif failure:  # the rollback itself failed: stop, say why, leave the nodes as they are
            failed = dataclasses.replace(
                self.update, status=S.FAILED, batch=[], finished=self.now, rollback_reason=failure
            )
            self.record(failed, message=failure)
        elif not all([self._step_node(inst) for inst in batch]):  # noqa: C419 - step each
            return  # the batch is still going (every node of it was stepped)
        elif self.update.batch:  # the batch is through: wait, then the next
            wait = float(self.update.deployment.get("WaitIntervalInSeconds") or 0)
            forward = int(not self.rolling_back)  # rollback batches are not counted
            done = self.update.batches_done + forward
            self.record(
                dataclasses.replace(
                    self.update, batch=[], batches_done=done, next_batch_at=self.now + wait
                )
            )
        else:
            self._next_batch()

    def _failure(self, batch: Sequence[Instance]) -> str:
        """Why the update must stop now ("" if it need not)."""
        deployment = self.update.deployment
        watched = {a["AlarmName"] for a in deployment.get("AutoRollbackConfiguration") or []}
        firing = sorted(watched & self.alarms)
        if firing and not self.rolling_back:
            return f"alarm {', '.join(firing)} is in state ALARM"
        for inst in batch:
            why = self._node_failure(inst)
            if why:
                return f"instance {inst.instance_id} {why}"
        return ""

    def _node_failure(self, inst: Instance) -> str:
        if inst.status == InstanceStatus.FAILURE:
            return "failed"
        left = self.pods_left.get(inst.node_name, 0)
        draining = inst.status == InstanceStatus.SYSTEM_UPDATING
        if draining and left and self.now > inst.update_deadline:
            return (
                f"could not be drained within {self.timing.drain_timeout:.0f} s: "
                f"{left} pod(s) left that disruption budgets keep"
            )
        on_target = inst.image_release == self.target[0]
        if not on_target or inst.status != InstanceStatus.RUNNING:
            late = self.now > inst.ready_at + self.timing.boot_timeout
            if on_target and late:
                return f"did not come back within {self.timing.boot_timeout:.0f} s of its re-image"
            return ""
        node = self.nodes.get(inst.node_name)
        if node is not None and node.health != SCHEDULABLE:
            return f"failed its health check after the update (health status {node.health})"
        return ""

    def _step_node(self, inst: Instance) -> bool:
        """Move one node of the batch on; True when it is through (on the target release,
        Running, Ready, healthy for ``settle`` seconds since it booted)."""
        release, image = self.target
        updating = inst.status == InstanceStatus.SYSTEM_UPDATING
        starts = inst.image_release != release and inst.status == InstanceStatus.RUNNING
        if starts or (updating and self.pods_left.get(inst.node_name, 0)):
            self.plan.actions.append(DrainForUpdate(inst.instance_id, release))
        elif updating:  # drained (a rollback may catch a node drained but still on `release`)
            self.plan.actions.append(Reimage(inst.instance_id, release, image))
        elif inst.image_release == release and inst.status == InstanceStatus.RUNNING:
            node = self.nodes.get(inst.node_name)
            settled_at = inst.ready_at + self.timing.settle
            if node is not None and node.ready and self.now >= settled_at:
                return True
            self.plan.due(settled_at - self.now)
        # else Pending (booting or launching): the cluster plan's pending steps bring it up
        return False

    def _next_batch(self) -> None:
        release, _ = self.target
        # behind: on another release, or drained for an update that a rollback stopped (back
        # to service through a re-image on the release it has)
        behind = [
            i
            for i in self.live
            if i.image_release != release or i.status == InstanceStatus.SYSTEM_UPDATING
        ]
        if not behind:
            self._finish()
            return
        if self.now < self.update.next_batch_at:
            self.plan.due(self.update.next_batch_at - self.now)
            return
        movable = (InstanceStatus.RUNNING, InstanceStatus.SYSTEM_UPDATING)
        ready = [i for i in behind if i.status in movable]
        if not ready:
            return  # the rest are launching or rebooting: a later pass takes them
        policy = self.update.deployment.get("RollingUpdatePolicy") or {}
        key = "RollbackMaximumBatchSize" if self.rolling_back else "MaximumBatchSize"
        size = batch_size(policy.get(key), len(self.live))

        def unhealthy_first(inst: Instance) -> tuple[bool, str]:
            node = self.nodes.get(inst.node_name)
            return (node is not None and node.health == SCHEDULABLE, inst.logical_id)

        chosen = sorted(ready, key=unhealthy_first)[:size]
        self.record(dataclasses.replace(self.update, batch=[i.instance_id for i in chosen]))
        self.plan.actions += [DrainForUpdate(i.instance_id, release) for i in chosen]
        # theirs now: no recovery of the cluster plan's runs beside the update's own steps
        self.plan.claimed |= {i.instance_id for i in chosen}

    def _finish(self) -> None:
        update, group = self.update, self.group.name
        if self.rolling_back:
            message = (
                f"Software update of instance group {group} to release {update.to_release} "
                f"was rolled back: {update.rollback_reason}"
            )
            done = dataclasses.replace(
                update, status=S.ROLLBACK_COMPLETE, batch=[], finished=self.now
            )
            self.record(done, message=message)
            return
        done = dataclasses.replace(update, status=S.SUCCEEDED, batch=[], finished=self.now)
        self.record(done, release=(update.to_release, update.to_image_id))

    def _roll_back(self, why: str) -> None:
        """Stop the update; from the next pass every node goes back to ``from_release`` (the
        unhealthy ones first; those still draining for the update return with them). The
        failed batch stays claimed for this pass, so no automatic recovery starts on a node
        that the rollback re-images next."""
        back = dataclasses.replace(
            self.update,
            status=S.ROLLBACK_IN_PROGRESS,
            batch=[],
            next_batch_at=self.now,
            rollback_reason=why,
        )
        self.record(back, message=why)


def updating_status(cluster: Cluster) -> str | None:
    """SystemUpdating while a group's software update is under way, RollingBack while one rolls
    back; None when none is active."""
    active = [
        g.software_update.status
        for g in cluster.groups.values()
        if g.software_update is not None and g.software_update.status in ACTIVE
    ]
    if not active:
        return None
    if S.ROLLBACK_IN_PROGRESS in active:
        return ClusterStatus.ROLLING_BACK
    return ClusterStatus.SYSTEM_UPDATING


def update_step(
    group: InstanceGroup,
    members: Sequence[Instance],
    nodes: Mapping[str, ObservedNode],
    inputs: UpdateInputs,
) -> UpdatePlan:
    """The group's software update step, if one is active, or the start of a scheduled one
    (the cluster plan's entry point)."""
    start, wait = scheduled_update(group, inputs.latest_release, inputs.now)
    update = group.software_update
    if update is None or update.status not in ACTIVE:
        plan = UpdatePlan()
    else:
        live = [i for i in members if i.status != InstanceStatus.SHUTTING_DOWN]
        views = {
            i.node_name: NodeView(n.ready, n.labels.get(HEALTH, SCHEDULABLE))
            for i in live
            if (n := nodes.get(i.node_name)) is not None
        }
        plan = plan_update(
            group,
            live,
            views,
            pods_left=inputs.pods_left,
            alarms_firing=inputs.alarms_firing,
            now=inputs.now,
            timing=inputs.timing,
        )
    if start is not None:
        plan.actions.insert(0, start)
    if wait is not None:
        plan.due(wait)
    return plan
