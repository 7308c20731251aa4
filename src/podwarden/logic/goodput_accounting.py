"""From what a goodput run observed to its report: ETTR and where each failure's time went.

The run is real: podwarden's agent, reconciler, job auto-resume, the Kubeflow operator, the
scheduler and kwok handle every fault. The *modeled* durations (detection on HyperPod, launch,
reboot, deep checks, an operator's response, the trainer's steps, checkpoints and restarts)
were divided by the time scale ``S`` before the components got them; podwarden's *own* latency
(the agent's verdict, the quarantine, the restart of the pods, the scheduler) is what it is,
a fraction of a second, and is not a model of anything slower. Scaling that by ``S`` too would
make the answer depend on ``S`` (0.3 s of pipeline at S = 5000 would read as 25 minutes), so
each phase counts its modeled part at simulated speed and the pipeline's part at its real
length:

    simulated = S * real - (S - 1) * overhead,     overhead = the pipeline's real seconds

per phase, and for the whole run with ``overhead`` summed over the failures. The runner keeps
its own clock the same way (``Clock``), so faults land at their scheduled simulated times and the
run ends after the scenario's simulated length.

The trainer's progress is a pure function of its (scaled) parameters and its runs' starts
(``logic.training_progress``), so the work a failure destroyed is computed at the moment the
fault happened; the checkpoint the simulated trainer actually resumed from can differ from that
by its polling (it credits a run only up to the last pass that saw it whole), and any such
difference is a pure shift of the step counter, taken back out of the productive work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from podwarden.logic.goodput_breaks import (
    Clock,
    Split,
    Transition,
    first,
    overhead_seconds,
    split,
    to_simulated,
    trainer_params,
    transitions,
)
from podwarden.logic.training_progress import Run, checkpoint_saved, steps_done
from podwarden.model.goodput import (
    Action,
    FailureLoss,
    FaultSeen,
    GoodputReport,
    NodeSpan,
    Observed,
    Phase,
    Recovery,
    RunStart,
    Scenario,
)
from podwarden.policy.training_simulation import TrainingParams

SERIES_POINTS = 300
_REPAIR_STATE = {Action.REBOOT: "rebooting", Action.REPLACE: "replacing"}


@dataclass(frozen=True)
class _Lost:
    """What a break destroyed: the checkpoint the job should resume from, the work lost
    (real seconds of the broken run since its last checkpoint or its warm-up)."""

    checkpoint: int
    work_real: float


def _lost(p: TrainingParams, before: RunStart, at: float) -> _Lost:
    run = Run(before.started_at, before.step, before.restart)
    checkpoint, saved = checkpoint_saved(p, run, at)
    useful_from = saved if saved is not None else before.started_at + p.restart_seconds
    return _Lost(checkpoint, max(0.0, at - useful_from))


def account(s: Scenario, observed: Observed) -> GoodputReport:
    """The report of a run (reference and closed-form ETTR are the caller's to add)."""
    scale = s.time_scale
    p = trainer_params(s.job, scale)
    ts = transitions(observed)
    losses: list[FailureLoss] = []
    overhead_total, excess = overhead_seconds(s, observed), 0
    breaks: dict[int, tuple[Transition, Split, _Lost]] = {}
    for t in ts:
        sp = split(s, t, observed)
        lost = _lost(p, t.before, t.fault.due_at)
        if t.after is not None:
            excess += t.after.step - lost.checkpoint
        breaks[id(t.fault)] = (t, sp, lost)
    for f in sorted(observed.faults, key=lambda f: f.due_at):
        losses.append(_loss(s, f, breaks.get(id(f))))
    wall = to_simulated(observed.ended_at - observed.started_at, overhead_total, scale)
    final = _final_step(p, observed, ts)
    productive = (final - excess) * s.job.step_seconds
    return GoodputReport(
        scenario=s.name,
        time_scale=scale,
        real_seconds=observed.ended_at - observed.started_at,
        wall_seconds=wall,
        productive_seconds=productive,
        checkpoint_seconds=_checkpoints(p, observed, ts) * s.job.checkpoint_seconds,
        failures=tuple(losses),
        ettr_series=_series(s, p, observed, ts),
        node_spans=_spans(s, observed, ts),
        notes=observed.notes,
    )


def _loss(s: Scenario, f: FaultSeen, found: tuple[Transition, Split, _Lost] | None) -> FailureLoss:
    kind = s.kinds[f.fault.fault]
    if found is None:
        return FailureLoss(f.fault.at, f.node, f.fault.fault, f.fault.cause, kind.action, False)
    t, sp, lost = found
    phases = {
        ph: to_simulated(sp.real[ph], sp.overhead[ph], s.time_scale)
        for ph in (Phase.DETECTION, Phase.QUARANTINE, Phase.REPAIR, Phase.RESTART)
    }
    if t.after is not None:  # the new run's warm-up (a break still going on has none yet)
        phases[Phase.RESTART] += s.job.restart_seconds
    phases[Phase.RECOMPUTATION] = lost.work_real * s.time_scale
    return FailureLoss(
        at=f.fault.at,
        node=f.node,
        fault=f.fault.fault,
        cause=f.fault.cause,
        action=kind.action,
        interrupted=True,
        phases=phases,
        waited_for_repair=sp.waited,
        overhead_real_seconds=sum(sp.overhead.values()),
    )


def _final_step(p: TrainingParams, observed: Observed, ts: Sequence[Transition]) -> int:
    """The job's step counter at the end: where the last run got to, or, if the job is down
    at the end, the checkpoint it will resume from."""
    if ts and ts[-1].after is None:
        return _lost(p, ts[-1].before, ts[-1].fault.due_at).checkpoint
    last = max(observed.runs, key=lambda r: r.started_at)
    return steps_done(p, Run(last.started_at, last.step, last.restart), observed.ended_at)


def _checkpoints(p: TrainingParams, observed: Observed, ts: Sequence[Transition]) -> int:
    """Checkpoints written (saved before their run ended)."""
    ends = {id(t.before): t.fault.due_at for t in ts}
    count = 0
    for r in observed.runs:
        run = Run(r.started_at, r.step, r.restart)
        end = ends.get(id(r), observed.ended_at)
        last, _ = checkpoint_saved(p, run, end)
        count += len(range(r.step - r.step % p.checkpoint_every + p.checkpoint_every, last + 1,
                           p.checkpoint_every))  # fmt: skip
    return count


def _series(
    s: Scenario, p: TrainingParams, observed: Observed, ts: Sequence[Transition]
) -> tuple[tuple[float, float], ...]:
    clock = Clock(s, observed)
    runs = sorted(observed.runs, key=lambda r: r.started_at)
    broken = {id(t.before): t for t in ts}
    points = []
    span = observed.ended_at - observed.started_at
    for i in range(1, SERIES_POINTS + 1):
        now = observed.started_at + span * i / SERIES_POINTS
        current = [r for r in runs if r.started_at <= now]
        if not current:
            continue
        r = current[-1]
        run = Run(r.started_at, r.step, r.restart)
        t = broken.get(id(r))
        if t is not None and t.fault.due_at <= now:
            step = _lost(p, r, t.fault.due_at).checkpoint
        else:
            step = steps_done(p, run, now)
        shift = sum(
            (b.after.step - _lost(p, b.before, b.fault.due_at).checkpoint)
            for b in ts
            if b.after is not None and b.after.started_at <= now
        )
        sim = clock.simulated(now)
        if sim > 0:
            points.append((sim, (step - shift) * s.job.step_seconds / sim))
    return tuple(points)


def _spans(s: Scenario, observed: Observed, ts: Sequence[Transition]) -> tuple[NodeSpan, ...]:
    clock = Clock(s, observed)
    spans: list[NodeSpan] = []
    for f in observed.faults:
        action = s.kinds[f.fault.fault].action
        if action in (Action.NONE, Action.RESTART):
            continue
        quarantined = first(f.quarantined_at, f.detected_at, f.injected_at)
        end = f.repaired_at if f.repaired_at is not None else observed.ended_at
        repair = "manual" if s.cluster.recovery == Recovery.NONE else _REPAIR_STATE[action]
        start = f.fault.at
        mid = max(start, clock.simulated(quarantined))
        spans.append(NodeSpan(f.node, start, mid, "faulted"))
        spans.append(NodeSpan(f.node, mid, max(mid, clock.simulated(end)), repair))
    return tuple(spans)
