"""The rolling software update's planner (logic.software_update): batches, drains, re-images,
health checks, rollback; and a whole update of a 100-node group played through a small model
of the world, which checks how much of the group stays schedulable."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from podwarden.logic import cluster_actions as ca
from podwarden.logic.software_update import (
    NodeView,
    UpdatePlan,
    UpdateTiming,
    batch_size,
    plan_update,
    scheduled_update,
)
from podwarden.model.cluster import (
    Instance,
    InstanceGroup,
    InstanceStatus,
    SoftwareUpdate,
)
from podwarden.model.cluster import SoftwareUpdateStatus as S
from podwarden.model.labels import PENDING_REBOOT, SCHEDULABLE

OLD, NEW = "2025.1.1", "2025.2.1"
TIMING = UpdateTiming(reimage=5.0, settle=2.0, drain_timeout=60.0, boot_timeout=120.0)


def instance(n: int, *, release: str = OLD, status: str = InstanceStatus.RUNNING) -> Instance:
    return Instance(
        instance_id=f"i-{n:017x}",
        cluster_id="c",
        group="workers",
        logical_id=f"workers-{n:04d}",
        instance_type="ml.g5.8xlarge",
        status=status,
        launch_time=0.0,
        ready_at=0.0,
        image_release=release,
    )


def group(
    count: int, update: SoftwareUpdate | None = None, deployment: dict[str, Any] | None = None
) -> InstanceGroup:
    g = InstanceGroup(
        spec={"InstanceGroupName": "workers", "InstanceCount": count, "InstanceType": "x"},
        image_release=OLD,
    )
    g.software_update = update or SoftwareUpdate(
        to_release=NEW, from_release=OLD, deployment=deployment or {}, status=S.IN_PROGRESS
    )
    return g


def healthy(instances: list[Instance]) -> dict[str, NodeView]:
    return {i.node_name: NodeView(True, SCHEDULABLE) for i in instances}


def plan(
    g: InstanceGroup,
    live: list[Instance],
    nodes: dict[str, NodeView] | None = None,
    *,
    now: float = 100.0,
    pods: dict[str, int] | None = None,
    alarms: frozenset[str] = frozenset(),
) -> UpdatePlan:
    return plan_update(
        g,
        live,
        healthy(live) if nodes is None else nodes,
        pods_left=pods or {},
        alarms_firing=alarms,
        now=now,
        timing=TIMING,
    )


def steps(p: UpdatePlan) -> list[SoftwareUpdate]:
    return [a.update for a in p.actions if isinstance(a, ca.SoftwareUpdateStep)]


@pytest.mark.parametrize(
    ("policy", "size", "expected"),
    [
        (None, 7, 7),
        ({"Type": "INSTANCE_COUNT", "Value": 3}, 100, 3),
        ({"Type": "CAPACITY_PERCENTAGE", "Value": 10}, 100, 10),
        ({"Type": "CAPACITY_PERCENTAGE", "Value": 10}, 5, 1),
        ({"Type": "CAPACITY_PERCENTAGE", "Value": 25}, 10, 2),
    ],
)
def test_batch_size(policy: dict[str, Any] | None, size: int, expected: int) -> None:
    assert batch_size(policy, size) == expected


def test_no_active_update_plans_nothing() -> None:
    g = group(2)
    assert g.software_update is not None
    g.software_update = dataclasses.replace(g.software_update, status=S.SUCCEEDED)
    assert plan(g, [instance(1), instance(2)]).actions == []


def test_a_pending_update_starts() -> None:
    g = group(2, SoftwareUpdate(to_release=NEW, from_release=OLD))
    (step,) = steps(plan(g, [instance(1)]))
    assert step.status == S.IN_PROGRESS


def test_the_first_batch_is_chosen_and_drained() -> None:
    live = [instance(n) for n in range(10)]
    g = group(10, deployment={"RollingUpdatePolicy": {"MaximumBatchSize": _pct(20)}})
    p = plan(g, live)
    (step,) = steps(p)
    assert len(step.batch) == 2
    drained = [a.instance_id for a in p.actions if isinstance(a, ca.DrainForUpdate)]
    assert drained == step.batch
    assert p.claimed == set(step.batch)


def test_unhealthy_nodes_go_first() -> None:
    live = [instance(n) for n in range(4)]
    nodes = healthy(live)
    nodes[live[3].node_name] = NodeView(True, PENDING_REBOOT)
    g = group(4, deployment={"RollingUpdatePolicy": {"MaximumBatchSize": _count(1)}})
    (step,) = steps(plan(g, live, nodes))
    assert step.batch == [live[3].instance_id]


def test_a_node_is_drained_until_no_pod_is_left_then_reimaged() -> None:
    inst = instance(1, status=InstanceStatus.SYSTEM_UPDATING)
    inst.update_deadline = 1000.0
    g = group(1)
    g.software_update.batch = [inst.instance_id]  # type: ignore[union-attr]
    p = plan(g, [inst], pods={inst.node_name: 2})
    assert p.actions == [ca.DrainForUpdate(inst.instance_id, NEW)]
    assert inst.instance_id in p.claimed
    p = plan(g, [inst], pods={inst.node_name: 0})
    assert p.actions == [ca.Reimage(inst.instance_id, NEW, "default")]


def test_a_booted_node_passes_its_health_check_after_settling() -> None:
    inst = instance(1, release=NEW)
    inst.ready_at = 99.0
    g = group(1)
    g.software_update.batch = [inst.instance_id]  # type: ignore[union-attr]
    p = plan(g, [inst], now=100.0)
    assert steps(p) == []
    assert p.requeue_after == pytest.approx(1.0)
    (step,) = steps(plan(g, [inst], now=101.5))
    assert step.batch == [] and step.batches_done == 1


def test_the_next_batch_waits_for_the_interval() -> None:
    g = group(2, deployment={"WaitIntervalInSeconds": 30})
    g.software_update.next_batch_at = 130.0  # type: ignore[union-attr]
    p = plan(g, [instance(1), instance(2)], now=100.0)
    assert p.actions == [] and p.requeue_after == pytest.approx(30.0)


def test_all_nodes_on_the_new_release_is_success() -> None:
    g = group(2)
    (step,) = steps(p := plan(g, [instance(1, release=NEW), instance(2, release=NEW)]))
    assert step.status == S.SUCCEEDED
    assert p.actions[0] == ca.SoftwareUpdateStep("workers", step, release=(NEW, "default"))


def test_a_failed_health_check_rolls_back_with_the_reason() -> None:
    inst = instance(1, release=NEW)
    g = group(2)
    g.software_update.batch = [inst.instance_id]  # type: ignore[union-attr]
    nodes = {inst.node_name: NodeView(True, PENDING_REBOOT)}
    p = plan(g, [inst, instance(2)], nodes)
    (step,) = steps(p)
    assert step.status == S.ROLLBACK_IN_PROGRESS
    assert inst.instance_id in step.rollback_reason
    assert "health check" in step.rollback_reason
    assert p.claimed == {inst.instance_id}  # no automatic recovery before the rollback takes it


def test_a_watched_alarm_rolls_back_and_an_unwatched_one_does_not() -> None:
    live = [instance(1)]
    g = group(1, deployment={"AutoRollbackConfiguration": [{"AlarmName": "loss-spike"}]})
    assert steps(plan(g, live, alarms=frozenset({"other"})))[0].status == S.IN_PROGRESS
    (step,) = steps(plan(g, live, alarms=frozenset({"loss-spike"})))
    assert step.status == S.ROLLBACK_IN_PROGRESS
    assert "loss-spike" in step.rollback_reason


def test_a_drain_that_outlasts_its_deadline_rolls_back() -> None:
    inst = instance(1, status=InstanceStatus.SYSTEM_UPDATING)
    inst.update_deadline = 50.0
    g = group(1)
    g.software_update.batch = [inst.instance_id]  # type: ignore[union-attr]
    (step,) = steps(plan(g, [inst], pods={inst.node_name: 1}, now=100.0))
    assert step.status == S.ROLLBACK_IN_PROGRESS
    assert "could not be drained" in step.rollback_reason


def test_a_rollback_takes_updated_and_half_drained_nodes_back() -> None:
    updated = instance(1, release=NEW)
    drained = instance(2, status=InstanceStatus.SYSTEM_UPDATING)
    untouched = instance(3)
    g = group(3)
    g.software_update.status = S.ROLLBACK_IN_PROGRESS  # type: ignore[union-attr]
    (step,) = steps(plan(g, [updated, drained, untouched]))
    assert sorted(step.batch) == sorted([updated.instance_id, drained.instance_id])


def test_a_finished_rollback_says_why() -> None:
    g = group(1)
    g.software_update.status = S.ROLLBACK_IN_PROGRESS  # type: ignore[union-attr]
    g.software_update.rollback_reason = "instance i-1 failed"  # type: ignore[union-attr]
    p = plan(g, [instance(1)])
    (action,) = p.actions
    assert isinstance(action, ca.SoftwareUpdateStep)
    assert action.update.status == S.ROLLBACK_COMPLETE
    assert action.release is None
    assert "instance i-1 failed" in action.message


# --- a whole update through a small model of the world ----------------------------------------


class World:
    """Instances and nodes that do what the actions ask: drains finish at once, re-imaged nodes
    boot after the re-image delay (the cluster plan's pending steps, compressed)."""

    def __init__(self, count: int, deployment: dict[str, Any]) -> None:
        self.live = [instance(n) for n in range(count)]
        self.nodes = healthy(self.live)
        self.group = group(count, SoftwareUpdate(NEW, OLD, deployment=deployment))
        self.now = 0.0
        self.fail_on: set[str] = set()  # nodes whose health check fails on the new release

    def tick(self) -> UpdatePlan:
        for inst in self.live:
            if inst.status == InstanceStatus.PENDING and self.now >= inst.ready_at:
                inst.status = InstanceStatus.RUNNING
                bad = inst.instance_id in self.fail_on and inst.image_release == NEW
                self.nodes[inst.node_name] = NodeView(True, PENDING_REBOOT if bad else SCHEDULABLE)
        p = plan_update(
            self.group,
            self.live,
            self.nodes,
            pods_left={},
            alarms_firing=frozenset(),
            now=self.now,
            timing=TIMING,
        )
        by_id = {i.instance_id: i for i in self.live}
        for action in p.actions:
            match action:
                case ca.SoftwareUpdateStep(_, update, release):
                    self.group.software_update = update
                    if release:
                        self.group.image_release = release[0]
                case ca.DrainForUpdate(iid):
                    by_id[iid].status = InstanceStatus.SYSTEM_UPDATING
                    self.nodes[by_id[iid].node_name] = NodeView(True, PENDING_REBOOT)
                case ca.Reimage(iid, release):
                    inst = by_id[iid]
                    inst.status, inst.image_release = InstanceStatus.PENDING, release
                    inst.ready_at = self.now + TIMING.reimage
                    self.nodes[inst.node_name] = NodeView(False, PENDING_REBOOT)
        return p

    def schedulable(self) -> float:
        ok = sum(
            1
            for i in self.live
            if i.status == InstanceStatus.RUNNING and self.nodes[i.node_name].health == SCHEDULABLE
        )
        return ok / len(self.live)

    def run(self, until: set[str]) -> list[float]:
        seen = []
        for _ in range(10_000):
            self.tick()
            seen.append(self.schedulable())
            assert self.group.software_update is not None
            if self.group.software_update.status in until:
                return seen
            self.now += 0.5
        raise AssertionError(f"the update did not reach {until} in 10,000 steps")


def test_a_100_node_update_in_batches_of_10_percent_keeps_90_percent_schedulable() -> None:
    world = World(100, {"RollingUpdatePolicy": {"MaximumBatchSize": _pct(10)}})
    seen = world.run({S.SUCCEEDED, S.FAILED, S.ROLLBACK_COMPLETE})
    assert world.group.software_update is not None
    assert world.group.software_update.status == S.SUCCEEDED
    assert world.group.software_update.batches_done == 10
    assert min(seen) >= 0.9
    assert {i.image_release for i in world.live} == {NEW}
    assert world.group.image_release == NEW


def test_a_failure_in_the_second_batch_leaves_every_node_on_the_old_release() -> None:
    world = World(20, {"RollingUpdatePolicy": {"MaximumBatchSize": _count(4)}})
    world.fail_on = {world.live[5].instance_id}  # logical ids sort: the second batch
    world.run({S.SUCCEEDED, S.FAILED, S.ROLLBACK_COMPLETE})
    update = world.group.software_update
    assert update is not None
    assert update.status == S.ROLLBACK_COMPLETE
    assert update.batches_done == 1  # the first batch went through, the second failed
    assert world.live[5].instance_id in update.rollback_reason
    assert {i.image_release for i in world.live} == {OLD}
    assert world.group.image_release == OLD


def _pct(value: int) -> dict[str, Any]:
    return {"Type": "CAPACITY_PERCENTAGE", "Value": value}


def _count(value: int) -> dict[str, Any]:
    return {"Type": "INSTANCE_COUNT", "Value": value}


# --- ScheduledUpdateConfig ---------------------------------------------------------------------

MONDAY_3AM = "cron(0 3 ? * 2 *)"  # AWS's syntax: day of week 1 = Sunday


def scheduled(
    expression: str, last: float, deployment: dict[str, Any] | None = None
) -> InstanceGroup:
    g = group(2)
    g.software_update = None
    g.spec["ScheduledUpdateConfig"] = {
        "ScheduleExpression": expression,
        "DeploymentConfig": deployment or {},
    }
    g.last_scheduled_update = last
    return g


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def test_a_schedule_not_yet_due_says_when() -> None:
    g = scheduled(MONDAY_3AM, epoch("2026-12-06T12:00:00"))  # a Sunday
    start, wait = scheduled_update(g, NEW, epoch("2026-12-06T13:00:00"))
    assert start is None
    assert wait == pytest.approx(14 * 3600)  # Monday 03:00


def test_a_due_schedule_starts_an_update_to_the_newest_release() -> None:
    deployment = {"RollingUpdatePolicy": {"MaximumBatchSize": _count(1)}}
    g = scheduled(MONDAY_3AM, epoch("2026-12-06T12:00:00"), deployment)
    start, wait = scheduled_update(g, NEW, epoch("2026-12-07T03:00:30"))
    assert wait is None and start is not None
    assert start.due == epoch("2026-12-07T03:00:00")  # the schedule moves on from its due time
    assert start.update is not None
    assert (start.update.from_release, start.update.to_release) == (OLD, NEW)
    assert start.update.status == S.PENDING
    assert start.update.deployment == deployment


def test_a_due_schedule_on_the_newest_release_only_moves_on() -> None:
    g = scheduled(MONDAY_3AM, epoch("2026-12-06T12:00:00"))
    start, _ = scheduled_update(g, OLD, epoch("2026-12-07T04:00:00"))
    assert start is not None and start.update is None


def test_no_schedule_fires_while_an_update_runs() -> None:
    g = scheduled(MONDAY_3AM, 0.0)
    g.software_update = SoftwareUpdate(NEW, OLD, status=S.IN_PROGRESS)
    assert scheduled_update(g, NEW, epoch("2026-12-07T04:00:00")) == (None, None)
