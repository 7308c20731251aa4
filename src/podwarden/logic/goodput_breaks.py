"""Where a goodput run's time went while its job was down: the breaks (a fault, the run it
broke and the run that followed), their phases, and the simulated clock.

podwarden's pipeline (the agent's verdict, the quarantine, the reboot path, the restart of the
pods, the scheduler) runs at its real speed while the modeled durations run at ``1/S`` of
theirs. While the job is down, the simulated clock runs at the scaled pace whenever something
modeled that the job waits for is going on (its fault's detection on HyperPod, the reboot or
replacement of a node it then runs on) and at the real pace otherwise; that real time is the
pipeline's *overhead*, and each phase's simulated length is ``S * real - (S - 1) * overhead``.
``logic.goodput_accounting`` builds the report on this; the runner schedules by ``Clock``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from podwarden.model.goodput import (
    Action,
    FaultSeen,
    JobShape,
    Observed,
    Phase,
    Recovery,
    RunStart,
    Scenario,
)
from podwarden.policy.training_simulation import TrainingParams, load_simulation

NEVER = 10**12  # steps: a goodput run's job never completes


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
    # a job node's fault breaks the job when it happens, seen by the pipeline or not yet (one
    # just before the end); every node-fault kind is one the agent acts on (policy/goodput.py
    # checks each against the fault policy at load)
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
    detected = min(restarted, first(f.detected_at, f.quarantined_at, restarted))
    quarantined = min(restarted, max(detected, first(f.quarantined_at, detected)))
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
    return [(first(f.quarantined_at, f.due_at), s.kinds[f.fault.fault].action) for f, _ in repairs]


def first(*values: float | None) -> float:
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


def to_simulated(real: float, overhead: float, scale: float) -> float:
    return real * scale - (scale - 1.0) * overhead


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
        return to_simulated(real - self._start, self.overhead_by(real), self._scale)

    def real(self, simulated: float) -> float:
        """The real time at which the simulated clock reads ``simulated``, assuming the
        pipeline adds nothing more in between."""
        overhead = self.overhead_by(self._end)
        return self._start + (simulated + (self._scale - 1.0) * overhead) / self._scale
