"""The progress model of a simulated training run (logic/training_progress.py): the timeline of
a run, the checkpoint it has saved and the events between two times."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from podwarden.logic.training_progress import (
    Kind,
    Run,
    checkpoint_saved,
    events,
    loss,
    progress,
    step_done_at,
    steps_done,
)
from podwarden.policy.training_simulation import TrainingParams, load_simulation

# 12 steps of 1 s, a checkpoint after steps 5, 10 and 12 costing 0.5 s, 2 s to (re)start
PARAMS = replace(
    load_simulation().defaults,
    steps=12,
    step_seconds=1.0,
    checkpoint_every=5,
    checkpoint_seconds=0.5,
    restart_seconds=2.0,
    log_every=2,
)
FRESH = Run(started_at=100.0, step=0, restart=0)


def test_timeline_of_a_fresh_run() -> None:
    """T(k) = start + restart + k * step + 0.5 s per checkpoint passed before step k."""
    assert step_done_at(PARAMS, FRESH, 1) == 103.0
    assert step_done_at(PARAMS, FRESH, 5) == 107.0
    assert step_done_at(PARAMS, FRESH, 6) == 108.5  # after the checkpoint of step 5
    assert step_done_at(PARAMS, FRESH, 11) == 114.0  # two checkpoints passed
    assert step_done_at(PARAMS, FRESH, 12) == 115.0


def test_events_of_a_whole_run() -> None:
    found = [(e.at, e.kind, e.step) for e in events(PARAMS, FRESH, 0.0, 1000.0)]
    assert found == [
        (100.0, Kind.START, 0),
        (102.0, Kind.READY, 0),
        (104.0, Kind.STEP, 2),
        (106.0, Kind.STEP, 4),
        (107.0, Kind.CHECKPOINT_BEGIN, 5),
        (107.5, Kind.CHECKPOINT_SAVED, 5),
        (108.5, Kind.STEP, 6),
        (110.5, Kind.STEP, 8),
        (112.5, Kind.STEP, 10),
        (112.5, Kind.CHECKPOINT_BEGIN, 10),
        (113.0, Kind.CHECKPOINT_SAVED, 10),
        (115.0, Kind.STEP, 12),  # the last step is always logged
        (115.0, Kind.CHECKPOINT_BEGIN, 12),  # and checkpointed
        (115.5, Kind.CHECKPOINT_SAVED, 12),
        (115.5, Kind.COMPLETE, 12),
    ]


@pytest.mark.parametrize(
    ("now", "step", "checkpoint", "done"),
    [
        (99.0, 0, 0, False),  # before the start
        (101.9, 0, 0, False),  # still restarting
        (106.99, 4, 0, False),
        (107.2, 5, 0, False),  # step 5 done, its checkpoint being written
        (107.5, 5, 5, False),  # saved
        (114.9, 11, 10, False),
        (115.2, 12, 10, False),  # the final checkpoint is being written
        (115.5, 12, 12, True),
        (500.0, 12, 12, True),
    ],
)
def test_progress_at(now: float, step: int, checkpoint: int, done: bool) -> None:
    p = progress(PARAMS, FRESH, now)
    assert (p.step, p.checkpoint, p.done) == (step, checkpoint, done)
    assert p.done_at == 115.5


def test_a_resumed_run_starts_from_its_checkpoint_and_pays_the_restart_again() -> None:
    run = Run(started_at=200.0, step=5, restart=1)
    found = [(e.at, e.kind, e.step) for e in events(PARAMS, run, 0.0, 205.0)]
    assert found[:4] == [
        (200.0, Kind.RESUME, 5),
        (202.0, Kind.READY, 5),
        (203.0, Kind.STEP, 6),  # step 6 is the first step after the checkpoint
        (205.0, Kind.STEP, 8),
    ]
    assert progress(PARAMS, run, 205.0).checkpoint == 5  # nothing new saved yet
    assert checkpoint_saved(PARAMS, run, 207.5) == (10, 207.5)


def test_windows_split_the_events_exactly() -> None:
    """Consecutive windows together hold each event once: what a simulator that ticks writes
    equals what one that catches up after a restart writes."""
    whole = events(PARAMS, FRESH, 50.0, 200.0)
    cuts = [50.0, 100.0, 103.3, 107.0, 107.5, 112.5, 115.5, 200.0]
    pieces = [e for a, b in itertools.pairwise(cuts) for e in events(PARAMS, FRESH, a, b)]
    assert pieces == whole


def test_steps_done_inverts_the_timeline() -> None:
    for k in range(1, PARAMS.steps + 1):
        at = step_done_at(PARAMS, FRESH, k)
        assert steps_done(PARAMS, FRESH, at) == k
        assert steps_done(PARAMS, FRESH, at - 1e-6) == k - 1


def test_a_run_from_the_last_step_is_done_at_once() -> None:
    run = Run(started_at=10.0, step=12, restart=3)
    assert progress(PARAMS, run, 10.0).done
    assert events(PARAMS, run, 0.0, 100.0) == []


def test_checkpoint_interval_not_dividing_the_steps() -> None:
    params = replace(PARAMS, steps=7, checkpoint_every=3, log_every=100)
    saved = [e.step for e in events(params, FRESH, 0, 1000) if e.kind == Kind.CHECKPOINT_SAVED]
    assert saved == [3, 6, 7]
    logged = [e.step for e in events(params, FRESH, 0, 1000) if e.kind == Kind.STEP]
    assert logged == [7]


def test_loss_falls_and_is_the_same_for_the_same_step() -> None:
    params: TrainingParams = load_simulation().defaults
    assert loss(params, 40) == loss(params, 40)
    assert loss(params, 0) > loss(params, 300) > loss(params, 1000) > params.loss.final * 0.9
