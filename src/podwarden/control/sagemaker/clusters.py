"""SageMaker HyperPod cluster operations: Create, Describe, List, Update, Delete."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from podwarden.control.context import Context, Operations
from podwarden.control.pagination import page
from podwarden.control.sagemaker import images, tag_rules
from podwarden.logic import cluster_rules, software_rules
from podwarden.logic import operations as ops
from podwarden.model import ids
from podwarden.model.changes import SAGEMAKER_CLUSTER
from podwarden.model.cluster import (
    Cluster,
    ClusterEvent,
    ClusterOperation,
    ClusterStatus,
    GroupStatus,
    InstanceGroup,
)
from podwarden.model.cluster import InstanceStatus as IS
from podwarden.model.errors import Conflict, Invalid, LimitExceeded, NotFound
from podwarden.policy.hyperpod_images import load_images

T = TypeVar("T")

# members of CreateClusterRequest kept as the cluster's own desired state and echoed back
CLUSTER_MEMBERS = (
    "VpcConfig",
    "Orchestrator",
    "NodeRecovery",
    "NodeProvisioningMode",
    "ClusterRole",
    "AutoScaling",
    "TieredStorageConfig",
    "Tags",
)
UPDATABLE_MEMBERS = (
    "NodeRecovery",
    "NodeProvisioningMode",
    "ClusterRole",
    "AutoScaling",
    "TieredStorageConfig",
)


def when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def within(epoch: float, req: Mapping[str, Any], member: str = "CreationTime") -> bool:
    """``epoch`` is after the request's ``<member>After`` and before its ``<member>Before``
    (each bound strict, and left out when the request does not give it)."""
    after, before = req.get(f"{member}After"), req.get(f"{member}Before")
    return (after is None or when(epoch) > after) and (before is None or when(epoch) < before)


def listing(
    member: str, items: Sequence[T], req: Mapping[str, Any], summary: Callable[[T], Any]
) -> dict[str, Any]:
    """A List call's answer: ``{member: the summaries of the page the request asks for}``, and
    ``NextToken`` while more follow."""
    chunk, token = page(items, req)
    out: dict[str, Any] = {member: [summary(item) for item in chunk]}
    if token:
        out["NextToken"] = token
    return out


def new_operation(
    ctx: Context,
    cluster: Cluster,
    kind: str,
    *,
    scaling: list[dict[str, Any]] | None = None,
    deep_checks: list[dict[str, Any]] | None = None,
) -> ClusterOperation:
    return ClusterOperation(
        operation_id=str(uuid.uuid4()),
        cluster_id=cluster.cluster_id,
        type=kind,
        status=ops.IN_PROGRESS,
        created=ctx.now(),
        scaling=scaling or [],
        deep_checks=deep_checks or [],
    )


def find_cluster(ctx: Context, ref: str) -> Cluster:
    parsed = ids.parse_cluster_ref(ref)
    cluster = ctx.store.get_cluster(
        ctx.account, ctx.region, name=parsed.name, cluster_id=parsed.cluster_id
    )
    if cluster is None:
        raise NotFound(f"Cluster {ref} not found.")
    return cluster


def _check(problems: list[str]) -> None:
    if problems:
        raise Invalid(cluster_rules.joined(problems))


def check_quotas(ctx: Context, cluster_name: str, groups: list[dict[str, Any]]) -> None:
    q = ctx.quotas
    if len(groups) > q.instance_groups_per_cluster:
        raise LimitExceeded(
            f"Cluster {cluster_name} would have {len(groups)} instance groups; the limit is "
            f"{q.instance_groups_per_cluster}."
        )
    total = sum(int(g.get("InstanceCount", 0)) for g in groups)
    if total > q.instances_per_cluster:
        raise LimitExceeded(
            f"Cluster {cluster_name} would have {total} instances; the limit is "
            f"{q.instances_per_cluster} instances per cluster."
        )


def _preflight(ctx: Context, request: dict[str, Any]) -> list[str]:
    """The HyperPod preflight (docs/preflight.md), when the server runs one: raises Invalid
    naming each requirement not met, else returns warnings for the cluster's events."""
    return ctx.preflight(ctx, request) if ctx.preflight is not None else []


def _record_warnings(ctx: Context, cluster: Cluster, warnings: list[str]) -> None:
    ctx.store.add_events(
        [
            ClusterEvent(str(uuid.uuid4()), cluster.cluster_id, ctx.now(), "Cluster", "Warn", text)
            for text in warnings
        ]
    )


def create_cluster(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    groups = req.get("InstanceGroups", [])
    tag_rules.check_new(req.get("Tags", []))  # the cluster's tags (control.sagemaker.tags)
    minor = images.kubernetes_minor(ctx, req)  # its EKS cluster's (the AMI releases it may run)
    _check(
        cluster_rules.orchestrator_problems(req)
        + cluster_rules.group_problems(groups, ctx.instance_types.problem)
        + software_rules.software_problems(groups, minor, load_images(), ctx.now())
        + (
            ["RestrictedInstanceGroups are not supported by podwarden."]
            if "RestrictedInstanceGroups" in req
            else []
        )
    )
    existing = ctx.store.list_clusters(ctx.account, ctx.region)
    if len(existing) >= ctx.quotas.clusters_per_region:
        raise LimitExceeded(
            f"The account already has {len(existing)} clusters in {ctx.region}; the limit is "
            f"{ctx.quotas.clusters_per_region} clusters per Region."
        )
    check_quotas(ctx, req["ClusterName"], groups)
    warnings = _preflight(ctx, req)
    cluster_id = ids.new_cluster_id()
    cluster = Cluster(
        cluster_id=cluster_id,
        name=req["ClusterName"],
        arn=ids.cluster_arn(ctx.region, ctx.account, cluster_id),
        region=ctx.region,
        account=ctx.account,
        status=ClusterStatus.CREATING,
        created=ctx.now(),
        spec={k: copy.deepcopy(req[k]) for k in CLUSTER_MEMBERS if k in req},
        groups={g["InstanceGroupName"]: InstanceGroup(spec=copy.deepcopy(g)) for g in groups},
    )
    for group in cluster.groups.values():
        images.place_new_group(group, minor, ctx.now())
    ctx.store.create_cluster(cluster)
    ctx.store.put_operations(
        [
            new_operation(
                ctx, cluster, ops.SCALING, scaling=ops.scaling_details({}, cluster.groups, {})
            )
        ]
    )
    _record_warnings(ctx, cluster, warnings)
    ctx.wake(SAGEMAKER_CLUSTER, cluster.cluster_id)
    return {"ClusterArn": cluster.arn}


def update_cluster(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    cluster = find_cluster(ctx, req["ClusterName"])
    if cluster.status not in (ClusterStatus.IN_SERVICE, ClusterStatus.FAILED):
        raise Conflict(
            f"Cluster {cluster.name} is in {cluster.status} state; it can be updated once it is "
            "InService."
        )
    updated = req.get("InstanceGroups", [])
    to_delete = req.get("InstanceGroupsToDelete", [])
    existing = {name: g.spec for name, g in cluster.groups.items() if not g.deleting}
    minor = images.kubernetes_minor(ctx, cluster.spec)
    _check(
        cluster_rules.group_problems(updated, ctx.instance_types.problem)
        + cluster_rules.update_problems(existing, updated, to_delete)
        + software_rules.software_problems(
            updated, minor, load_images(), ctx.now(), frozenset(existing)
        )
    )
    before = copy.deepcopy(cluster.groups)
    after = {n: g.spec for n, g in cluster.groups.items() if not g.deleting and n not in to_delete}
    after.update({g["InstanceGroupName"]: g for g in updated})
    check_quotas(ctx, cluster.name, list(after.values()))
    # the cluster's own members with the update's: the groups checked are the updated ones
    effective = {**cluster.spec, "ClusterName": cluster.name, "InstanceGroups": updated}
    effective.update({m: req[m] for m in UPDATABLE_MEMBERS if m in req})
    warnings = _preflight(ctx, effective)
    earliest = images.earliest_group(cluster)  # a new group's AMI in a Continuous cluster
    for spec in updated:
        name = spec["InstanceGroupName"]
        if name in cluster.groups:
            images.respec_group(cluster.groups[name], spec, ctx.now())
            cluster.groups[name].spec = copy.deepcopy(spec)
            cluster.groups[name].status = GroupStatus.UPDATING
        else:
            cluster.groups[name] = InstanceGroup(spec=copy.deepcopy(spec))
            images.place_new_group(cluster.groups[name], minor, ctx.now(), earliest)
    for name in to_delete:
        cluster.groups[name].deleting = True
        cluster.groups[name].status = GroupStatus.DELETING
    for member in UPDATABLE_MEMBERS:
        if member in req:
            cluster.spec[member] = copy.deepcopy(req[member])
    if updated or to_delete:
        cluster.status = ClusterStatus.UPDATING
        cluster.failure_message = None
    ctx.store.save_cluster(cluster)  # Conflict if another update got there first
    record_scaling(ctx, cluster, before)
    _record_warnings(ctx, cluster, warnings)
    ctx.wake(SAGEMAKER_CLUSTER, cluster.cluster_id)
    return {"ClusterArn": cluster.arn}


def record_scaling(ctx: Context, cluster: Cluster, before: dict[str, InstanceGroup]) -> None:
    """A Scaling operation for the groups whose target changed from ``before`` (if any),
    superseding the one in progress."""
    running = ctx.store.count_instances(cluster.cluster_id, IS.RUNNING)
    details = ops.scaling_details(before, cluster.groups, running)
    if details:
        superseded = ctx.store.list_operations(cluster.cluster_id, ops.IN_PROGRESS)
        for op in superseded:
            if op.type == ops.SCALING:
                op.status = ops.SUPERSEDED
        scaling = new_operation(ctx, cluster, ops.SCALING, scaling=details)
        ctx.store.put_operations([o for o in superseded if o.type == ops.SCALING] + [scaling])


def delete_cluster(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    cluster = find_cluster(ctx, req["ClusterName"])
    if cluster.status != ClusterStatus.DELETING:
        cluster.status = ClusterStatus.DELETING
        ctx.store.save_cluster(cluster)
    ctx.wake(SAGEMAKER_CLUSTER, cluster.cluster_id)
    return {"ClusterArn": cluster.arn}


def describe_cluster(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    cluster = find_cluster(ctx, req["ClusterName"])
    running = ctx.store.count_instances(cluster.cluster_id, IS.RUNNING)
    software = images.group_fields(ctx, cluster)  # each group's AMI and software update
    out: dict[str, Any] = {
        "ClusterArn": cluster.arn,
        "ClusterName": cluster.name,
        "ClusterStatus": cluster.status,
        "CreationTime": when(cluster.created),
        "InstanceGroups": [
            group_details(g, running.get(g.name, 0)) | software[g.name]
            for g in cluster.groups.values()
        ],
    }
    if cluster.failure_message:
        out["FailureMessage"] = cluster.failure_message
    out.update({k: v for k, v in cluster.spec.items() if k != "Tags"})
    return out


def kubernetes_details(group: InstanceGroup) -> dict[str, Any]:
    desired = group.spec.get("KubernetesConfig", {})
    current = group.applied_kubernetes_config
    return {
        "CurrentLabels": current.get("Labels", {}),
        "DesiredLabels": desired.get("Labels", {}),
        "CurrentTaints": current.get("Taints", []),
        "DesiredTaints": desired.get("Taints", []),
    }


def group_details(group: InstanceGroup, current: int) -> dict[str, Any]:
    spec = group.spec
    out: dict[str, Any] = {
        "CurrentCount": current,
        "TargetCount": group.target_count,
        "InstanceGroupName": group.name,
        "InstanceType": spec["InstanceType"],
        "ExecutionRole": spec["ExecutionRole"],
        "Status": group.status,
    }
    for member in (
        "MinInstanceCount",
        "LifeCycleConfig",
        "ThreadsPerCore",
        "InstanceStorageConfigs",
        "OnStartDeepHealthChecks",
        "TrainingPlanArn",
        "OverrideVpcConfig",
        "ScheduledUpdateConfig",
        "NetworkInterface",
    ):
        if member in spec:
            out["MinCount" if member == "MinInstanceCount" else member] = spec[member]
    if "KubernetesConfig" in spec or group.applied_kubernetes_config:
        out["KubernetesConfig"] = kubernetes_details(group)
    if group.status in (GroupStatus.CREATING, GroupStatus.UPDATING):
        out["ActiveOperations"] = {"Scaling": 1}
    return out


def list_clusters(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    clusters = ctx.store.list_clusters(ctx.account, ctx.region)
    name_part = req.get("NameContains")
    selected = [
        c
        for c in clusters
        if (name_part is None or name_part in c.name)
        and within(c.created, req)
        and ("TrainingPlanArn" not in req or _uses_plan(c, req["TrainingPlanArn"]))
    ]
    by_name = req.get("SortBy", "CREATION_TIME") == "NAME"
    selected.sort(
        key=lambda c: (c.name, c.created) if by_name else (c.created, c.name),
        reverse=req.get("SortOrder", "Ascending") == "Descending",
    )
    return listing("ClusterSummaries", selected, req, _cluster_summary)


def _cluster_summary(c: Cluster) -> dict[str, Any]:
    return {
        "ClusterArn": c.arn,
        "ClusterName": c.name,
        "CreationTime": when(c.created),
        "ClusterStatus": c.status,
    }


def _uses_plan(cluster: Cluster, plan_arn: str) -> bool:
    return any(g.spec.get("TrainingPlanArn") == plan_arn for g in cluster.groups.values())


OPERATIONS: Operations = {
    "CreateCluster": create_cluster,
    "DescribeCluster": describe_cluster,
    "ListClusters": list_clusters,
    "UpdateCluster": update_cluster,
    "DeleteCluster": delete_cluster,
}
