"""The fault schedule (logic/goodput_failures.py): a seeded Poisson process over every node of
the cluster with kinds drawn from the mix, or a trace replayed."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import pytest

from podwarden.logic.goodput_failures import cluster_rate_per_second, run_seconds, schedule
from podwarden.model.goodput import Fault
from podwarden.policy.goodput import load_scenario, with_overrides


def sigmas(observed: float, expected: float, variance: float) -> float:
    return abs(observed - expected) / math.sqrt(variance)


def test_the_count_follows_the_rate() -> None:
    """simple: 0.2083 per GPU-hour x 2 GPUs, 1,000 days: 9,998 faults expected."""
    s = with_overrides(load_scenario("simple"), ["days=1000"])
    expected = cluster_rate_per_second(s) * run_seconds(s)
    assert expected == pytest.approx(0.2083 * 2 * 24000)
    faults = schedule(s)
    assert sigmas(len(faults), expected, expected) < 4
    assert all(0 <= f.at < run_seconds(s) for f in faults)
    assert [f.at for f in faults] == sorted(f.at for f in faults)


def test_spares_fail_too() -> None:
    """p5-64 has 66 nodes of 8 GPUs: the rate counts all 528 GPUs and every node is hit."""
    s = load_scenario("p5-64")
    assert cluster_rate_per_second(s) == pytest.approx(1.97e-5 * 8 * 66 / 3600)
    faults = schedule(with_overrides(s, ["failures.rate_per_accelerator_hour=1e-3"]))
    by_node = Counter(f.node for f in faults)
    assert set(by_node) == set(range(66))
    mean = len(faults) / 66
    assert all(sigmas(count, mean, mean) < 5 for count in by_node.values())


def test_kinds_and_causes_follow_the_mix() -> None:
    s = with_overrides(load_scenario("p5-64"), ["failures.rate_per_accelerator_hour=1e-3"])
    faults = schedule(s)
    n = len(faults)
    by_cause = Counter(f.cause for f in faults)
    total = sum(c.weight for c in s.failures.mix)
    for cause in s.failures.mix:
        p = cause.weight / total
        assert sigmas(by_cause[cause.cause], n * p, n * p * (1 - p)) < 4, cause
    assert {f.fault for f in faults if f.cause == "faulty GPU"} == {"xid-79"}
    assert {f.fault for f in faults if f.cause == "host maintenance"} == {"node-down"}


def test_a_seed_names_one_schedule() -> None:
    s = load_scenario("llama3-405b")
    assert schedule(s) == schedule(load_scenario("llama3-405b"))
    assert schedule(s) != schedule(with_overrides(s, ["failures.seed=2"]))


def test_no_rate_no_faults() -> None:
    s = load_scenario("simple")
    assert schedule(with_overrides(s, ["failures.rate_per_accelerator_hour=0"])) == ()


def test_a_trace_is_replayed_up_to_the_end() -> None:
    trace = (Fault(10.0, 1, "node-down", "a"), Fault(86399.0, 0, "node-down"))
    s = with_overrides(load_scenario("simple"), ["days=1"])
    s = replace(s, failures=replace(s.failures, trace=trace))
    assert schedule(s) == trace
    shorter = with_overrides(s, ["days=0.5"])
    assert schedule(shorter) == trace[:1]
