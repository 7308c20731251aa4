"""logic.node_view.health_view: every reader of the training side's node caches answers the same
on a node's view as on the whole node (the caches keeping it: test_auto_resume_watch.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from podwarden.logic import auto_resume as ar
from podwarden.logic import training_jobs as tj
from podwarden.logic.node_view import health_view
from podwarden.model.labels import FAULT_REASONS, HEALTH
from podwarden.training.auto_resume import _health

NAME = "hyperpod-i-000e8b869f00b7ce4"


def condition(kind: str, status: str, reason: str) -> dict[str, str]:
    return {
        "lastHeartbeatTime": "2026-12-06T18:38:04Z",
        "lastTransitionTime": "2026-12-06T18:37:06Z",
        "message": f"kubelet says {reason}",
        "reason": reason,
        "status": status,
        "type": kind,
    }


def kwok_node() -> dict[str, Any]:
    """A HyperPod node as kwok keeps it on the local plane (taken from a 5,000-node run of
    bench/scale.py, with its managedFields)."""
    resources = {"cpu": "192", "memory": "2Ti", "nvidia.com/gpu": "8", "pods": "49"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "annotations": {"kwok.x-k8s.io/node": "fake", "podwarden.io/ebs-volumes": "[]"},
            "creationTimestamp": "2026-12-06T18:37:06Z",
            "labels": {
                "kubernetes.io/hostname": NAME,
                "node.kubernetes.io/instance-type": "ml.p5.48xlarge",
                "podwarden.io/cluster-id": "9jnjetvij1hp",
                "sagemaker.amazonaws.com/cluster-name": "scale",
                "sagemaker.amazonaws.com/instance-group-name": "gpu-p5",
                HEALTH: "Schedulable",
            },
            "managedFields": [
                {"manager": "podwarden", "operation": "Apply", "fieldsV1": {"f:metadata": {}}},
                {"manager": "kwok", "operation": "Update", "fieldsV1": {"f:status": {}}},
            ],
            "name": NAME,
            "resourceVersion": "54989",
            "uid": "f0d95ef9-d9a2-4c07-a43a-756a6f75b8c1",
        },
        "spec": {"providerID": "aws:///us-west-2a/i-000e8b869f00b7ce4"},
        "status": {
            "addresses": [{"address": "127.0.0.1", "type": "InternalIP"}],
            "allocatable": resources,
            "capacity": resources,
            "conditions": [
                condition("Ready", "True", "KubeletReady"),
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 50769}},
            "nodeInfo": {"kubeletVersion": "kwok-v0.7.0", "operatingSystem": "linux"},
            "phase": "Running",
        },
    }


def variant(change: str) -> dict[str, Any]:
    node = kwok_node()
    meta, status = node["metadata"], node["status"]
    if change == "not ready":
        status["conditions"][0].update(status="False", reason="NodeStatusUnknown")
    elif change == "no ready condition":
        status["conditions"] = status["conditions"][1:]
    elif change == "no status":
        del node["status"]
    elif change in (
        "Unschedulable",
        "UnschedulablePendingReplacement",
        "UnschedulablePendingReboot",
    ):
        meta["labels"][HEALTH] = change
        meta["labels"][FAULT_REASONS] = "NvidiaXid79"
    elif change == "quarantine taint only":
        node["spec"]["taints"] = [{"key": HEALTH, "value": "Unschedulable", "effect": "NoSchedule"}]
    elif change == "another taint":
        node["spec"]["taints"] = [{"key": "dedicated", "value": "x", "effect": "NoExecute"}]
    elif change == "no spec":
        del node["spec"]
    elif change == "not kwok's":
        del meta["annotations"]
    elif change == "no health label":
        del meta["labels"][HEALTH]
    return node


CHANGES = [
    "as is",
    "not ready",
    "no ready condition",
    "no status",
    "Unschedulable",
    "UnschedulablePendingReplacement",
    "UnschedulablePendingReboot",
    "quarantine taint only",
    "another taint",
    "no spec",
    "not kwok's",
    "no health label",
]


@pytest.mark.parametrize("change", CHANGES)
def test_every_reader_answers_the_same_on_the_view(change: str) -> None:
    node = variant(change)
    view = health_view(node)
    assert ar.node_fault(NAME, view) == ar.node_fault(NAME, node)
    assert tj.node_fault(NAME, view) == tj.node_fault(NAME, node)
    assert tj.is_kwok(view) == tj.is_kwok(node)
    assert _health(view) == _health(node)
    pod = {"spec": {"nodeName": NAME}, "status": {"phase": "Running"}}
    assert ar.pod_fault(pod, {NAME: view}) == ar.pod_fault(pod, {NAME: node})


def test_the_readers_see_the_faults_they_are_meant_to() -> None:
    """The comparison above is only worth something if the variants differ to the readers."""
    verdicts = {ar.node_fault(NAME, health_view(variant(c))) for c in CHANGES}
    kinds = {v.kind for v in verdicts if v is not None}
    assert None in verdicts and len(kinds) >= 3  # healthy; quarantined, rebooted, replaced


def test_the_view_is_a_small_part_of_the_node() -> None:
    node = kwok_node()
    view = health_view(node)
    assert "managedFields" not in view["metadata"]
    assert set(view["status"]) == {"conditions"}
    assert set(view["status"]["conditions"][0]) == {"type", "status", "reason"}
    assert len(json.dumps(view)) < len(json.dumps(node)) / 2


def test_a_heartbeat_leaves_the_view_unchanged() -> None:
    before = kwok_node()
    after = copy.deepcopy(before)
    for c in after["status"]["conditions"]:
        c["lastHeartbeatTime"] = "2026-12-06T18:39:04Z"
    assert health_view(after) == health_view(before)


def test_the_node_is_not_changed() -> None:
    node = kwok_node()
    kept = copy.deepcopy(node)
    health_view(node)
    assert node == kept
