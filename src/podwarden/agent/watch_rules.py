"""When the agent of the simulated nodes looks at a watched node (pure: the node, the policy and
the time in, a decision out).

``service.LocalHealthAgent`` never lists nodes: it follows the watch of every HyperPod node that
the process keeps anyway (``providers.local.LocalInstances``). Its rule:

- a node with an injected fault waiting (``injection_pending``) is handled on the watch event
  that brings it;
- after each (re)list of the watch, which may have missed any number of events, every node is
  assessed once, from the cache;
- every ``resync`` seconds it re-assesses only the nodes that are due (``due_at``).

Without a new signal, an assessment (``HealthExporter.assess_node``) is a function of the node and
of the time, and the time enters only where a recorded fault (annotation ``fault-details``)
leaves its rule's window (``logic.faults.assess``). So a node is due:

- now, when an assessment would write to it already: a stale verdict (a restarted agent's, one
  written by hand, a write of the agent that lost a conflict), a missing health label. It waits
  for the next resync, as it did when every node was re-assessed then: acting on each write at
  once would fight the reconciler's own writes of the health label;
- when its oldest recorded fault leaves its window (the verdict and the details change then);
- never otherwise: until the node changes, which comes with a watch event and a new ``due_at``.
  That is every node whose labels and taints are the healthy verdict and that has no recorded
  fault, nearly all of them; a node held under deep health checks and not quarantined (only a
  fault or the checks' end change it); a type the agent does not monitor (R17 in
  docs/requirements.md).
"""

from __future__ import annotations

from typing import Any

from podwarden.agent.exporter import held_by_deep_check, settled
from podwarden.logic.faults import assess
from podwarden.metrics.fault_times import recorded as recorded_faults
from podwarden.model.labels import COMPUTE_TYPE, INJECT_LABEL
from podwarden.policy.fault_policy import FaultPolicy


def labels_of(node: dict[str, Any]) -> dict[str, str]:
    return node.get("metadata", {}).get("labels") or {}


def is_hyperpod(node: dict[str, Any]) -> bool:
    return labels_of(node).get(COMPUTE_TYPE) == "hyperpod"


def injection_pending(node: dict[str, Any]) -> bool:
    """An injected signal waits on the node (``agent.inject``): handle it at once."""
    return labels_of(node).get(INJECT_LABEL) == "true"


def due_at(node: dict[str, Any], policy: FaultPolicy, now: float, monitored: bool) -> float | None:
    """When a resync must assess the node again (module docstring); None: not until it changes."""
    if injection_pending(node):
        return now
    if not monitored:
        return None
    health = assess(recorded_faults(node), policy, now)
    if not settled(node, health):
        return now
    if held_by_deep_check(node, health):
        return None  # ageing out only clears faults: the hold stays until the checks end
    windows = {r.id: r.window_seconds for r in policy.rules}
    ages_out = [f.at + windows[f.rule] for f in health.recent]
    return min(ages_out) if ages_out else None
