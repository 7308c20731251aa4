"""The fault schedule of a goodput scenario: when each fault strikes, on which node, of which
kind (issue #12).

Failures of large training clusters are modelled as a Poisson process per accelerator: each of
the cluster's accelerators (spares' included: a spare fails as often as a busy node, and a
failed spare is one fewer to take over) fails at ``rate_per_accelerator_hour``, so the cluster
sees exponential gaps at the sum of the rates, every node equally likely, the kind drawn from
the mix by weight. The draws come from ``random.Random(seed)`` in a fixed order, so a seed names
one schedule: the real run and the reference model replay the same faults. A scenario with a
trace replays the trace instead.
"""

from __future__ import annotations

import random

from podwarden.model.goodput import Fault, Scenario

SECONDS_PER_DAY = 86400.0


def run_seconds(s: Scenario) -> float:
    """The simulated length of the run."""
    return s.days * SECONDS_PER_DAY


def cluster_rate_per_second(s: Scenario) -> float:
    """Faults per simulated second over the whole cluster (job nodes and spares)."""
    accelerators = s.accelerators_per_node * (s.cluster.nodes + s.cluster.spares)
    return s.failures.rate_per_accelerator_hour * accelerators / 3600.0


def schedule(s: Scenario) -> tuple[Fault, ...]:
    """The faults of the run, in time order, each before the run's end."""
    end = run_seconds(s)
    if s.failures.trace is not None:
        return tuple(f for f in s.failures.trace if f.at < end)
    rate = cluster_rate_per_second(s)
    mix = s.failures.mix
    if rate <= 0 or not mix:
        return ()
    rng = random.Random(s.failures.seed)  # noqa: S311 (a simulation: seeded, not secret)
    weights = [cause.weight for cause in mix]
    nodes = s.cluster.nodes + s.cluster.spares
    faults: list[Fault] = []
    at = rng.expovariate(rate)
    while at < end:
        node = rng.randrange(nodes)
        cause = rng.choices(mix, weights)[0]
        faults.append(Fault(at=at, node=node, fault=cause.fault, cause=cause.cause))
        at += rng.expovariate(rate)
    return tuple(faults)
