"""The accounting of a goodput run (logic/goodput_accounting.py): phases from observed
timestamps, the pipeline's own latency counted at its real length so the time scale does not
change the answer, the work a fault destroyed, and the resume-point correction."""

from __future__ import annotations

import pytest

from podwarden.logic.goodput_accounting import account
from podwarden.logic.goodput_breaks import (
    Clock,
    repair_seconds,
    trainer_params,
)
from podwarden.logic.training_progress import Run, checkpoint_saved, steps_done
from podwarden.model.goodput import (
    Action,
    Cause,
    ClusterShape,
    Durations,
    FailureProcess,
    Fault,
    FaultKind,
    FaultSeen,
    JobShape,
    Observed,
    Phase,
    RunStart,
    Scenario,
)

DAY = 86400.0
KINDS = {
    "node-down": FaultKind("node-down", Action.REBOOT, detect_seconds=60.0, signal="node_down"),
    "job-crash": FaultKind("job-crash", Action.RESTART, detect_seconds=600.0),
}
JOB = JobShape(
    step_seconds=10.0, checkpoint_every=60, checkpoint_seconds=30.0, restart_seconds=120.0
)


def scenario(scale: float, spares: int = 0) -> Scenario:
    return Scenario(
        name="t",
        description="",
        cluster=ClusterShape("ml.g5.xlarge", nodes=2, spares=spares),
        job=JOB,
        durations=Durations(600.0, 300.0, 7200.0, 14400.0),
        failures=FailureProcess(1e-4, (Cause("host", 1.0, "node-down"),)),
        kinds=KINDS,
        days=1.0,
        time_scale=scale,
        accelerators_per_node=1,
    )


def test_no_faults_counts_only_the_checkpoints_and_the_first_start() -> None:
    s = scenario(1000.0)
    t0 = 1_000_000.0
    observed = Observed(t0, t0 + DAY / 1000.0, (RunStart(t0, 0, 0, {"a": t0, "b": t0}),), ())
    report = account(s, observed)
    assert report.wall_seconds == pytest.approx(DAY)
    # one day: 120 s start, then (600 s of steps + 30 s checkpoint) per checkpoint
    p = trainer_params(JOB)
    steps = steps_done(p, Run(0.0, 0, 0), DAY)
    assert report.productive_seconds == pytest.approx(steps * 10.0)
    assert report.ettr == pytest.approx(steps * 10.0 / DAY)
    assert 0.94 < report.ettr < 0.96  # 600 / 630 minus the start
    assert report.failures == ()


def one_reboot(scale: float, spares: bool = False) -> tuple[Scenario, Observed]:
    """A node-down fault at simulated 5 h on a job node; the pipeline takes 10 ms to detect,
    20 ms to quarantine, 30 ms beyond the modeled reboot to return the node, 100 ms to restart
    the pods."""
    s = scenario(scale, spares=1 if spares else 0)
    t0 = 2_000_000.0
    at = 5 * 3600.0
    due = t0 + at / scale
    injected = due + 60.0 / scale
    detected, quarantined = injected + 0.01, injected + 0.03
    ready = quarantined + 300.0 / scale + 0.03
    if spares:
        restarted = quarantined + 0.1
        nodes = {"b": t0, "c": t0}
    else:
        restarted = ready + 0.1
        nodes = {"a": ready, "b": t0}
    p = trainer_params(JOB, scale)
    resume, _ = checkpoint_saved(p, Run(t0, 0, 0), due)
    runs = (RunStart(t0, 0, 0, {"a": t0, "b": t0}), RunStart(restarted, resume, 1, nodes))
    seen = FaultSeen(
        fault=Fault(at, 0, "node-down", "host"),
        node="a",
        due_at=due,
        injected_at=injected,
        job_node=True,
        detected_at=detected,
        quarantined_at=quarantined,
        repaired_at=ready,
    )
    # the runner stops when its clock reads a day: 0.16 s of pipeline count at their length
    return s, Observed(t0, t0 + (DAY + (scale - 1) * 0.16) / scale, runs, (seen,))


def test_a_reboot_splits_into_modeled_durations_plus_the_pipelines_real_latency() -> None:
    s, observed = one_reboot(1000.0)
    report = account(s, observed)
    (loss,) = report.failures
    assert loss.interrupted and loss.waited_for_repair and loss.action == Action.REBOOT
    assert loss.phases[Phase.DETECTION] == pytest.approx(60.0 + 0.01)
    assert loss.phases[Phase.QUARANTINE] == pytest.approx(0.02)
    assert loss.phases[Phase.REPAIR] == pytest.approx(300.0 + 0.03)
    assert loss.phases[Phase.RESTART] == pytest.approx(120.0 + 0.1)
    # the fault at 5 h: the last checkpoint was saved at 120 + k * 630 s; the rest was lost
    lost = 5 * 3600.0 - (120.0 + 28 * 630.0)
    assert loss.phases[Phase.RECOMPUTATION] == pytest.approx(lost, abs=1e-3)
    assert loss.overhead_real_seconds == pytest.approx(0.16)
    assert report.wall_seconds == pytest.approx(DAY)


@pytest.mark.parametrize("spares", [False, True])
def test_the_time_scale_does_not_change_the_answer(spares: bool) -> None:
    """The same pipeline latency at 1,000x and 20,000x: the same phases and ETTR (scaling
    the pipeline's 0.16 s would have cost 160 s at one and 53 minutes at the other)."""
    slow, fast = (account(*one_reboot(scale, spares)) for scale in (1000.0, 20000.0))
    assert fast.ettr == pytest.approx(slow.ettr, abs=2e-4)
    for phase in Phase:
        assert fast.failures[0].phases[phase] == pytest.approx(
            slow.failures[0].phases[phase], abs=1.0
        )


def test_a_spare_takes_over_so_the_job_does_not_wait_for_the_repair() -> None:
    s, observed = one_reboot(1000.0, spares=True)
    (loss,) = account(s, observed).failures
    assert not loss.waited_for_repair
    assert loss.phases[Phase.REPAIR] == 0.0
    assert loss.phases[Phase.RESTART] == pytest.approx(120.0 + 0.1 - 0.02 + 0.02, abs=1e-6)


def test_a_resume_point_off_by_the_simulators_polling_does_not_change_the_productive_work() -> None:
    s, observed = one_reboot(1000.0)
    right = account(s, observed)
    early = observed.runs[1]
    lost_one = RunStart(early.started_at, early.step - JOB.checkpoint_every, 1, early.node_ready)
    wrong = account(s, Observed(observed.started_at, observed.ended_at,
                                (observed.runs[0], lost_one), observed.faults))  # fmt: skip
    assert wrong.productive_seconds == pytest.approx(right.productive_seconds)


def test_a_fault_off_the_job_costs_nothing() -> None:
    s, observed = one_reboot(1000.0)
    off = FaultSeen(Fault(DAY / 2, 2, "node-down"), "c", observed.started_at + 40.0,
                    observed.started_at + 40.06, job_node=False)  # fmt: skip
    report = account(s, Observed(observed.started_at, observed.ended_at, observed.runs,
                                 (*observed.faults, off)))  # fmt: skip
    assert [f.interrupted for f in report.failures] == [True, False]
    assert report.failures[1].lost_seconds == 0.0


def test_the_clock_maps_real_time_to_simulated_time_less_the_pipeline() -> None:
    s, observed = one_reboot(1000.0)
    clock = Clock(s, observed)
    end = observed.ended_at
    assert clock.simulated(end) == pytest.approx(DAY)
    assert clock.real(DAY) == pytest.approx(end)
    assert clock.simulated(observed.started_at + 1.0) == pytest.approx(1000.0)


def test_repair_durations_follow_the_policy() -> None:
    s = scenario(1000.0)
    assert repair_seconds(s, Action.REBOOT) == 300.0
    assert repair_seconds(s, Action.REPLACE) == 600.0
    assert repair_seconds(s, Action.RESTART) == 0.0


def test_a_fault_just_before_the_end_breaks_the_job_though_not_yet_seen() -> None:
    """A job node's fault injected moments before the run ends, before the agent's verdict:
    the job is down from the fault (as the reference model counts it), and the work since its
    last checkpoint is lost."""
    s, observed = one_reboot(1000.0)
    first = observed.faults[0]
    end = observed.ended_at
    late = FaultSeen(Fault(DAY - 30.0, 1, "node-down"), "b", end - 0.03, end - 0.03 + 0.06 / 1000,
                     job_node=True)  # fmt: skip
    report = account(s, Observed(observed.started_at, end, observed.runs, (first, late)))
    assert [f.interrupted for f in report.failures] == [True, True]
    assert report.failures[1].phases[Phase.RECOMPUTATION] > 0
    before = account(s, observed)
    lost = report.failures[1].phases[Phase.RECOMPUTATION]
    # the work since the checkpoint is lost, and so are the 30 s after the fault
    assert report.productive_seconds == pytest.approx(before.productive_seconds - lost, abs=40)
    assert report.productive_seconds < before.productive_seconds - lost + 1
