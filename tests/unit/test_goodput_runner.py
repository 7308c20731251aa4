"""The goodput runner's own rule that its waits end: a break that outlasts everything modeled in
it by ``STALLED_S`` real seconds ends the run with what it was waiting for."""

from __future__ import annotations

from typing import Any

import pytest

from podwarden.goodput.runner import STALLED_S, _Schedule
from podwarden.goodput.watch import Tracked
from podwarden.model.goodput import Action, Fault, RunStart
from tests.unit.test_goodput_accounting import scenario


class FakeWatch:
    def __init__(self, runs: list[RunStart], tracked: list[Tracked]) -> None:
        self.runs, self.tracked = runs, tracked

    def job_nodes(self) -> set[str]:
        return {"b"}


def schedule(watch: FakeWatch) -> _Schedule:
    fake: Any = watch
    return _Schedule(scenario(1000.0), fake, ["a", "b"], fake, fake, fake)


def test_a_break_that_outlasts_its_model_ends_the_run_with_why() -> None:
    fault = Tracked(Fault(3600.0, 0, "node-down"), "a", Action.REBOOT, 100.0, 100.06, True,
                    frozenset({"a", "b"}))  # fmt: skip
    watch = FakeWatch([RunStart(0.0, 0, 0)], [fault])
    modeled = (600.0 + 120.0 + 600.0) / 1000.0  # the longest repair, restart and detection
    schedule(watch)._check_not_stalled(100.0 + modeled + STALLED_S - 1.0, 3600.0)  # not yet
    with pytest.raises(TimeoutError, match="node-down on a; the job's pods run on 1 of 2"):
        schedule(watch)._check_not_stalled(100.0 + modeled + STALLED_S + 1.0, 3600.0)


def test_a_job_that_restarted_is_not_stalled() -> None:
    fault = Tracked(Fault(3600.0, 0, "node-down"), "a", Action.REBOOT, 100.0, 100.06, True,
                    frozenset({"a", "b"}))  # fmt: skip
    watch = FakeWatch([RunStart(0.0, 0, 0), RunStart(101.0, 0, 1)], [fault])
    schedule(watch)._check_not_stalled(100.0 + 10 * STALLED_S, 3600.0)
