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

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from podwarden.logic.training_progress import Run, checkpoint_saved, steps_done
from podwarden.model.goodput import (
    Action,
    FailureLoss,
    FaultSeen,
    GoodputReport,
    JobShape,
    NodeSpan,
    Observed,
    Phase,
    Recovery,
    RunStart,
    Scenario,
)
from podwarden.policy.training_simulation import TrainingParams, load_simulation

NEVER = 10**12  # steps: a goodput run's job never completes
SERIES_POINTS = 300


def trainer_params(job: JobShape, scale: float = 1.0, *, log_every: int = NEVER) -> TrainingParams:
    """The simulated trainer's parameters for ``job`` at ``scale`` simulated seconds per real
    second (1.0: in simulated seconds)."""
    return dataclasses.replace(
        load_simulation().defaults,
        steps=NEVER,
        step_seconds=job.step_seconds / scale,
        checkpoint_every=job.checkpoint_every,
        checkpoint_seconds=job.checkpoint_seconds / scale,
        restart_seconds=job.restart_seconds / scale,
        log_every=log_every,
    )


def repair_seconds(s: Scenario, action: Action) -> float:
    """The modeled wait for a node after its quarantine (simulated seconds)."""
    d = s.durations
    if action == Action.REBOOT:
        base = d.reboot_seconds
    elif action == Action.REPLACE:
        base = d.launch_seconds + (d.deep_check_seconds if s.cluster.deep_checks else 0.0)
    else:
        return 0.0
    return base + (d.manual_response_seconds if s.cluster.recovery == Recovery.NONE else 0.0)


@dataclass(frozen=True)
class Transition:
    """A break of the job and the run that followed it (None: still down at the end)."""

    fault: FaultSeen
    before: RunStart
    after: RunStart | None


def transitions(observed: Observed) -> list[Transition]:
    """Each run after the first, with the fault that broke the run before it: the first fault
    on one of that run's nodes after it started."""
    found: list[Transition] = []
    runs = sorted(observed.runs, key=lambda r: r.started_at)
    faults = sorted((f for f in observed.faults if f.job_node), key=lambda f: f.due_at)
    for i, before in enumerate(runs):
        end = runs[i + 1].started_at if i + 1 < len(runs) else observed.ended_at
        breaking = next((f for f in faults if before.started_at <= f.due_at < end), None)
        if breaking is not None:
            found.append(Transition(breaking, before, runs[i + 1] if i + 1 < len(runs) else None))
    return found


@dataclass(frozen=True)
class Split:
    """A break's phases: real seconds of each, the pipeline's share of each (``overhead``:
    the real seconds in which nothing modeled was going on that the job waited for), and the
    real intervals of that share (for the clock)."""

    real: dict[Phase, float]
    overhead: dict[Phase, float]
    waited: bool
    intervals: tuple[tuple[float, float], ...]


def split(s: Scenario, t: Transition, observed: Observed) -> Split:
    """The phases of break ``t``, from its fault to the next run's start (or to the end of the
    observation, for a break still going on). While the job is down, the simulated clock runs
    at the scaled pace whenever something modeled that the job waits for is going on (the
    fault's detection on HyperPod, the reboot or replacement of a node the job then runs on)
    and at the real pace otherwise: that real time is podwarden's own pipeline."""
    f, scale = t.fault, s.time_scale
    kind = s.kinds[f.fault.fault]
    restarted = t.after.started_at if t.after else observed.ended_at
    detected = min(restarted, _first(f.detected_at, f.quarantined_at, restarted))
    quarantined = min(restarted, max(detected, _first(f.quarantined_at, detected)))
    repairs = _awaited_repairs(s, t, observed, restarted)
    waited = bool(repairs)
    repaired = max(quarantined, max((end for _, end in repairs), default=quarantined))
    repaired = min(repaired, restarted)
    modeled = [(f.due_at, f.due_at + kind.detect_seconds / scale)]
    modeled += [(q, q + repair_seconds(s, a) / scale) for q, a in _repair_starts(s, repairs)]
    stall = _subtract([(f.due_at, restarted)], modeled)
    bounds = {
        Phase.DETECTION: (f.due_at, detected),
        Phase.QUARANTINE: (detected, quarantined),
        Phase.REPAIR: (quarantined, repaired),
        Phase.RESTART: (repaired, restarted),
    }
    real = {ph: max(0.0, b - a) for ph, (a, b) in bounds.items()}
    overhead = {ph: covered(_clip(stall, a, b), b) for ph, (a, b) in bounds.items()}
    return Split(real, overhead, waited, tuple(stall))


def _awaited_repairs(
    s: Scenario, t: Transition, observed: Observed, restarted: float
) -> list[tuple[FaultSeen, float]]:
    """The repairs the job waited for in break ``t``, with when each ended: those of the nodes
    the next run started on that became schedulable during the break (for a break still going
    on: every node fault quarantined in it, unless a spare was free)."""
    found: list[tuple[FaultSeen, float]] = []
    ready = set(t.after.node_ready.values()) if t.after else set()
    for f in observed.faults:
        action = s.kinds[f.fault.fault].action
        if action not in (Action.REBOOT, Action.REPLACE) or f.quarantined_at is None:
            continue
        if t.after is not None:
            repaired = f.repaired_at
            if repaired is not None and repaired in ready and t.fault.due_at < repaired:
                found.append((f, repaired))
        elif not t.fault.spare_free and t.fault.due_at <= f.due_at <= restarted:
            end = f.quarantined_at + repair_seconds(s, action) / s.time_scale
            found.append((f, f.repaired_at if f.repaired_at is not None else min(end, restarted)))
    return found


def _repair_starts(
    s: Scenario, repairs: list[tuple[FaultSeen, float]]
) -> list[tuple[float, Action]]:
    return [(_first(f.quarantined_at, f.due_at), s.kinds[f.fault.fault].action) for f, _ in repairs]


def _first(*values: float | None) -> float:
    return next(v for v in values if v is not None)


def _subtract(
    base: Sequence[tuple[float, float]], minus: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The parts of the intervals ``base`` outside every interval of ``minus``."""
    out = [iv for iv in base if iv[1] > iv[0]]
    for ma, mb in minus:
        nxt: list[tuple[float, float]] = []
        for a, b in out:
            if mb <= a or ma >= b:
                nxt.append((a, b))
                continue
            if ma > a:
                nxt.append((a, ma))
            if mb < b:
                nxt.append((mb, b))
        out = nxt
    return out


def _clip(
    intervals: Sequence[tuple[float, float]], a: float, b: float
) -> list[tuple[float, float]]:
    return [(max(x, a), min(y, b)) for x, y in intervals if min(y, b) > max(x, a)]


def pipeline_intervals(s: Scenario, observed: Observed) -> list[tuple[float, float]]:
    """The real intervals in which the job was down waiting for podwarden's pipeline only."""
    found: list[tuple[float, float]] = []
    for t in transitions(observed):
        found.extend(split(s, t, observed).intervals)
    return found


def covered(intervals: Sequence[tuple[float, float]], until: float) -> float:
    """The length of the union of ``intervals`` up to ``until``."""
    total, reach = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        a, b = max(start, reach), min(stop, until)
        if b > a:
            total += b - a
            reach = b
    return total


def overhead_seconds(s: Scenario, observed: Observed) -> float:
    """The pipeline's real seconds in the run so far (counted once where they overlap)."""
    return covered(pipeline_intervals(s, observed), observed.ended_at)


def _simulated(real: float, overhead: float, scale: float) -> float:
    return real * scale - (scale - 1.0) * overhead


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
    wall = _simulated(observed.ended_at - observed.started_at, overhead_total, scale)
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
    _, sp, lost = found
    phases = {
        ph: _simulated(sp.real[ph], sp.overhead[ph], s.time_scale)
        for ph in (Phase.DETECTION, Phase.QUARANTINE, Phase.REPAIR, Phase.RESTART)
    }
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


class Clock:
    """Simulated seconds since the run's start from real time: real seconds times the scale,
    less the pipeline's own seconds by then (counted at their real length), including those of
    breaks still going on at ``observed.ended_at``: the pipeline's latency stalls the simulated
    clock rather than racing it. The runner schedules faults and the end by it."""

    def __init__(self, s: Scenario, observed: Observed) -> None:
        self._scale = s.time_scale
        self._start = observed.started_at
        self._end = observed.ended_at
        self._intervals = pipeline_intervals(s, observed)

    def overhead_by(self, real: float) -> float:
        return covered(self._intervals, min(real, self._end))

    def simulated(self, real: float) -> float:
        return _simulated(real - self._start, self.overhead_by(real), self._scale)

    def real(self, simulated: float) -> float:
        """The real time at which the simulated clock reads ``simulated``, assuming the
        pipeline adds nothing more in between."""
        overhead = self.overhead_by(self._end)
        return self._start + (simulated + (self._scale - 1.0) * overhead) / self._scale


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
        quarantined = _first(f.quarantined_at, f.detected_at, f.injected_at)
        end = f.repaired_at if f.repaired_at is not None else observed.ended_at
        repair = "manual" if s.cluster.recovery == Recovery.NONE else action.value.lower()
        start = f.fault.at
        mid = max(start, clock.simulated(quarantined))
        spans.append(NodeSpan(f.node, start, mid, "faulted"))
        spans.append(NodeSpan(f.node, mid, max(mid, clock.simulated(end)), repair))
    return tuple(spans)
