"""Cluster operations: ListClusterOperations and DescribeClusterOperation."""

from __future__ import annotations

from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.sagemaker.clusters import find_cluster, listing, when, within
from podwarden.model.cluster import Cluster, ClusterOperation
from podwarden.model.errors import NotFound


def _summary(cluster: Cluster, op: ClusterOperation) -> dict[str, Any]:
    return {
        "OperationId": op.operation_id,
        "ClusterArn": cluster.arn,
        "Type": op.type,
        "Status": op.status,
        "CreationTime": when(op.created),
    }


def list_cluster_operations(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    cluster = find_cluster(ctx, req["ClusterName"])
    selected = [
        op
        for op in ctx.store.list_operations(cluster.cluster_id)
        if req.get("Status") in (None, op.status)
        and req.get("Type") in (None, op.type)
        and within(op.created, req)
    ]
    # sorted by CreationTime only; newest first unless asked otherwise
    selected.sort(
        key=lambda op: (op.created, op.operation_id), reverse=req.get("SortOrder") != "Ascending"
    )
    return listing("ClusterOperationSummaries", selected, req, lambda op: _summary(cluster, op))


def describe_cluster_operation(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    cluster = find_cluster(ctx, req["ClusterName"])
    for op in ctx.store.list_operations(cluster.cluster_id):
        if op.operation_id == req["OperationId"]:
            out = _summary(cluster, op)
            if op.scaling:
                out["ScalingDetails"] = op.scaling
            if op.deep_checks:
                out["DeepHealthCheckDetails"] = op.deep_checks
            return out
    raise NotFound(f"Operation {req['OperationId']} not found in cluster {cluster.name}.")


OPERATIONS: Operations = {
    "ListClusterOperations": list_cluster_operations,
    "DescribeClusterOperation": describe_cluster_operation,
}
