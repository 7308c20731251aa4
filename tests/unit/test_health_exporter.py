"""What the agent writes on a node: a recovery someone requested by label survives a healthy
assessment (the agent re-assesses every GPU node every few seconds; it used to write
``Schedulable`` over the request before the reconciler acted, a race the integration test
``test_health_label_triggers_recovery_on_automatic_clusters_only`` lost in CI)."""

from __future__ import annotations

from typing import Any

import pytest

from podwarden.agent.exporter import metadata_patch
from podwarden.logic.faults import NodeHealth
from podwarden.model.labels import (
    FAULT_DETAILS,
    FAULT_TYPES,
    HEALTH,
    PENDING_REBOOT,
    PENDING_REPLACEMENT,
    SCHEDULABLE,
)

HEALTHY = NodeHealth(SCHEDULABLE, {}, "", "", ())
FAULTY = NodeHealth(PENDING_REPLACEMENT, {}, "GpuXid", "Xid79", ())


def node(label: str | None) -> dict[str, Any]:
    labels = {HEALTH: label} if label else {}
    return {"metadata": {"name": "n", "labels": labels}, "spec": {}}


@pytest.mark.parametrize("requested", [PENDING_REBOOT, PENDING_REPLACEMENT])
def test_a_requested_recovery_is_not_undone_by_a_healthy_assessment(requested: str) -> None:
    assert metadata_patch(node(requested), HEALTHY)["metadata"]["labels"][HEALTH] == requested


@pytest.mark.parametrize("current", [None, SCHEDULABLE, "Unschedulable"])
def test_a_healthy_node_is_schedulable(current: str | None) -> None:
    assert metadata_patch(node(current), HEALTHY)["metadata"]["labels"][HEALTH] == SCHEDULABLE


def test_a_fault_sets_its_own_verdict_over_a_request() -> None:
    patch = metadata_patch(node(PENDING_REBOOT), FAULTY)
    assert patch["metadata"]["labels"][HEALTH] == PENDING_REPLACEMENT
    assert [t["key"] for t in patch["spec"]["taints"]] == [HEALTH]


def test_the_agents_own_verdict_clears_once_its_faults_age_out() -> None:
    """A label the agent wrote (with the faults behind it) is the agent's to clear."""
    mine = node(PENDING_REPLACEMENT)
    mine["metadata"]["labels"][FAULT_TYPES] = "GpuXid"
    mine["metadata"]["annotations"] = {FAULT_DETAILS: '[{"reason": "Xid79"}]'}
    assert metadata_patch(mine, HEALTHY)["metadata"]["labels"][HEALTH] == SCHEDULABLE
