"""Cluster events: ListClusterEvents and DescribeClusterEvent (Continuous provisioning mode
only, as in HyperPod)."""

from __future__ import annotations

from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.sagemaker.clusters import find_cluster, listing, when, within
from podwarden.model.cluster import Cluster, ClusterEvent
from podwarden.model.errors import Invalid, NotFound


def _continuous(cluster: Cluster, operation: str) -> None:
    if cluster.spec.get("NodeProvisioningMode") != "Continuous":
        raise Invalid(
            f"{operation} is supported only for clusters whose NodeProvisioningMode is "
            f"Continuous; cluster {cluster.name} does not use it."
        )


def _summary(cluster: Cluster, e: ClusterEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "EventId": e.event_id,
        "ClusterArn": cluster.arn,
        "ClusterName": cluster.name,
        "ResourceType": e.resource_type,
        "EventTime": when(e.time),
        "Description": e.description,
        "EventLevel": e.level,
    }
    if e.group:
        out["InstanceGroupName"] = e.group
    if e.instance_id:
        out["InstanceId"] = e.instance_id
    return out


def list_cluster_events(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    cluster = find_cluster(ctx, req["ClusterName"])
    _continuous(cluster, "ListClusterEvents")
    selected = [
        e
        for e in ctx.store.list_events(cluster.cluster_id)
        if req.get("InstanceGroupName") in (None, e.group)
        and req.get("NodeId") in (None, e.instance_id)
        and req.get("ResourceType") in (None, e.resource_type)
        and within(e.time, req, "EventTime")
    ]
    # sorted by EventTime only, newest first unless asked otherwise
    selected.sort(key=lambda e: (e.time, e.event_id), reverse=req.get("SortOrder") != "Ascending")
    return listing("Events", selected, req, lambda e: _summary(cluster, e))


def describe_cluster_event(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    cluster = find_cluster(ctx, req["ClusterName"])
    _continuous(cluster, "DescribeClusterEvent")
    for e in ctx.store.list_events(cluster.cluster_id):
        if e.event_id == req["EventId"]:
            detail = _summary(cluster, e)
            if e.metadata:  # e.g. InstanceGroupScaling of a capacity shortfall
                detail["EventDetails"] = {"EventMetadata": e.metadata}
            return {"EventDetails": detail}
    raise NotFound(f"Event {req['EventId']} not found in cluster {cluster.name}.")


OPERATIONS: Operations = {
    "ListClusterEvents": list_cluster_events,
    "DescribeClusterEvent": describe_cluster_event,
}
