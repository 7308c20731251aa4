"""The progress of a simulated training run: a pure function of its parameters, where it
(re)started and the time (``policy/tables/training_simulation.yaml`` explains the model).

A *run* is one stretch during which all of a job's nodes are Running: it starts from the job's
last checkpoint at ``started_at``, pays ``restart_seconds``, then completes a step every
``step_seconds``; after every ``checkpoint_every``-th step (and after the last) it stalls
``checkpoint_seconds`` to write a checkpoint. Step ``k`` is done at

    T(k) = started_at + restart_seconds + (k - S) * step_seconds
           + checkpoint_seconds * #{checkpoint steps j : S < j < k}

and everything else follows from ``T``: the step done by ``now`` (the largest ``k`` with
``T(k) <= now``, found by bisection since ``T`` rises with ``k``), the checkpoint saved by then,
whether the run is complete, and the events (log lines) between two times. Nothing is
remembered between calls, so a restarted simulator that knows the run's start recomputes the
same events with the same times; the log already written says which of them are new.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

from podwarden.policy.training_simulation import TrainingParams


@dataclass(frozen=True)
class Run:
    """A (re)start of a job: from checkpoint ``step`` at ``started_at``; ``restart`` counts the
    starts before it (0: the first)."""

    started_at: float
    step: int
    restart: int


class Kind(IntEnum):
    """What a run event is; the order breaks ties between events at the same time."""

    START = 0
    RESUME = 1
    READY = 2
    STEP = 3
    CHECKPOINT_BEGIN = 4
    CHECKPOINT_SAVED = 5
    COMPLETE = 6

    @property
    def line(self) -> str:
        """The name of its log line in the table."""
        return self.name.lower()


@dataclass(frozen=True)
class Event:
    at: float
    kind: Kind
    step: int
    loss: float = 0.0
    seconds: float = 0.0


@dataclass(frozen=True)
class Progress:
    step: int  # steps done
    checkpoint: int  # the last checkpoint saved (the run's own start if none yet)
    checkpoint_at: float | None  # when it was saved; None: no checkpoint of this run yet
    done: bool  # the last step ran and its checkpoint is saved
    done_at: float  # when it is (or will be) done


def loss(params: TrainingParams, step: int) -> float:
    """The loss logged at ``step``: an exponential decay with a fixed per-step wobble."""
    curve = params.loss
    wobble = ((step * 2654435761) % 2**32) / 2**32 - 0.5  # Knuth's multiplicative hash
    decay = math.exp(-step / curve.decay_steps)
    return curve.final + (curve.initial - curve.final) * decay * (1 + curve.noise * wobble)


def is_checkpoint(params: TrainingParams, step: int) -> bool:
    return step == params.steps or step % params.checkpoint_every == 0


def step_done_at(params: TrainingParams, run: Run, k: int) -> float:
    """``T(k)``: when step ``k`` (``run.step < k <= params.steps``) is done."""
    passed = max(0, (k - 1) // params.checkpoint_every - run.step // params.checkpoint_every)
    return (
        run.started_at
        + params.restart_seconds
        + (k - run.step) * params.step_seconds
        + passed * params.checkpoint_seconds
    )


def saved_at(params: TrainingParams, run: Run, step: int) -> float:
    """When the checkpoint after ``step`` (a checkpoint step of this run) is saved."""
    return step_done_at(params, run, step) + params.checkpoint_seconds


def steps_done(params: TrainingParams, run: Run, now: float) -> int:
    """The largest ``k`` with ``T(k) <= now`` (``run.step`` when none)."""
    low, high = run.step, max(run.step, params.steps)
    while low < high:
        mid = (low + high + 1) // 2
        if step_done_at(params, run, mid) <= now:
            low = mid
        else:
            high = mid - 1
    return low


def _checkpoint_before(params: TrainingParams, step: int) -> int:
    """The checkpoint step at or before ``step`` (0 when none)."""
    return step if step == params.steps else step - step % params.checkpoint_every


def checkpoint_saved(params: TrainingParams, run: Run, now: float) -> tuple[int, float | None]:
    """The last checkpoint of this run saved by ``now``, and when; ``(run.step, None)`` when
    none is yet."""
    candidate = _checkpoint_before(params, steps_done(params, run, now))
    while candidate > run.step:
        at = saved_at(params, run, candidate)
        if at <= now:
            return candidate, at
        candidate = _checkpoint_before(params, candidate - 1)
    return run.step, None


def progress(params: TrainingParams, run: Run, now: float) -> Progress:
    if run.step >= params.steps:
        return Progress(run.step, run.step, None, True, run.started_at)
    step = steps_done(params, run, now)
    checkpoint, checkpoint_at = checkpoint_saved(params, run, now)
    done_at = saved_at(params, run, params.steps)
    return Progress(step, checkpoint, checkpoint_at, done_at <= now, done_at)


def events(params: TrainingParams, run: Run, after: float, until: float) -> list[Event]:
    """The run's events with ``after < at <= until``, in order."""
    if run.step >= params.steps or until <= after:
        return []
    last = params.steps
    found = [
        Event(run.started_at, Kind.RESUME if run.step else Kind.START, run.step),
        Event(run.started_at + params.restart_seconds, Kind.READY, run.step),
        Event(saved_at(params, run, last), Kind.COMPLETE, last, loss=loss(params, last)),
    ]
    for k in range(steps_done(params, run, after) + 1, steps_done(params, run, until) + 1):
        at = step_done_at(params, run, k)
        if k % params.log_every == 0 or k == last:
            found.append(Event(at, Kind.STEP, k, loss=loss(params, k)))
        if is_checkpoint(params, k):
            found.append(Event(at, Kind.CHECKPOINT_BEGIN, k))
    step, _ = checkpoint_saved(params, run, until)
    before, _ = checkpoint_saved(params, run, after)
    while step > before:
        seconds = params.checkpoint_seconds
        found.append(
            Event(saved_at(params, run, step), Kind.CHECKPOINT_SAVED, step, seconds=seconds)
        )
        step = _checkpoint_before(params, step - 1)
    return sorted((e for e in found if after < e.at <= until), key=lambda e: (e.at, e.kind))
