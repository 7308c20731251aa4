"""Deep health checks decided: the rules of a request (logic.deep_check_rules), and a run's
nodes checked together, duration and results (logic.deep_checks), with the packaged table."""

from __future__ import annotations

from typing import Any

from podwarden.logic import cluster_actions as ca
from podwarden.logic import cluster_plan as cp
from podwarden.logic import deep_checks as dc
from podwarden.logic.deep_check_rules import on_start_problems, select
from podwarden.logic.deep_checks import FAILED, LEFT, NOT_RUN, PASSED, CheckResult, RunView
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
from podwarden.model.labels import FAULT_REASONS, HEALTH, PENDING_REPLACEMENT
from podwarden.policy.catalog import load_catalog
from podwarden.policy.deep_checks import load_deep_checks

TABLE = load_deep_checks()
LOOKUP = load_catalog().types.get
STRESS, CONNECT, MNTV = "InstanceStress", "InstanceConnectivity", "MultiNodeTrainingValidation"
ALL = (STRESS, CONNECT, MNTV)
BASE = 100.0  # seconds of InstanceStress; InstanceConnectivity 25, MNTV 50
T0 = 1000.0


def iid(n: int) -> str:
    return f"i-{n:017x}"


def inst(n: int, group: str = "g", **fields: Any) -> Instance:
    return Instance(
        instance_id=iid(n),
        cluster_id="abcdefghijkl",
        group=group,
        logical_id=f"{group}-{n}",
        instance_type="ml.p5.48xlarge",
        status=fields.pop("status", InstanceStatus.RUNNING),
        launch_time=0.0,
        ready_at=0.0,
        **fields,
    )


def run(now_fault: str = "", **fields: Any) -> RunView:
    defaults: dict[str, Any] = {
        "checks": ALL,
        "node": "hyperpod-a",
        "started": T0,
        "until": T0 + 175.0,
        "base": BASE,
        "batch": 2,
        "fault": now_fault,
    }
    return RunView(**{**defaults, **fields})


def statuses(results: list[CheckResult]) -> list[tuple[str, str]]:
    return [(r.check, r.status) for r in results]


# --- a run's results --------------------------------------------------------------------------


def test_a_run_without_faults_passes_every_check() -> None:
    results = dc.verdict(run(), T0 + 175.0, TABLE)
    assert statuses(results) == [(STRESS, PASSED), (CONNECT, PASSED), (MNTV, PASSED)]
    assert dc.passed(results) and dc.summary(results) == (
        "Deep health checks passed: InstanceStress, InstanceConnectivity, "
        "MultiNodeTrainingValidation"
    )


def test_a_fault_fails_the_running_check_and_the_multi_node_one_blamed_on_the_node() -> None:
    # 60 s in: InstanceStress (0-100 s) is running
    results = dc.verdict(run("DeepHealthCheckFailed"), T0 + 60.0, TABLE)
    assert statuses(results) == [(STRESS, FAILED), (CONNECT, NOT_RUN), (MNTV, FAILED)]
    assert all(r.node == "hyperpod-a" for r in results if r.status == FAILED)
    assert dc.blamed(results, "hyperpod-a") and not dc.passed(results)
    shared = dc.shared_failure(results, "hyperpod-a", TABLE)
    assert shared is not None and shared.check == MNTV  # only the multi-node failure is shared
    assert "hyperpod-a reported DeepHealthCheckFailed during the checks" in shared.reason
    # 110 s in: InstanceStress done, InstanceConnectivity (100-125 s) is running
    later = dc.verdict(run("NodeDown"), T0 + 110.0, TABLE)
    assert statuses(later) == [(STRESS, PASSED), (CONNECT, FAILED), (MNTV, FAILED)]


def test_a_node_check_failure_is_not_shared() -> None:
    results = dc.verdict(run("X", checks=(STRESS,), until=T0 + 100.0), T0 + 10.0, TABLE)
    assert statuses(results) == [(STRESS, FAILED)]
    assert dc.shared_failure(results, "hyperpod-a", TABLE) is None


def test_a_fault_after_the_last_node_check_fails_it_when_no_multi_node_check_runs() -> None:
    results = dc.verdict(run("X", checks=(STRESS,), until=T0 + 100.0), T0 + 100.0, TABLE)
    assert statuses(results) == [(STRESS, FAILED)]


def test_a_failure_shared_by_a_peer_fails_the_validation_and_stops_what_was_left() -> None:
    shared = CheckResult(
        MNTV, FAILED, "hyperpod-b reported NodeDown during the checks", "hyperpod-b"
    )
    results = dc.verdict(run(recorded=(shared,)), T0 + 110.0, TABLE)
    assert statuses(results) == [(STRESS, PASSED), (CONNECT, NOT_RUN), (MNTV, FAILED)]
    assert results[2] == shared and results[1].reason == f"stopped: {MNTV} failed"
    assert not dc.blamed(results, "hyperpod-a") and not dc.passed(results)
    assert dc.summary(results) == (
        "Deep health checks failed: MultiNodeTrainingValidation (hyperpod-b reported NodeDown "
        "during the checks); passed: InstanceStress; not run: InstanceConnectivity (stopped: "
        "MultiNodeTrainingValidation failed)"
    )


def test_a_fault_of_a_peer_seen_at_the_end_fails_the_validation_blamed_on_the_peer() -> None:
    view = run(peer_faults={"hyperpod-c": LEFT, "hyperpod-b": "NodeDown"})
    results = dc.verdict(view, T0 + 175.0, TABLE)
    assert statuses(results) == [(STRESS, PASSED), (CONNECT, PASSED), (MNTV, FAILED)]
    assert results[2].node == "hyperpod-b"
    assert results[2].reason == "hyperpod-b reported NodeDown during the checks"
    left = dc.verdict(run(peer_faults={"hyperpod-c": LEFT}), T0 + 175.0, TABLE)
    assert left[2].reason == f"hyperpod-c {LEFT}"


def test_the_validation_does_not_run_with_fewer_nodes_than_it_needs() -> None:
    results = dc.verdict(run(batch=1), T0 + 175.0, TABLE)
    assert statuses(results) == [(STRESS, PASSED), (CONNECT, PASSED), (MNTV, NOT_RUN)]
    assert dc.passed(results)
    assert "needs at least 2 nodes checked together, 1 started" in results[2].reason


def test_run_seconds_and_messages() -> None:
    assert dc.run_seconds(TABLE, [MNTV, STRESS], BASE) == 150.0
    assert dc.run_seconds(TABLE, [STRESS], BASE) == BASE  # unchanged from one duration
    assert dc.in_progress_message([STRESS, MNTV], ["i-1", "i-2"], TABLE) == (
        "Deep health checks in progress: InstanceStress, MultiNodeTrainingValidation "
        "(across 2 nodes checked together)"
    )
    assert dc.in_progress_message([STRESS], [], TABLE) == (
        "Deep health checks in progress: InstanceStress"
    )


# --- nodes checked together ---------------------------------------------------------------------


def test_on_start_peers_are_the_group_instances_starting_their_checks_with_it() -> None:
    me = inst(1, deep_check=DeepCheck.REQUESTED)
    waiting = inst(2, deep_check=DeepCheck.REQUESTED)
    running_with_me = inst(3, deep_check=DeepCheck.IN_PROGRESS, deep_check_peers=[me.instance_id])
    running_without = inst(4, deep_check=DeepCheck.IN_PROGRESS, deep_check_peers=["i-other"])
    on_demand = inst(5, deep_check=DeepCheck.REQUESTED, deep_checks=[STRESS])
    elsewhere = inst(6, group="h", deep_check=DeepCheck.REQUESTED)
    done = inst(7, deep_check=DeepCheck.PASSED)
    members = [me, waiting, running_with_me, running_without, on_demand, elsewhere, done]
    assert dc.on_start_peers(me, members) == sorted(
        [me.instance_id, waiting.instance_id, running_with_me.instance_id]
    )


def test_running_with_is_mutual() -> None:
    a = inst(1, deep_check_peers=[iid(1), iid(2)])
    b = inst(2, deep_check=DeepCheck.IN_PROGRESS, deep_check_peers=[a.instance_id, iid(2)])
    c = inst(3, deep_check=DeepCheck.IN_PROGRESS, deep_check_peers=[a.instance_id])  # a lacks c
    d = inst(2, deep_check=DeepCheck.PASSED, deep_check_peers=b.deep_check_peers)
    assert dc.running_with(a, [a, b, c]) == [b]
    assert dc.running_with(a, [a, d]) == []


def test_peer_faults_come_from_labels_and_from_nodes_that_left() -> None:
    me, b, c, d = inst(1), inst(2), inst(3, status=InstanceStatus.SHUTTING_DOWN), inst(4)
    peers = [me.instance_id, b.instance_id, c.instance_id, d.instance_id, iid(5)]
    records = {i.instance_id: i for i in (me, b, c, d)}
    labels = {
        me.node_name: {HEALTH: PENDING_REPLACEMENT},  # its own: not a peer's fault
        b.node_name: {HEALTH: PENDING_REPLACEMENT, FAULT_REASONS: "DeepHealthCheckFailed"},
        d.node_name: {HEALTH: "Unschedulable"},  # under checks: no fault
    }
    assert dc.peer_faults(me.instance_id, peers, records, labels) == {
        b.node_name: "DeepHealthCheckFailed",
        c.node_name: LEFT,
        "hyperpod-" + iid(5): LEFT,
    }
    assert dc.node_fault({HEALTH: "UnschedulablePendingReboot"}) == "UnschedulablePendingReboot"


# --- the planner ends a run a peer failed --------------------------------------------------------


def test_the_planner_ends_a_run_whose_multi_node_check_a_peer_failed() -> None:
    c = Cluster(
        cluster_id="abcdefghijkl",
        name="c",
        arn="arn:aws:sagemaker:us-west-2:000000000000:cluster/abcdefghijkl",
        region="us-west-2",
        account="000000000000",
        status=ClusterStatus.IN_SERVICE,
        created=0.0,
        spec={},
        groups={
            "g": InstanceGroup(
                spec={
                    "InstanceGroupName": "g",
                    "InstanceType": "ml.p5.48xlarge",
                    "InstanceCount": 1,
                },
                status=GroupStatus.IN_SERVICE,
            )
        },
    )
    a = inst(1, deep_check=DeepCheck.IN_PROGRESS, deep_check_until=T0 + 100.0)
    a.status = InstanceStatus.DEEP_HEALTH_CHECK_IN_PROGRESS
    node = ObservedNode(a.node_name, True, {HEALTH: "Unschedulable"}, ())
    plan = cp.plan_cluster(c, [a], {a.node_name: node}, T0)
    assert not any(isinstance(x, ca.FinishDeepCheck) for x in plan.actions)
    a.deep_check_results = [CheckResult(MNTV, FAILED, "b failed", "hyperpod-b").to_doc()]
    plan = cp.plan_cluster(c, [a], {a.node_name: node}, T0)
    assert ca.FinishDeepCheck(a.instance_id, False) in plan.actions


# --- what a request must meet ---------------------------------------------------------------------


def group(name: str, itype: str, count: int, checks: list[str]) -> dict[str, Any]:
    return {
        "InstanceGroupName": name,
        "InstanceType": itype,
        "InstanceCount": count,
        "OnStartDeepHealthChecks": checks,
    }


def test_on_start_multi_node_validation_needs_efa_accelerators_and_two_instances() -> None:
    groups = [
        group("ok", "ml.p5.48xlarge", 2, [STRESS, MNTV]),
        group("trn", "ml.trn1.32xlarge", 4, [MNTV]),
        group("empty", "ml.p5.48xlarge", 0, [MNTV]),
        group("noefa", "ml.g5.xlarge", 2, [MNTV]),
        group("cpu", "ml.c5.large", 2, [STRESS, CONNECT, MNTV]),
        group("one", "ml.g5.8xlarge", 1, [MNTV]),
        group("unknown", "ml.x9.large", 1, [STRESS]),
    ]
    assert on_start_problems(groups, LOOKUP, TABLE) == [
        "Instance group noefa: MultiNodeTrainingValidation is not supported on instance type "
        "ml.g5.xlarge; it runs on GPU or Trainium instance types with EFA.",
        "Instance group cpu: MultiNodeTrainingValidation is not supported on instance type "
        "ml.c5.large; it runs on GPU or Trainium instance types with EFA.",
        "Instance group one: MultiNodeTrainingValidation in OnStartDeepHealthChecks runs across "
        "at least 2 instances checked together; the InstanceCount is 1.",
    ]


def test_a_request_merges_configurations_and_checks_each_group_together() -> None:
    a, b, c = inst(1), inst(2), inst(3)
    other = inst(4, group="h")
    configs = [
        {"InstanceGroupName": "g", "InstanceIds": [a.instance_id], "DeepHealthChecks": [MNTV]},
        {"InstanceGroupName": "g", "InstanceIds": [b.instance_id], "DeepHealthChecks": [MNTV]},
        {
            "InstanceGroupName": "g",
            "InstanceIds": [b.instance_id, c.instance_id],
            "DeepHealthChecks": [STRESS],
        },
    ]
    types = {"g": "ml.p5.48xlarge", "h": "ml.p5.48xlarge"}
    chosen = select(configs, "c", types, [a, b, c, other], lookup=LOOKUP, table=TABLE)
    assert chosen.problems == []
    assert chosen.checks == {
        a.instance_id: [MNTV],
        b.instance_id: [STRESS, MNTV],
        c.instance_id: [STRESS],
    }
    pair = sorted([a.instance_id, b.instance_id])
    assert chosen.peers == {a.instance_id: pair, b.instance_id: pair}


def test_a_request_for_one_node_or_the_wrong_type_is_refused_with_every_problem() -> None:
    a, b = inst(1), inst(2)
    one = [{"InstanceGroupName": "g", "InstanceIds": [a.instance_id], "DeepHealthChecks": [MNTV]}]
    chosen = select(one, "c", {"g": "ml.g5.xlarge"}, [a, b], lookup=LOOKUP, table=TABLE)
    assert chosen.problems == [
        "Instance group g: MultiNodeTrainingValidation is not supported on instance type "
        "ml.g5.xlarge; it runs on GPU or Trainium instance types with EFA.",
        f"Instance group g: MultiNodeTrainingValidation runs across at least 2 instances "
        f"checked together; the request selects 1 ({a.instance_id}).",
    ]
    wrong = [
        {"InstanceGroupName": "nope", "DeepHealthChecks": [STRESS]},
        {
            "InstanceGroupName": "g",
            "InstanceIds": ["i-0123456789abcdef0"],
            "DeepHealthChecks": [STRESS],
        },
    ]
    chosen = select(wrong, "c", {"g": "ml.g5.xlarge"}, [a, b], lookup=LOOKUP, table=TABLE)
    assert chosen.problems == [
        "Instance group nope does not exist in cluster c.",
        "Instance i-0123456789abcdef0 is not in instance group g.",
    ]
    whole = [{"InstanceGroupName": "g", "DeepHealthChecks": [MNTV]}]
    chosen = select(whole, "c", {"g": "ml.p5.48xlarge"}, [a, b], lookup=LOOKUP, table=TABLE)
    assert chosen.problems == [] and set(chosen.peers) == {a.instance_id, b.instance_id}
