"""Simulated EC2 capacity and Continuous provisioning's retries, the pure part
(``logic.capacity``, ``policy.capacity``): what a group may launch, what it records, when it
tries again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podwarden.logic import cluster_actions as ca
from podwarden.logic.capacity import (
    INSUFFICIENT_CAPACITY,
    CapacityPool,
    Provisioning,
    launch_step,
)
from podwarden.model.cluster import GroupStatus, InstanceGroup
from podwarden.policy.capacity import (
    RetryBackoff,
    SimulatedCapacity,
    default_retry,
    load_capacity,
    parse_assignment,
    parse_capacity,
)
from podwarden.policy.yaml_tables import TableError

P5 = "ml.p5.48xlarge"
NOW = 1000.0
BACKOFF = RetryBackoff(initial_seconds=5, multiplier=2, max_seconds=30)


def pool(limit: int | None, used: int = 0) -> CapacityPool:
    return CapacityPool({} if limit is None else {P5: limit}, lambda: {P5: used})


def group(count: int, status: str = GroupStatus.CREATING, **record: Any) -> InstanceGroup:
    spec = {"InstanceGroupName": "gpu", "InstanceType": P5, "InstanceCount": count}
    return InstanceGroup(spec=spec, status=status, **record)


def step(
    g: InstanceGroup, current: int, limit: int | None, *, continuous: bool = True, used: int = 0
) -> Any:
    return launch_step(
        g,
        current,
        g.target_count - current,
        NOW,
        Provisioning(pool(limit, used), BACKOFF),
        continuous=continuous,
    )


def notices(s: Any) -> list[tuple[str, str]]:
    return [(a.level, a.text) for a in s.actions if isinstance(a, ca.CapacityNotice)]


def retries(s: Any) -> list[ca.CapacityRetry]:
    return [a for a in s.actions if isinstance(a, ca.CapacityRetry)]


def test_pool_grants_within_the_limit_less_what_is_held_and_counts_its_grants() -> None:
    p = pool(10, used=7)
    assert p.grant(P5, 2) == 2
    assert p.grant(P5, 5) == 1  # 7 held + 2 granted: one left
    assert p.grant(P5, 1) == 0
    assert p.grant("ml.c5.large", 1000) == 1000  # not limited
    assert pool(3, used=5).grant(P5, 1) == 0  # over the limit already (the limit was lowered)


def test_pool_reads_what_clusters_hold_only_for_a_limited_type() -> None:
    reads: list[int] = []

    def in_use() -> dict[str, int]:
        reads.append(1)
        return {}

    p = CapacityPool({P5: 4}, in_use)
    p.grant("ml.c5.large", 3)
    assert reads == []
    p.grant(P5, 1)
    p.grant(P5, 1)
    assert reads == [1]  # once per pool, i.e. per pass


def test_backoff_is_exponential_capped_and_scaled() -> None:
    prov = Provisioning(retry=BACKOFF)
    assert [prov.delay(n) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 30, 30]
    assert Provisioning(retry=BACKOFF, time_scale=0.1).delay(2) == pytest.approx(1.0)


def test_enough_capacity_launches_everything_and_records_nothing() -> None:
    s = step(group(4), 0, None)
    assert (s.launch, s.short, s.actions, s.requeue, s.waiting) == (4, 0, (), None, False)
    assert step(group(4), 1, 3).launch == 3


def test_continuous_launches_what_it_gets_and_records_the_shortfall() -> None:
    s = step(group(4), 0, 3)
    assert (s.launch, s.short, s.requeue) == (3, 1, 5)
    assert retries(s) == [ca.CapacityRetry("gpu", 1, 1, NOW + 5)]
    ((level, text),) = notices(s)
    assert level == "Warn"
    assert f"Insufficient capacity for {P5}" in text and "launched 3 of the 4" in text
    assert "retrying the other 1 in 5 s (attempt 1)" in text
    (notice,) = [a for a in s.actions if isinstance(a, ca.CapacityNotice)]
    assert notice.scaling == {
        "InstanceCount": 0,
        "TargetCount": 4,
        "MinCount": 0,
        "FailureMessage": INSUFFICIENT_CAPACITY,
    }
    assert not s.waiting  # three instances are launching


def test_nothing_granted_waits_and_counts_as_done() -> None:
    s = step(group(2), 0, 0)
    assert (s.launch, s.short, s.waiting) == (0, 2, True)
    # MinInstanceCount: the group becomes InService only with that many
    g = group(2)
    g.spec["MinInstanceCount"] = 1
    assert not step(g, 0, 0).waiting
    assert step(g, 1, 0).waiting
    assert step(group(2, GroupStatus.IN_SERVICE), 0, 0).waiting  # only the first time


def test_before_the_next_attempt_a_pass_does_nothing_and_asks_for_that_time() -> None:
    g = group(4, capacity_shortfall=2, capacity_attempts=1, capacity_retry_at=NOW + 4)
    s = step(g, 2, 100)  # capacity came meanwhile: it is found at the attempt, not before
    assert (s.launch, s.short, s.actions, s.requeue, s.waiting) == (0, 2, (), 4, True)


def test_a_falling_target_shrinks_the_shortfall_and_a_met_one_forgets_it() -> None:
    g = group(3, capacity_shortfall=2, capacity_attempts=1, capacity_retry_at=NOW + 4)
    assert retries(step(g, 2, 0)) == [ca.CapacityRetry("gpu", 1, 1, NOW + 4)]
    g = group(2, capacity_shortfall=2, capacity_attempts=3, capacity_retry_at=NOW + 4)
    met = step(g, 2, 0)
    assert (met.launch, met.actions) == (0, (ca.CapacityRetry("gpu"),))


def test_a_growing_target_is_tried_at_once() -> None:
    g = group(5, capacity_shortfall=1, capacity_attempts=1, capacity_retry_at=NOW + 4)
    s = step(g, 3, 0)  # 2 wanted now, 1 on record: new demand
    assert retries(s) == [ca.CapacityRetry("gpu", 2, 2, NOW + 10)]
    assert "(attempt 2)" in notices(s)[0][1]


def test_each_refused_attempt_warns_once_and_backs_off() -> None:
    g = group(2, capacity_shortfall=2, capacity_attempts=2, capacity_retry_at=NOW)
    s = step(g, 0, 0)
    assert [lvl for lvl, _ in notices(s)] == ["Warn"]
    assert retries(s) == [ca.CapacityRetry("gpu", 2, 3, NOW + 20)] and s.requeue == 20


def test_capacity_that_arrives_is_announced_and_the_record_forgotten() -> None:
    g = group(4, capacity_shortfall=2, capacity_attempts=3, capacity_retry_at=NOW)
    s = step(g, 2, 4, used=2)
    assert s.launch == 2 and retries(s) == [ca.CapacityRetry("gpu")]
    ((level, text),) = notices(s)
    assert level == "Info" and "launching 2 instance(s)" in text and "3 refused" in text
    # part of it: Info for what came, Warn for the rest, the next attempt backs off further
    part = step(g, 2, 3, used=2)
    assert part.launch == 1 and [lvl for lvl, _ in notices(part)] == ["Info", "Warn"]
    assert retries(part) == [ca.CapacityRetry("gpu", 1, 4, NOW + 30)]


def test_without_continuous_mode_a_shortfall_fails_the_cluster_and_launches_nothing() -> None:
    s = step(group(4), 0, 3, continuous=False)
    assert (s.launch, s.actions) == (0, (ca.CapacityFailed(INSUFFICIENT_CAPACITY),))
    assert step(group(4), 0, 4, continuous=False).launch == 4


def test_packaged_table_is_unlimited_with_a_capped_backoff() -> None:
    capacity = load_capacity()
    assert capacity.available == {}
    assert capacity.retry == default_retry()
    r = capacity.retry
    assert 0 < r.initial_seconds <= r.max_seconds and r.multiplier >= 1


def test_a_capacity_file_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "capacity.yaml"
    path.write_text(f"available:\n  {P5}: 4\n")
    assert load_capacity(path).available == {P5: 4}
    assert load_capacity(path).retry == default_retry()
    known = {P5}.__contains__

    def problem(name: str) -> str | None:
        return None if known(name) else f"{name} is unknown"

    cases = {
        "available: {ml.nope: 1}": "available.ml.nope: ml.nope is unknown",
        f"available: {{{P5}: -1}}": "must be a non-negative integer",
        f"available: {{{P5}: true}}": "must be a non-negative integer",
        "available: [1]": "available must map",
        "limits: {}": "expected a mapping",
        "retry: {initial_seconds: 1}": "expected exactly the keys",
        "retry: {initial_seconds: 10, multiplier: 2, max_seconds: 5}": "max_seconds",
        "retry: {initial_seconds: 1, multiplier: 0.5, max_seconds: 5}": "multiplier",
    }
    for text, message in cases.items():
        with pytest.raises(TableError, match=message):
            parse_capacity(text, "file.yaml", problem)


def test_assignments_and_changes_at_run_time() -> None:
    assert parse_assignment(f"{P5}=4") == (P5, 4)
    assert parse_assignment(f" {P5} = unlimited") == (P5, None)
    for bad in (P5, f"{P5}=", "=3", f"{P5}=-1", f"{P5}=many"):
        with pytest.raises(ValueError, match=r"TYPE=COUNT|non-negative"):
            parse_assignment(bad)
    capacity = SimulatedCapacity({P5: 1, "ml.g5.xlarge": 2})
    capacity.set_limits({P5: None, "ml.g5.xlarge": 0, "ml.c5.large": 3})
    assert capacity.available == {"ml.g5.xlarge": 0, "ml.c5.large": 3}
