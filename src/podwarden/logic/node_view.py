"""What the training side reads of a Kubernetes node, and nothing else.

Auto-resume (``training.auto_resume``) and the training simulator (``training.simulator``) each
keep a watched cache of every node of a plane. They judge a node by its name, labels (HyperPod's
health label and fault reasons, its cluster), annotations (kwok's), taints and its conditions'
type, status and reason (``logic.auto_resume.node_fault``, ``logic.training_jobs.node_fault``,
``is_kwok``). The rest of a node (capacity, allocatable, addresses, nodeInfo, the conditions'
heartbeat times and messages, managedFields) is more than half of what a cache holds of it: a
kwok node decoded takes 12.6 kB of Python objects without its managedFields, its view 5.5 kB.
At 5,000 nodes such caches were most of ``podwarden serve``'s memory (BENCHMARKS.md, "What a
5,000-node podwarden holds"). ``health_view`` is the ``keep`` of those caches: a heartbeat that
changes only a condition's timestamps leaves the view unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# of each condition: what a verdict on the node reads (``reason`` goes into its message)
CONDITION_FIELDS = ("type", "status", "reason")
METADATA_FIELDS = ("name", "namespace", "uid", "resourceVersion", "labels", "annotations")


def health_view(node: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``node`` (a Kubernetes Node as JSON) that the training side reads, in the
    node's own shape, so that every reader works on it unchanged."""
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    conditions = (node.get("status") or {}).get("conditions") or []
    return {
        "metadata": {k: meta[k] for k in METADATA_FIELDS if k in meta},
        "spec": {"taints": spec["taints"]} if spec.get("taints") else {},
        "status": {
            "conditions": [{k: c[k] for k in CONDITION_FIELDS if k in c} for c in conditions]
        },
    }
