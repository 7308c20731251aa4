"""Write a NodeHealth onto its node: the health label and fault labels, the fault-details
annotation, a NodeCondition per fault type, the quarantine taint and Events."""

from __future__ import annotations

import json
import time
from typing import Any

from podwarden.logic.faults import NodeHealth
from podwarden.model.cluster import DeepCheck
from podwarden.model.labels import (
    AGENT_TAINT_KEYS,
    DEEP_HEALTH,
    FAULT_DETAILS,
    FAULT_REASONS,
    FAULT_TYPES,
    HEALTH,
    HEALTH_TAINT_EFFECT,
    HEALTH_TAINT_VALUE,
    PENDING_REBOOT,
    PENDING_REPLACEMENT,
)

RECOVERY_REQUESTS = frozenset({PENDING_REBOOT, PENDING_REPLACEMENT})

COMPONENT = "podwarden-health-agent"


def iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def metadata_patch(node: dict[str, Any], health: NodeHealth) -> dict[str, Any]:
    """Labels, annotation and taints for ``health`` (other taints are kept). A recovery someone
    asked for by labelling the node (``UnschedulablePendingReboot``/``...Replacement``, as on
    HyperPod) is left for the reconciler to carry out: a healthy assessment does not undo it."""
    taints = [
        t for t in node.get("spec", {}).get("taints") or [] if t["key"] not in AGENT_TAINT_KEYS
    ]
    if health.quarantined:
        taints.append({"key": HEALTH, "value": HEALTH_TAINT_VALUE, "effect": HEALTH_TAINT_EFFECT})
    meta = node.get("metadata", {})
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    current = labels.get(HEALTH)
    # a request, not the agent's own verdict: that one comes with the faults behind it
    by_hand = not labels.get(FAULT_TYPES) and not annotations.get(FAULT_DETAILS)
    requested = current in RECOVERY_REQUESTS and by_hand and not health.quarantined
    return {
        "metadata": {
            "labels": {
                HEALTH: current if requested else health.status,
                FAULT_TYPES: health.fault_types or None,
                FAULT_REASONS: health.fault_reasons or None,
            },
            "annotations": {
                FAULT_DETAILS: json.dumps([f.to_detail() for f in health.recent][-20:])
                if health.recent
                else None
            },
        },
        "spec": {"taints": taints},
    }


def unchanged(node: dict[str, Any], patch: dict[str, Any]) -> bool:
    """The node already carries what ``metadata_patch`` would write."""
    meta = node.get("metadata", {})
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    for key, value in patch["metadata"]["labels"].items():
        if labels.get(key) != value:
            return False
    for key, value in patch["metadata"]["annotations"].items():
        if annotations.get(key) != value:
            return False
    return bool((node.get("spec", {}).get("taints") or []) == patch["spec"]["taints"])


def held_by_deep_check(node: dict[str, Any], health: NodeHealth) -> bool:
    """Under deep health checks the node stays Unschedulable and tainted until they end: only a
    fault changes it."""
    labels = node.get("metadata", {}).get("labels") or {}
    return labels.get(DEEP_HEALTH) == DeepCheck.IN_PROGRESS and not health.quarantined


def settled(node: dict[str, Any], health: NodeHealth) -> bool:
    """An assessment with verdict ``health`` and no new signal writes nothing to the node
    (``service.HealthExporter.assess_node``)."""
    return held_by_deep_check(node, health) or unchanged(node, metadata_patch(node, health))


def conditions_patch(
    node: dict[str, Any], health: NodeHealth, condition_types: frozenset[str], now: float
) -> dict[str, Any] | None:
    """Conditions of the policy's fault types: True with the fault's reason while active, back
    to False once it clears. None when nothing changes."""
    current = {c["type"]: c for c in node.get("status", {}).get("conditions") or []}
    out = []
    for kind in sorted(condition_types):
        fault = health.conditions.get(kind)
        want = "True" if fault else "False"
        have = current.get(kind)
        if have is None and fault is None:
            continue
        if have is not None and have.get("status") == want:
            continue
        out.append(
            {
                "type": kind,
                "status": want,
                "reason": fault.reason if fault else "FaultCleared",
                "message": fault.message[:1024] if fault else "no active fault of this type",
                "lastHeartbeatTime": iso(now),
                "lastTransitionTime": iso(fault.at if fault else now),
            }
        )
    return {"status": {"conditions": out}} if out else None
