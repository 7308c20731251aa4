"""The pure cluster planner: (desired, observed, now) -> actions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from podwarden.logic import cluster_actions as ca
from podwarden.logic import cluster_plan as cp
from podwarden.logic.node_spec import Taint
from podwarden.logic.recovery_policy import ObservedNode
from podwarden.model.cluster import (
    Cluster,
    ClusterStatus,
    DeepCheck,
    GroupStatus,
    Instance,
    InstanceGroup,
    InstanceStatus,
)
from podwarden.model.labels import HEALTH, PENDING_REBOOT, SCHEDULABLE
from podwarden.operator.instances import observe
from podwarden.policy.remediation import RemediationLimits

NOW = 1000.0


def cluster(status: str = ClusterStatus.CREATING, **groups: dict[str, Any]) -> Cluster:
    return Cluster(
        cluster_id="abcdefghijkl",
        name="c",
        arn="arn:aws:sagemaker:us-west-2:000000000000:cluster/abcdefghijkl",
        region="us-west-2",
        account="000000000000",
        status=status,
        created=0.0,
        spec={},
        groups={
            name: InstanceGroup(
                spec={"InstanceGroupName": name, "InstanceType": "ml.c5.large", **spec},
                status=spec.pop("_status", GroupStatus.CREATING),
            )
            for name, spec in groups.items()
        },
    )


def inst(
    n: int,
    group: str = "g",
    status: str = InstanceStatus.RUNNING,
    ready_at: float = 0.0,
    launch_time: float = 0.0,
) -> Instance:
    return Instance(
        instance_id=f"i-{n:017x}",
        cluster_id="abcdefghijkl",
        group=group,
        logical_id=f"{group}-{n}",
        instance_type="ml.c5.large",
        status=status,
        launch_time=launch_time,
        ready_at=ready_at,
    )


def node(
    i: Instance,
    ready: bool = True,
    labels: dict[str, str] | None = None,
    taints: tuple[Taint, ...] = (),
) -> ObservedNode:
    return ObservedNode(i.node_name, ready, labels or {}, taints)


def test_new_group_launches_its_instances() -> None:
    plan = cp.plan_cluster(cluster(g={"InstanceCount": 3}), [], {}, NOW)
    assert plan.actions == [ca.Launch("g", 3)]


def test_pending_instance_waits_for_its_launch_delay_then_gets_a_node() -> None:
    c = cluster(g={"InstanceCount": 1})
    pending = inst(1, status=InstanceStatus.PENDING, ready_at=NOW + 2.5)
    plan = cp.plan_cluster(c, [pending], {}, NOW)
    assert plan.actions == [] and plan.requeue_after == 2.5
    later = cp.plan_cluster(c, [pending], {}, NOW + 3)
    assert later.actions == [ca.CreateNode(pending.instance_id)]


def test_a_rebooted_node_boots_out_of_quarantine_before_its_instance_runs() -> None:
    """A reboot keeps the node quarantined (its recovery label and taint) until it boots, even
    when it reports Ready meanwhile (kwok's heartbeat): the instance is Running only once the
    node is out of quarantine, so no pod lands on a node that is still rebooting."""
    c = cluster(g={"InstanceCount": 1})
    rebooting = inst(1, status=InstanceStatus.PENDING, ready_at=NOW + 1)
    quarantined = {rebooting.node_name: node(rebooting, labels={HEALTH: PENDING_REBOOT})}
    assert cp.plan_cluster(c, [rebooting], quarantined, NOW).actions == []
    assert cp.plan_cluster(c, [rebooting], quarantined, NOW + 2).actions == [
        ca.NodeBooted(rebooting.instance_id)
    ]
    back = {rebooting.node_name: node(rebooting, labels={HEALTH: SCHEDULABLE})}
    assert cp.plan_cluster(c, [rebooting], back, NOW + 2).actions == [
        ca.MarkRunning(rebooting.instance_id)
    ]


def test_a_new_node_is_left_to_its_kubelet_until_registered() -> None:
    """A node its kubelet (kwok) has not registered is not booted: a Ready posted first would
    stop kwok from ever registering it (no address: the apiserver cannot reach its kubelet).
    The instance stays Pending; once registered and Ready it is Running."""
    c = cluster(g={"InstanceCount": 1})
    pending = inst(1, status=InstanceStatus.PENDING)
    new = node(pending, ready=False)
    unregistered = {pending.node_name: replace(new, registered=False)}
    plan = cp.plan_cluster(c, [pending], unregistered, NOW)
    assert plan.actions == [] and plan.requeue_after is None
    registered = {pending.node_name: node(pending)}
    assert cp.plan_cluster(c, [pending], registered, NOW).actions == [
        ca.MarkRunning(pending.instance_id)
    ]


def test_ready_node_marks_instance_running_and_group_converges() -> None:
    c = cluster(g={"InstanceCount": 1})
    pending = inst(1, status=InstanceStatus.PENDING)
    # a node that exists but is not Ready once the boot time has passed: the boot completes
    not_ready = {pending.node_name: node(pending, ready=False)}
    assert cp.plan_cluster(c, [pending], not_ready, NOW).actions == [
        ca.NodeBooted(pending.instance_id)
    ]
    plan = cp.plan_cluster(c, [pending], {pending.node_name: node(pending)}, NOW)
    assert plan.actions == [ca.MarkRunning(pending.instance_id)]
    running = inst(1)
    done = cp.plan_cluster(c, [running], {running.node_name: node(running)}, NOW)
    assert done.actions == [
        ca.SetGroup("g", GroupStatus.IN_SERVICE, {}),
        ca.SetCluster(ClusterStatus.IN_SERVICE),
    ]


def test_scale_down_retires_pending_then_youngest() -> None:
    c = cluster(ClusterStatus.UPDATING, g={"InstanceCount": 1, "_status": GroupStatus.UPDATING})
    old, young = inst(1, launch_time=1), inst(2, launch_time=5)
    pending = inst(3, status=InstanceStatus.PENDING, launch_time=2, ready_at=NOW + 10)
    nodes = {i.node_name: node(i) for i in (old, young)}
    plan = cp.plan_cluster(c, [old, young, pending], nodes, NOW)
    terminated = [a.instance_id for a in plan.actions if isinstance(a, ca.Terminate)]
    assert terminated == [pending.instance_id, young.instance_id]


def test_shutting_down_instance_loses_its_node_then_its_record() -> None:
    c = cluster(g={"InstanceCount": 0})
    leaving = inst(1, status=InstanceStatus.SHUTTING_DOWN)
    assert (
        ca.DeleteNode(leaving.node_name)
        in cp.plan_cluster(c, [leaving], {leaving.node_name: node(leaving)}, NOW).actions
    )
    assert ca.Forget(leaving.instance_id) in cp.plan_cluster(c, [leaving], {}, NOW).actions


def test_unknown_node_of_the_cluster_is_deleted() -> None:
    stray = ObservedNode("hyperpod-i-00000000000000099", True, {}, ())
    plan = cp.plan_cluster(cluster(g={"InstanceCount": 0}), [], {stray.name: stray}, NOW)
    assert plan.actions[0] == ca.DeleteNode(stray.name)


def test_vanished_node_of_running_instance_is_recreated() -> None:
    running = inst(1)
    plan = cp.plan_cluster(cluster(g={"InstanceCount": 1}), [running], {}, NOW)
    assert ca.CreateNode(running.instance_id) in plan.actions


def test_kubernetes_config_drift_is_synced() -> None:
    config = {
        "Labels": {"team": "ml"},
        "Taints": [{"Key": "k", "Value": "v", "Effect": "NoSchedule"}],
    }
    c = cluster(
        ClusterStatus.IN_SERVICE,
        g={"InstanceCount": 1, "KubernetesConfig": config, "_status": GroupStatus.IN_SERVICE},
    )
    running = inst(1)
    plan = cp.plan_cluster(c, [running], {running.node_name: node(running)}, NOW)
    assert ca.SyncNode(running.instance_id) in plan.actions
    synced = node(running, labels={"team": "ml"}, taints=(Taint("k", "v", "NoSchedule"),))
    plan = cp.plan_cluster(c, [running], {running.node_name: synced}, NOW)
    assert plan.actions == [ca.SetGroup("g", GroupStatus.IN_SERVICE, config)]


def test_deleting_cluster_terminates_everything_then_removes_itself() -> None:
    c = cluster(ClusterStatus.DELETING, g={"InstanceCount": 2})
    a = inst(1)
    plan = cp.plan_cluster(c, [a], {a.node_name: node(a)}, NOW)
    assert ca.Terminate(a.instance_id) in plan.actions
    assert ca.Launch("g", 1) not in plan.actions
    assert cp.plan_cluster(c, [], {}, NOW).actions[-1] == ca.RemoveCluster()


def test_deleted_group_is_removed_once_empty() -> None:
    c = cluster(ClusterStatus.UPDATING, g={"InstanceCount": 1})
    c.groups["g"].deleting = True
    assert cp.plan_cluster(c, [], {}, NOW).actions == [
        ca.RemoveGroup("g"),
        ca.SetCluster(ClusterStatus.IN_SERVICE),
    ]


def test_plan_is_idempotent() -> None:
    c = cluster(g={"InstanceCount": 2})
    a, b = inst(1, status=InstanceStatus.PENDING), inst(2)
    nodes = {a.node_name: node(a), b.node_name: node(b)}
    assert cp.plan_cluster(c, [a, b], nodes, NOW) == cp.plan_cluster(c, [a, b], nodes, NOW)


def test_failed_cluster_is_left_alone() -> None:
    c = cluster(ClusterStatus.FAILED, g={"InstanceCount": 3})
    a = inst(1)
    assert cp.plan_cluster(c, [a], {}, NOW).actions == []


def automatic(status: str = ClusterStatus.IN_SERVICE, **groups: dict[str, Any]) -> Cluster:
    c = cluster(status, **groups)
    c.spec["NodeRecovery"] = "Automatic"
    return c


def health(i: Instance, value: str) -> ObservedNode:
    return node(i, labels={"sagemaker.amazonaws.com/node-health-status": value})


def test_requested_recovery_is_carried_out() -> None:
    c = cluster(ClusterStatus.IN_SERVICE, g={"InstanceCount": 1, "_status": GroupStatus.IN_SERVICE})
    a = inst(1)
    a.recovery = "Reboot"
    assert ca.Reboot(a.instance_id) in cp.plan_cluster(c, [a], {a.node_name: node(a)}, NOW).actions
    a.recovery = "Replace"
    assert ca.Replace(a.instance_id) in cp.plan_cluster(c, [a], {a.node_name: node(a)}, NOW).actions


def test_health_labels_trigger_recovery_only_when_automatic() -> None:
    g = {"InstanceCount": 1, "_status": GroupStatus.IN_SERVICE}
    a = inst(1)
    reboot = {a.node_name: health(a, "UnschedulablePendingReboot")}
    replace = {a.node_name: health(a, "UnschedulablePendingReplacement")}
    assert (
        ca.Reboot(a.instance_id, True)
        in cp.plan_cluster(automatic(g=dict(g)), [a], reboot, NOW).actions
    )
    assert (
        ca.Replace(a.instance_id, True)
        in cp.plan_cluster(automatic(g=dict(g)), [a], replace, NOW).actions
    )
    manual = cluster(ClusterStatus.IN_SERVICE, g=dict(g))  # NodeRecovery None: labels only
    actions = cp.plan_cluster(manual, [a], replace, NOW).actions
    assert not any(isinstance(x, ca.Reboot | ca.Replace) for x in actions)


def always_cpu(_: str) -> bool:
    return True


def test_cpu_instances_are_never_replaced_automatically() -> None:
    """R15 (docs/requirements.md); a reboot is still done, and the Batch API path still replaces."""
    g = {"InstanceCount": 1, "_status": GroupStatus.IN_SERVICE}
    a = inst(1)
    replace = {a.node_name: health(a, "UnschedulablePendingReplacement")}
    actions = cp.plan_cluster(
        automatic(g=dict(g)), [a], replace, NOW, is_cpu_only=always_cpu
    ).actions
    assert not any(isinstance(x, ca.Replace) for x in actions)
    reboot = {a.node_name: health(a, "UnschedulablePendingReboot")}
    assert (
        ca.Reboot(a.instance_id, True)
        in cp.plan_cluster(automatic(g=dict(g)), [a], reboot, NOW, is_cpu_only=always_cpu).actions
    )
    a.recovery = "Replace"
    assert (
        ca.Replace(a.instance_id)
        in cp.plan_cluster(
            automatic(g=dict(g)), [a], {a.node_name: node(a)}, NOW, is_cpu_only=always_cpu
        ).actions
    )


LIMITS = RemediationLimits(max_unhealthy_fraction=0.2, max_repairs=2, repair_window_seconds=600)


def test_automatic_recovery_pauses_above_the_unhealthy_fraction_and_resumes() -> None:
    c = automatic(g={"InstanceCount": 5, "_status": GroupStatus.IN_SERVICE})
    members = [inst(n) for n in range(1, 6)]
    nodes = {i.node_name: node(i) for i in members}
    for sick in members[:2]:  # 2 of 5 = 40% > 20%
        nodes[sick.node_name] = health(sick, "UnschedulablePendingReboot")
    plan = cp.plan_cluster(c, members, nodes, NOW, limits=LIMITS)
    (pause,) = [a for a in plan.actions if isinstance(a, ca.PauseRemediation)]
    assert "2 of 5 nodes" in pause.reason and set(pause.nodes) == {m.node_name for m in members[:2]}
    assert not any(isinstance(a, ca.Reboot) for a in plan.actions)

    c.groups["g"].remediation_paused = pause.reason  # recorded by the operator
    assert not any(
        isinstance(a, ca.PauseRemediation)
        for a in cp.plan_cluster(c, members, nodes, NOW, limits=LIMITS).actions
    )
    nodes[members[1].node_name] = node(members[1])  # 1 of 5 = 20%: within the limit again
    plan = cp.plan_cluster(c, members, nodes, NOW, limits=LIMITS)
    assert ca.PauseRemediation("g", "", (members[0].node_name,)) in plan.actions
    assert ca.Reboot(members[0].instance_id, True) in plan.actions


def test_joining_nodes_never_count_as_failures() -> None:
    c = automatic(g={"InstanceCount": 6, "_status": GroupStatus.IN_SERVICE})
    running = [inst(1), inst(2)]
    joining = [inst(n, status=InstanceStatus.PENDING, ready_at=NOW + 60) for n in range(3, 7)]
    nodes = {i.node_name: health(i, "UnschedulablePendingReboot") for i in running}
    # 2 of 2 running nodes unhealthy: a pause, whatever the 4 joining ones will be
    plan = cp.plan_cluster(c, running + joining, nodes, NOW, limits=LIMITS)
    assert any(isinstance(a, ca.PauseRemediation) for a in plan.actions)
    # one unhealthy node is always allowed a repair, so small groups still recover
    one = {
        running[0].node_name: nodes[running[0].node_name],
        running[1].node_name: node(running[1]),
    }
    plan = cp.plan_cluster(c, running + joining, one, NOW, limits=LIMITS)
    assert not any(isinstance(a, ca.PauseRemediation) for a in plan.actions)
    assert ca.Reboot(running[0].instance_id, True) in plan.actions


def test_repairs_in_the_window_are_capped() -> None:
    c = automatic(g={"InstanceCount": 10, "_status": GroupStatus.IN_SERVICE})
    members = [inst(n) for n in range(1, 11)]
    nodes = {i.node_name: node(i) for i in members}
    nodes[members[0].node_name] = health(members[0], "UnschedulablePendingReboot")
    c.groups["g"].repairs = [NOW - 30, NOW - 60]  # the cap is 2
    plan = cp.plan_cluster(c, members, nodes, NOW, limits=LIMITS)
    assert any(
        isinstance(a, ca.PauseRemediation) and "automatic repairs" in a.reason for a in plan.actions
    )
    assert not any(isinstance(a, ca.Reboot) for a in plan.actions)
    c.groups["g"].repairs = [NOW - 900, NOW - 960]  # outside the window
    assert (
        ca.Reboot(members[0].instance_id, True)
        in cp.plan_cluster(c, members, nodes, NOW, limits=LIMITS).actions
    )


def test_deep_checks_start_when_the_node_is_up_and_end_by_time_or_failure() -> None:
    c = cluster(ClusterStatus.IN_SERVICE, g={"InstanceCount": 1, "_status": GroupStatus.IN_SERVICE})
    a = inst(1)
    a.deep_check = DeepCheck.REQUESTED
    assert cp.plan_cluster(c, [a], {a.node_name: node(a)}, NOW).actions[0] == ca.StartDeepCheck(
        a.instance_id
    )
    a.status = InstanceStatus.DEEP_HEALTH_CHECK_IN_PROGRESS
    a.deep_check_until = NOW + 30
    plan = cp.plan_cluster(c, [a], {a.node_name: node(a)}, NOW)
    assert plan.requeue_after == 30 and not any(
        isinstance(x, ca.FinishDeepCheck) for x in plan.actions
    )
    assert (
        ca.FinishDeepCheck(a.instance_id, True)
        in cp.plan_cluster(c, [a], {a.node_name: node(a)}, NOW + 31).actions
    )
    failed = {a.node_name: health(a, "UnschedulablePendingReplacement")}
    assert ca.FinishDeepCheck(a.instance_id, False) in cp.plan_cluster(c, [a], failed, NOW).actions


def test_observe_reads_whether_the_kubelet_registered_the_node() -> None:
    """What kwok's ``node-initialize`` stage (a kubelet's registration) adds is what
    ``registered`` reads; a node as podwarden creates it has none of it."""
    created = {"metadata": {"name": "hyperpod-i-1", "labels": {}}, "spec": {}, "status": {}}
    kwok = {"kubeletVersion": "kwok-v0.7.0", "containerRuntimeVersion": "kwok-v0.7.0"}
    taken = {**created, "status": {"nodeInfo": kwok, "phase": "Running"}}
    assert not observe(created).registered and observe(taken).registered
    # Ready posted by someone else does not register a node
    ready = {**created, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert observe(ready).ready and not observe(ready).registered
