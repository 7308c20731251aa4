"""bench/scale_largest.py's pure parts: the scale-down's counts, the burst's instances, what a
node must be to count as repaired, and what the fault policy makes of Xid 79."""

from __future__ import annotations

from typing import Any

import pytest

import scale_largest  # bench/scale_largest.py (tests/bench/conftest.py puts bench/ on the path)
from scale_largest import pick_burst, schedulable, shrink


@pytest.mark.parametrize(
    ("counts", "target", "want"),
    [
        ([2500, 2000, 500], 100, [50, 40, 10]),
        ([15, 12, 3], 5, [2, 2, 1]),
        ([1000, 1, 1], 3, [1, 1, 1]),
        ([7, 7, 7], 10, [4, 3, 3]),
        ([500, 400, 100], 1000, [500, 400, 100]),
    ],
)
def test_shrink_keeps_the_total_and_a_node_a_group(
    counts: list[int], target: int, want: list[int]
) -> None:
    got = shrink(counts, target)
    assert sum(got) == target and min(got) >= 1
    assert sorted(got) == sorted(want)


def test_shrink_refuses_fewer_than_a_node_a_group() -> None:
    with pytest.raises(SystemExit, match="at least 1 a group"):
        shrink([10, 10, 10], 2)


def summary(group: str, i: int) -> dict[str, Any]:
    return {"InstanceGroupName": group, "InstanceId": f"i-{group}-{i:02d}"}


def test_the_burst_takes_the_gpu_groups_in_turn() -> None:
    summaries = [summary("a", i) for i in range(3)] + [summary("b", i) for i in range(1)]
    summaries += [summary("cpu", i) for i in range(5)]
    assert pick_burst(summaries, ["a", "b"], 3) == ["i-a-00", "i-b-00", "i-a-01"]
    with pytest.raises(SystemExit, match="needs as many GPU instances"):
        pick_burst(summaries, ["a", "b"], 5)


def node(
    *, health: str = "Schedulable", taint: bool = False, ready: str = "True", cordoned: bool = False
) -> dict[str, Any]:
    key = "sagemaker.amazonaws.com/node-health-status"
    return {
        "metadata": {"labels": {key: health}},
        "spec": {
            "unschedulable": cordoned,
            "taints": [{"key": key, "effect": "NoSchedule"}] if taint else [],
        },
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def test_schedulable_means_ready_healthy_untainted_uncordoned() -> None:
    assert schedulable(node())
    assert not schedulable(node(health="UnschedulablePendingReplacement", taint=True))
    assert not schedulable(node(taint=True))
    assert not schedulable(node(ready="False"))
    assert not schedulable(node(cordoned=True))


def test_xid79_is_a_replacement_in_the_shipped_policy() -> None:
    assert "action Replace" in scale_largest.xid79_repair()
