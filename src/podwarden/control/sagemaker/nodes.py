"""Cluster node operations: ListClusterNodes, DescribeClusterNode, BatchDeleteClusterNodes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.sagemaker import images
from podwarden.control.sagemaker.clusters import (
    find_cluster,
    kubernetes_details,
    new_operation,
    when,
)
from podwarden.control.sagemaker.node_listing import node_page
from podwarden.logic import deep_check_rules
from podwarden.logic.operations import DEEP_HEALTH_CHECK
from podwarden.model.changes import SAGEMAKER_CLUSTER
from podwarden.model.cluster import Cluster, DeepCheck, Instance, InstanceStatus, Recovery
from podwarden.model.errors import Conflict, Invalid, NotFound
from podwarden.policy.catalog import load_catalog
from podwarden.policy.deep_checks import load_deep_checks


def _hostname(inst: Instance, region: str) -> str:
    return f"ip-{inst.private_ip.replace('.', '-')}.{region}.compute.internal"


def _summary(inst: Instance, region: str, logical: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "InstanceGroupName": inst.group,
        "InstanceId": inst.instance_id,
        "InstanceType": inst.instance_type,
        "LaunchTime": when(inst.launch_time),
        "InstanceStatus": {"Status": inst.status, "Message": inst.message},
        "PrivateDnsHostname": _hostname(inst, region),
    }
    if logical:
        out["NodeLogicalId"] = inst.logical_id
    return out


def list_cluster_nodes(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    cluster = find_cluster(ctx, req["ClusterName"])
    chunk, token = node_page(ctx.store, cluster.cluster_id, req)
    logical = bool(req.get("IncludeNodeLogicalIds"))
    view = images.ImageView.of(ctx, cluster)  # each node's AMI release and its status
    nodes = [
        _summary(i, cluster.region, logical) | images.node_summary_fields(view, i) for i in chunk
    ]
    return {"ClusterNodeSummaries": nodes, **({"NextToken": token} if token else {})}


def _find_instance(ctx: Context, cluster: Cluster, req: dict[str, Any]) -> Instance:
    node_id, logical_id = req.get("NodeId"), req.get("NodeLogicalId")
    if (node_id is None) == (logical_id is None):
        raise Invalid("Specify exactly one of NodeId or NodeLogicalId.")
    for inst in ctx.store.list_instances(cluster.cluster_id):
        if inst.instance_id == node_id or inst.logical_id == logical_id:
            return inst
    raise NotFound(f"Node {node_id or logical_id} not found in cluster {cluster.name}.")


def describe_cluster_node(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    cluster = find_cluster(ctx, req["ClusterName"])
    inst = _find_instance(ctx, cluster, req)
    group = cluster.groups.get(inst.group)
    details = _summary(inst, cluster.region, logical=True)
    details["PrivatePrimaryIp"] = inst.private_ip
    if inst.private_ipv6:  # a subnet with an IPv6 block (R14)
        details["PrivatePrimaryIpv6"] = inst.private_ipv6
    details["Placement"] = {"AvailabilityZone": inst.availability_zone}
    details.update(images.node_detail_fields(images.ImageView.of(ctx, cluster), inst, group))
    if group is not None:
        spec = group.spec
        for member in (
            "LifeCycleConfig",
            "ThreadsPerCore",
            "InstanceStorageConfigs",
            "OverrideVpcConfig",
        ):
            if member in spec:
                details[member] = spec[member]
        if "KubernetesConfig" in spec or group.applied_kubernetes_config:
            details["KubernetesConfig"] = kubernetes_details(group)
    return {"NodeDetails": details}


Take = Callable[[Instance | None, str], tuple[str, str] | None]


def _per_node(
    req: dict[str, Any], instances: list[Instance], take: Take, *, code_key: str
) -> dict[str, Any]:
    """Apply ``take`` to every NodeId and NodeLogicalId of a Batch* request. ``take`` returns
    None when it took the node, else (error code, message). The answer lists successes and
    per-node failures for each kind of id that was given, leaving out empty lists."""
    by_id = {i.instance_id: i for i in instances}
    by_logical = {i.logical_id: i for i in instances}
    out: dict[str, Any] = {}
    for key, lookup, ok_key, failed_key, id_key in (
        ("NodeIds", by_id, "Successful", "Failed", "NodeId"),
        (
            "NodeLogicalIds",
            by_logical,
            "SuccessfulNodeLogicalIds",
            "FailedNodeLogicalIds",
            "NodeLogicalId",
        ),
    ):
        if key not in req:
            continue
        out.setdefault(ok_key, [])
        out.setdefault(failed_key, [])
        for ident in req[key]:
            problem = take(lookup.get(ident), ident)
            if problem is None:
                out[ok_key].append(ident)
            else:
                code, message = problem
                out[failed_key].append({id_key: ident, code_key: code, "Message": message})
    return {k: v for k, v in out.items() if v}  # the model's lists hold at least one item


def batch_delete_cluster_nodes(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    """Terminate the named nodes and lower their groups' target counts (so they are not
    replaced), in one transaction."""
    cluster = find_cluster(ctx, req["ClusterName"])
    instances = ctx.store.list_instances(cluster.cluster_id)
    changed: list[Instance] = []

    def take(inst: Instance | None, ident: str) -> tuple[str, str] | None:
        """None if the node is taken for deletion, else (error code, message)."""
        if inst is None:
            return "NodeIdNotFound", f"Node {ident} not found in cluster {cluster.name}."
        if inst.status == InstanceStatus.SHUTTING_DOWN or inst in changed:
            return "InvalidNodeStatus", f"Node {ident} is already being deleted."
        inst.status = InstanceStatus.SHUTTING_DOWN
        inst.message = "Terminating the instance (BatchDeleteClusterNodes)"
        group = cluster.groups.get(inst.group)
        if group is not None and not group.deleting:
            group.spec["InstanceCount"] = max(0, int(group.spec["InstanceCount"]) - 1)
        changed.append(inst)
        return None

    out = _per_node(req, instances, take, code_key="Code")
    if changed:
        ctx.store.save_cluster_and_instances(cluster, changed)
        ctx.wake(SAGEMAKER_CLUSTER, cluster.cluster_id)
    return out


def _batch_recover(ctx: Context, req: dict[str, Any], action: Recovery) -> dict[str, Any]:
    """BatchReboot/ReplaceClusterNodes: mark each named Running instance for recovery; the
    reconciler carries it out. Per-node failures go in the 200 response, as AWS does."""
    if "NodeIds" not in req and "NodeLogicalIds" not in req:
        raise Invalid("Specify NodeIds, NodeLogicalIds or both.")
    cluster = find_cluster(ctx, req["ClusterName"])
    instances = ctx.store.list_instances(cluster.cluster_id)
    verb = "rebooted" if action == Recovery.REBOOT else "replaced"

    def take(inst: Instance | None, ident: str) -> tuple[str, str] | None:
        if inst is None:
            return "InstanceIdNotFound", f"The instance {ident} does not exist in the cluster."
        if inst.recovery:
            return "InstanceIdInUse", f"Another operation is already in progress for {ident}."
        if inst.status != InstanceStatus.RUNNING:
            return (
                "InvalidInstanceStatus",
                f"The instance {ident} is {inst.status} and cannot be {verb}.",
            )
        inst.recovery = action
        ctx.store.save_instance(inst)
        return None

    out = _per_node(req, instances, take, code_key="ErrorCode")
    ctx.wake(SAGEMAKER_CLUSTER, cluster.cluster_id)
    return out


def batch_reboot_cluster_nodes(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    return _batch_recover(ctx, req, Recovery.REBOOT)


def batch_replace_cluster_nodes(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    return _batch_recover(ctx, req, Recovery.REPLACE)


def start_cluster_health_check(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    """Deep health checks on demand: each named group's Running instances (or the listed ones)
    run the checks asked for them (overlapping configurations merged); the instances of a
    group that a multi-node check names are checked together (``logic.deep_check_rules``).
    The reconciler runs them as it does for new nodes (``operator.deep_checks``)."""
    cluster = find_cluster(ctx, req["ClusterName"])
    instances = ctx.store.list_instances(cluster.cluster_id)
    types = {name: str(g.spec.get("InstanceType", "")) for name, g in cluster.groups.items()}
    chosen = deep_check_rules.select(
        req["DeepHealthCheckConfigurations"],
        cluster.name,
        types,
        instances,
        lookup=load_catalog().types.get,
        table=load_deep_checks(),
    )
    if chosen.problems:
        raise Invalid(" ".join(chosen.problems))
    by_id = {i.instance_id: i for i in instances}
    busy = [i for i in chosen.checks if by_id[i].status != InstanceStatus.RUNNING]
    if busy:
        raise Conflict(
            f"Deep health checks need Running instances; not running now: {', '.join(busy)}."
        )
    for instance_id, checks in chosen.checks.items():
        inst = by_id[instance_id]
        inst.deep_check = DeepCheck.REQUESTED
        inst.deep_checks = checks
        inst.deep_check_peers = chosen.peers.get(instance_id, [])
        inst.deep_check_results = []
        ctx.store.save_instance(inst)
    op = new_operation(
        ctx, cluster, DEEP_HEALTH_CHECK, deep_checks=list(req["DeepHealthCheckConfigurations"])
    )
    ctx.store.put_operations([op])
    ctx.wake(SAGEMAKER_CLUSTER, cluster.cluster_id)
    return {"ClusterArn": cluster.arn}


OPERATIONS: Operations = {
    "ListClusterNodes": list_cluster_nodes,
    "DescribeClusterNode": describe_cluster_node,
    "BatchDeleteClusterNodes": batch_delete_cluster_nodes,
    "BatchRebootClusterNodes": batch_reboot_cluster_nodes,
    "BatchReplaceClusterNodes": batch_replace_cluster_nodes,
    "StartClusterHealthCheck": start_cluster_health_check,
}
