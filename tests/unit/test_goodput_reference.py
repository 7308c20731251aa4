"""The pure reference model of a goodput run (logic/goodput_reference.py): the job's progress
between faults, each failure's phases, spares, NodeRecovery None, deep checks and the
accounting identity."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from podwarden.logic.goodput_failures import schedule
from podwarden.logic.goodput_reference import Reference, simulate
from podwarden.model.goodput import (
    Action,
    ClusterShape,
    Durations,
    FailureProcess,
    Fault,
    FaultKind,
    JobShape,
    Phase,
    Recovery,
    Scenario,
)
from podwarden.policy.goodput import load_scenario, scenario_names, with_overrides

KINDS = {
    "node-down": FaultKind("node-down", Action.REBOOT, 60.0, signal="node_down"),
    "xid-79": FaultKind("xid-79", Action.REPLACE, 10.0, xid=79),
    "job-crash": FaultKind("job-crash", Action.RESTART, 600.0),
    "xid-13": FaultKind("xid-13", Action.NONE, 10.0, xid=13),
}
# 2 nodes; a step is 10 s, a checkpoint after every 6th costs 30 s (a 90 s cycle), a (re)start
# 120 s; a reboot 300 s, a replacement 600 s (+ 7200 s of deep checks), an operator 14400 s.
BASE = Scenario(
    name="hand",
    description="",
    cluster=ClusterShape("ml.g5.xlarge", nodes=2, spares=0),
    job=JobShape(
        step_seconds=10.0, checkpoint_every=6, checkpoint_seconds=30.0, restart_seconds=120.0
    ),
    durations=Durations(
        launch_seconds=600.0,
        reboot_seconds=300.0,
        deep_check_seconds=7200.0,
        manual_response_seconds=14400.0,
    ),
    failures=FailureProcess(rate_per_accelerator_hour=0.0, mix=()),
    kinds=KINDS,
    days=1.0,
    time_scale=1000.0,
    accelerators_per_node=1,
)
WALL = 86400.0


def run(faults: list[Fault], **cluster: Any) -> Reference:
    s = replace(BASE, cluster=replace(BASE.cluster, **cluster)) if cluster else BASE
    return simulate(s, faults)


def phases(ref: Reference, index: int = 0) -> dict[Phase, float]:
    return ref.failures[index].phases


def test_no_faults_is_the_checkpoint_overhead() -> None:
    """Ready at 120 s, then 958 cycles of 6 steps + a checkpoint (86,220 s) and 6 more steps by
    the end: 5,754 steps; the checkpoint after the last one starts at the wall."""
    ref = run([])
    assert ref.wall_seconds == WALL
    assert ref.productive_seconds == 5754 * 10.0
    assert ref.checkpoint_seconds == 958 * 30.0
    assert ref.ettr == pytest.approx(57540 / 86400)
    # the overhead formula: (wall - restart) * tau / (tau + delta), within one cycle
    assert ref.ettr == pytest.approx((WALL - 120) / WALL * 60 / 90, abs=90 / WALL)
    assert ref.failures == ()


def test_one_reboot_by_hand() -> None:
    """Node 0 goes down at 1,000 s: 60 steps done (step 60 at 990 s), its checkpoint being
    written (990-1,020 s), the last one saved is step 54's at 930 s. Detected at 1,060 s, node
    back at 1,360 s, the job resumes from step 54 then and is ready at 1,480 s."""
    ref = run([Fault(1000.0, 0, "node-down", "host")])
    (loss,) = ref.failures
    assert loss.interrupted and loss.waited_for_repair
    assert (loss.node, loss.fault, loss.cause, loss.action) == (
        "node-0",
        "node-down",
        "host",
        Action.REBOOT,
    )
    assert loss.phases == {
        Phase.DETECTION: 60.0,
        Phase.QUARANTINE: 0.0,
        Phase.REPAIR: 300.0,
        Phase.RESTART: 120.0,
        Phase.RECOMPUTATION: 70.0,  # steps 55-60 and 10 s of the checkpoint cut short
    }
    # from 1,480 s: 943 cycles to step 5,712 at 86,350 s, then 5 steps
    assert ref.productive_seconds == 5717 * 10.0
    assert ref.checkpoint_seconds == (9 + 943) * 30.0
    # everything adds up: work + checkpoints + the first start + the loss
    assert ref.productive_seconds + ref.checkpoint_seconds + 120.0 + loss.lost_seconds == WALL


def test_a_spare_takes_over_without_waiting_for_the_repair() -> None:
    ref = run([Fault(1000.0, 0, "node-down")], spares=1)
    assert phases(ref)[Phase.REPAIR] == 0.0
    assert not ref.failures[0].waited_for_repair
    assert ref.failures[0].lost_seconds == 60.0 + 120.0 + 70.0
    assert ref.productive_seconds > run([Fault(1000.0, 0, "node-down")]).productive_seconds


def test_recovery_none_waits_for_the_operator() -> None:
    ref = run([Fault(1000.0, 0, "node-down")], recovery=Recovery.NONE)
    assert phases(ref)[Phase.REPAIR] == 14400.0 + 300.0


@pytest.mark.parametrize(
    ("fault", "deep_checks", "repair"),
    [
        ("xid-79", False, 600.0),
        ("xid-79", True, 600.0 + 7200.0),
        ("node-down", True, 300.0),  # a reboot keeps its node: no deep checks
    ],
)
def test_deep_checks_add_to_replacements_only(fault: str, deep_checks: bool, repair: float) -> None:
    ref = run([Fault(1000.0, 1, fault)], deep_checks=deep_checks)
    assert phases(ref)[Phase.REPAIR] == repair


def test_a_job_fault_restarts_on_the_same_nodes_after_detection() -> None:
    ref = run([Fault(1000.0, 1, "job-crash")])
    assert phases(ref)[Phase.DETECTION] == 600.0
    assert phases(ref)[Phase.REPAIR] == 0.0
    assert phases(ref)[Phase.RESTART] == 120.0
    # no node went down: a node fault right after the restart still interrupts
    later = run([Fault(1000.0, 1, "job-crash"), Fault(1800.0, 1, "node-down")])
    assert later.failures[1].interrupted


@pytest.mark.parametrize(
    "fault",
    [
        Fault(1000.0, 2, "node-down"),  # on the spare
        Fault(1000.0, 0, "xid-13"),  # action None
    ],
)
def test_faults_that_miss_the_job_cost_nothing(fault: Fault) -> None:
    ref = run([fault], spares=1)
    (loss,) = ref.failures
    assert not loss.interrupted and loss.lost_seconds == 0.0
    assert ref.productive_seconds == run([], spares=1).productive_seconds


def test_a_fault_on_a_node_already_down_changes_nothing() -> None:
    once = run([Fault(1000.0, 0, "node-down")])
    twice = run([Fault(1000.0, 0, "node-down"), Fault(1100.0, 0, "xid-79")])
    assert not twice.failures[1].interrupted
    assert twice.productive_seconds == once.productive_seconds


def test_a_fault_while_the_job_waits_delays_it_through_the_nodes() -> None:
    """Node 1 fails at 1,200 s while the job waits for node 0 (back at 1,360 s): node 1 is
    back at 1,560 s, so the first failure's repair is 1,560 - 1,060 s; the second costs
    nothing itself."""
    ref = run([Fault(1000.0, 0, "node-down"), Fault(1200.0, 1, "node-down")])
    assert phases(ref, 0)[Phase.REPAIR] == 500.0
    assert not ref.failures[1].interrupted


def test_a_fault_during_the_restart_cuts_the_restart_short() -> None:
    """With a spare the job restarts at 1,060 s on nodes 1 and 2; node 1 fails at 1,100 s,
    before the run is ready (1,180 s): 40 s of restart were paid, nothing was recomputed."""
    ref = run([Fault(1000.0, 0, "node-down"), Fault(1100.0, 1, "node-down")], spares=1)
    assert phases(ref, 0)[Phase.RESTART] == 40.0
    assert ref.failures[1].interrupted
    assert phases(ref, 1)[Phase.RECOMPUTATION] == 0.0
    # detected at 1,160 s; node 0 is back at 1,360 s and takes over from node 1 (1,460 s)
    assert phases(ref, 1)[Phase.REPAIR] == 200.0


def test_phases_are_cut_at_the_end_of_the_run() -> None:
    ref = run([Fault(WALL - 100.0, 0, "node-down")])
    assert phases(ref)[Phase.DETECTION] == 60.0
    assert phases(ref)[Phase.REPAIR] == 40.0
    assert phases(ref)[Phase.RESTART] == 0.0


@pytest.mark.parametrize("name", scenario_names())
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_second_is_accounted_for(name: str, seed: int) -> None:
    """wall = productive + checkpoints + the first start + the failures' losses, up to the step
    or checkpoint in progress at the end."""
    s = with_overrides(load_scenario(name), [f"failures.seed={seed}"])
    ref = simulate(s, schedule(s))
    interrupted = [f for f in ref.failures if f.interrupted]
    assert interrupted
    first_start = min(s.job.restart_seconds, interrupted[0].at)
    lost = sum(f.lost_seconds for f in ref.failures)
    rest = ref.wall_seconds - (ref.productive_seconds + ref.checkpoint_seconds + first_start + lost)
    assert -1e-6 <= rest < s.job.step_seconds + s.job.checkpoint_seconds
