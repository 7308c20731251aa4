"""When a node's trouble began, for the fault-to-quarantine and fault-to-repair histograms.

A fault's time is the time of the signal behind it (an injected fault's ``at``, a kernel log
line's, an NVML reading's), as the agent records it in the node's ``fault-details`` annotation.
The clock that ends the interval is the one of the component that acts: the agent's when it
writes its verdict, the cluster reconciler's when it starts a reboot or replacement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from podwarden.logic.faults import Fault, NodeHealth
from podwarden.model.labels import FAULT_DETAILS, SCHEDULABLE
from podwarden.policy.fault_policy import Severity


def _first_fatal(faults: Iterable[Fault]) -> float | None:
    return min((f.at for f in faults if f.severity == Severity.FATAL), default=None)


def recorded(node: Mapping[str, Any]) -> list[Fault]:
    """The faults the agent recorded on ``node`` (none when the annotation is absent or does not
    read)."""
    raw = (node.get("metadata", {}).get("annotations") or {}).get(FAULT_DETAILS)
    if not raw:
        return []
    try:
        return [Fault.from_detail(d) for d in json.loads(raw)]
    except (ValueError, KeyError, TypeError):
        return []


def earliest_fault(node: Mapping[str, Any]) -> float | None:
    """The time of the earliest fatal fault recorded on ``node``: when the trouble a repair
    answers began. None when the node has none (a repair someone asked for without a fault)."""
    return _first_fatal(recorded(node))


def quarantine_began(previous_status: str | None, health: NodeHealth) -> float | None:
    """When the faults behind a new quarantine began: ``health`` quarantines a node whose health
    label was Schedulable (or unset). None when it does not, or when the node was out of service
    already (quarantined before, under deep health checks, a recovery someone asked for)."""
    if not health.quarantined or previous_status not in (None, "", SCHEDULABLE):
        return None
    return _first_fatal(health.recent)
