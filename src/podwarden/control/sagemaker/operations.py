"""Cluster operations: ListClusterOperations and DescribeClusterOperation."""

from __future__ import annotations

from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.pagination import page
from podwarden.control.sagemaker.clusters import find_cluster, when
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
    after, before = req.get("CreationTimeAfter"), req.get("CreationTimeBefore")
    selected = [
        op
        for op in ctx.store.list_operations(cluster.cluster_id)
        if req.get("Status") in (None, op.status)
        and req.get("Type") in (None, op.type)
        and (after is None or when(op.created) > after)
        and (before is None or when(op.created) < before)
    ]
    # sorted by CreationTime only; newest first unless asked otherwise
    selected.sort(
        key=lambda op: (op.created, op.operation_id), reverse=req.get("SortOrder") != "Ascending"
    )
    chunk, token = page(selected, req)
    out: dict[str, Any] = {"ClusterOperationSummaries": [_summary(cluster, op) for op in chunk]}
    if token:
        out["NextToken"] = token
    return out


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
