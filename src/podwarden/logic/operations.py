"""Cluster operations (ListClusterOperations): what a request starts, and when it is done.

Pure: the operator and the handlers do the I/O.
"""

from __future__ import annotations

from typing import Any

from podwarden.model.cluster import (
    Cluster,
    ClusterOperation,
    ClusterStatus,
    DeepCheck,
    Instance,
    InstanceGroup,
)

IN_PROGRESS, SUPERSEDED, DONE = "InProgress", "Superseded", "Done"
SCALING, DEEP_HEALTH_CHECK = "Scaling", "DeepHealthCheck"


def _counts(group: InstanceGroup | None, current: int) -> dict[str, int]:
    if group is None or group.deleting:
        return {"CurrentCount": current, "TargetCount": 0, "MinCount": 0}
    spec = group.spec
    return {
        "CurrentCount": current,
        "TargetCount": int(spec.get("InstanceCount", 0)),
        "MinCount": int(spec.get("MinInstanceCount", 0)),
    }


def scaling_details(
    before: dict[str, InstanceGroup], after: dict[str, InstanceGroup], running: dict[str, int]
) -> list[dict[str, Any]]:
    """Per-group Original/Desired counts of the groups whose target changes."""
    details = []
    for name in sorted(set(before) | set(after)):
        original = _counts(before.get(name), running.get(name, 0))
        desired = _counts(after.get(name), running.get(name, 0))
        if original["TargetCount"] != desired["TargetCount"] or name not in before:
            details.append(
                {
                    "InstanceGroupName": name,
                    "Status": IN_PROGRESS,
                    "Original": original,
                    "Desired": {
                        "TargetCount": desired["TargetCount"],
                        "MinCount": desired["MinCount"],
                    },
                }
            )
    return details


def finished(
    ops: list[ClusterOperation], cluster: Cluster, instances: list[Instance]
) -> list[ClusterOperation]:
    """The in-progress operations that are done now: scaling once the cluster is InService,
    deep health checks once no instance has any pending or running."""
    checking = any(i.deep_check in (DeepCheck.REQUESTED, DeepCheck.IN_PROGRESS) for i in instances)
    done = []
    for op in ops:
        if op.status != IN_PROGRESS:
            continue
        if (op.type == SCALING and cluster.status == ClusterStatus.IN_SERVICE) or (
            op.type == DEEP_HEALTH_CHECK and not checking
        ):
            op.status = DONE
            for detail in op.scaling:
                detail["Status"] = DONE
            done.append(op)
    return done
