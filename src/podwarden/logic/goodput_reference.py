"""A pure discrete-event model of a goodput run: the yardstick the real run is checked against
(issue #12). It replays a fault schedule against the same policies the real pipeline applies
and says what ETTR they yield, with each failure's loss split into phases.

The model, in simulated seconds from the start of the job's first run (t = 0):

- The job runs on ``nodes`` nodes; at first nodes ``0..nodes-1``, the rest are spares. Within a
  run its progress is ``logic/training_progress`` (each run pays ``restart_seconds``, resumes
  from the last checkpoint saved, stalls ``checkpoint_seconds`` after every
  ``checkpoint_every``-th step), the same functions the simulated trainer uses.
- A fault of action None does nothing. A node fault (Reboot, Replace) takes its node down from
  the fault until ``detect_seconds`` later plus the repair: the reboot, or the launch of a
  replacement (a new node at the same index) plus the deep checks when they are on; with
  NodeRecovery None the repair starts only after ``manual_response_seconds``. A fault on a node
  that is already down changes nothing. A Restart fault (the job's own) takes no node down.
- A fault on one of the job's nodes while it runs breaks the run at once. After the fault's
  detection the job restarts on ``nodes`` healthy nodes: its own that are healthy, then the
  healthy others by index (a spare takes over), or, with too few, as soon as enough are back.
  A fault while the job is down changes nothing by itself, only which nodes are healthy.
- A failure's phases: detection (fault to verdict), quarantine (0: the pure model has no
  pipeline latency; the real run measures it), repair (verdict to enough healthy nodes),
  restart (the next run's ``restart_seconds``, or as much of it as ran before the next fault)
  and recomputation (the broken run's time since its last checkpoint was saved: the steps done
  again, a partial step and any checkpoint write cut short). Phases are cut at the run's end.

So ``wall = productive + checkpoints + the first run's restart + lost`` up to the step or
checkpoint in progress at the end. Not modelled: HyperPod's safety limits on repairs (the real
run notes when they paused one), deep checks that fail (a replacement always passes them) and
podwarden's own latency (quarantine is 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from podwarden.logic.goodput_breaks import repair_seconds, trainer_params
from podwarden.logic.goodput_failures import run_seconds
from podwarden.logic.training_progress import Run, checkpoint_saved, steps_done
from podwarden.model.goodput import (
    Action,
    FailureLoss,
    Fault,
    FaultKind,
    Phase,
    Scenario,
)
from podwarden.policy.training_simulation import TrainingParams

NEVER_DONE = 10**15  # steps: a run the job never completes within any scenario


@dataclass(frozen=True)
class Reference:
    ettr: float
    wall_seconds: float
    productive_seconds: float
    checkpoint_seconds: float
    failures: tuple[FailureLoss, ...]


@dataclass
class _Loss:
    fault: Fault
    action: Action
    phases: dict[Phase, float] = field(default_factory=lambda: dict.fromkeys(Phase, 0.0))
    interrupted: bool = False


@dataclass
class _Job:
    """The job and its nodes while the model runs."""

    s: Scenario
    params: TrainingParams
    up_at: list[float]  # per node: healthy from then on (all faults so far are earlier)
    nodes: tuple[int, ...]
    run: Run | None = None  # None: the job is down
    ready_at: float = 0.0  # while down: when the fault that broke it has been detected
    resume_step: int = 0  # while down: the checkpoint it resumes from
    broken_by: _Loss | None = None  # the failure whose repair or restart is under way
    checkpoints: int = 0
    losses: list[_Loss] = field(default_factory=list)

    def restart_at(self) -> float:
        """When the job (down) can restart: detection over and enough nodes healthy."""
        return max(self.ready_at, sorted(self.up_at)[self.s.cluster.nodes - 1])

    def resume_until(self, now: float) -> None:
        """Restart the job if it is down and can restart by ``now``."""
        if self.run is not None or (start := self.restart_at()) > now:
            return
        healthy = [i for i, up in enumerate(self.up_at) if up <= start]
        kept = [i for i in self.nodes if i in healthy]
        others = [i for i in healthy if i not in self.nodes]
        self.nodes = tuple(sorted((kept + others)[: self.s.cluster.nodes]))
        if self.broken_by is not None:
            self.broken_by.phases[Phase.REPAIR] = start - self.ready_at
        restarts = sum(1 for loss in self.losses if loss.interrupted)
        self.run = Run(started_at=start, step=self.resume_step, restart=restarts)

    def close_run(self, end: float) -> int:
        """End the run at ``end``: count its checkpoints, settle the restart it paid; the
        checkpoint it leaves."""
        run = self.run
        assert run is not None
        restored, _ = checkpoint_saved(self.params, run, end)
        every = self.params.checkpoint_every
        self.checkpoints += restored // every - run.step // every
        if self.broken_by is not None:
            paid = min(self.params.restart_seconds, end - run.started_at)
            self.broken_by.phases[Phase.RESTART] = paid
            self.broken_by = None
        self.run = None
        return restored

    def apply(self, fault: Fault) -> None:
        kind = self.s.kinds[fault.fault]
        loss = _Loss(fault, kind.action)
        self.losses.append(loss)
        if kind.action == Action.NONE:
            return
        if kind.action != Action.RESTART:
            if self.up_at[fault.node] > fault.at:
                return  # already down
            self.up_at[fault.node] = (
                fault.at + kind.detect_seconds + repair_seconds(self.s, kind.action)
            )
        if self.run is not None and fault.node in self.nodes:
            self.break_run(loss, kind)

    def break_run(self, loss: _Loss, kind: FaultKind) -> None:
        run, at = self.run, loss.fault.at
        assert run is not None
        _, saved = checkpoint_saved(self.params, run, at)
        since = saved if saved is not None else run.started_at + self.params.restart_seconds
        self.resume_step = self.close_run(at)
        loss.interrupted = True
        loss.phases[Phase.DETECTION] = kind.detect_seconds
        loss.phases[Phase.RECOMPUTATION] = max(0.0, at - since)
        self.ready_at = at + kind.detect_seconds
        self.broken_by = loss

    def finish(self, wall: float) -> int:
        """Close the run at the wall (or cut the pending failure's phases there); the steps
        that count."""
        if self.run is not None:
            steps = steps_done(self.params, self.run, wall)
            self.close_run(wall)
            return steps
        if (loss := self.broken_by) is not None:
            at = loss.fault.at
            loss.phases[Phase.DETECTION] = min(loss.phases[Phase.DETECTION], wall - at)
            loss.phases[Phase.REPAIR] = max(0.0, wall - self.ready_at)
        return self.resume_step


def simulate(s: Scenario, faults: Iterable[Fault], names: Sequence[str] = ()) -> Reference:
    """The reference run of ``s`` under ``faults``; ``names`` name the nodes by index in the
    failures (``node-<i>`` by default)."""
    total = s.cluster.nodes + s.cluster.spares
    params = trainer_params(s.job)
    job = _Job(s, params, up_at=[0.0] * total, nodes=tuple(range(s.cluster.nodes)))
    job.run = Run(started_at=0.0, step=0, restart=0)
    wall = run_seconds(s)
    for fault in sorted(faults, key=lambda f: f.at):
        if fault.at >= wall:
            break
        job.resume_until(fault.at)
        job.apply(fault)
    job.resume_until(wall)
    steps = job.finish(wall)
    productive = steps * s.job.step_seconds
    return Reference(
        ettr=productive / wall,
        wall_seconds=wall,
        productive_seconds=productive,
        checkpoint_seconds=job.checkpoints * s.job.checkpoint_seconds,
        failures=tuple(_loss(loss, names) for loss in job.losses),
    )


def _loss(loss: _Loss, names: Sequence[str]) -> FailureLoss:
    fault = loss.fault
    return FailureLoss(
        at=fault.at,
        node=names[fault.node] if fault.node < len(names) else f"node-{fault.node}",
        fault=fault.fault,
        cause=fault.cause,
        action=loss.action,
        interrupted=loss.interrupted,
        phases=dict(loss.phases),
        waited_for_repair=loss.phases[Phase.REPAIR] > 0,
    )
