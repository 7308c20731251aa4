"""SageMaker's BatchAddClusterNodes: add nodes to instance groups of a HyperPod cluster.

The handler writes desired state only, as UpdateCluster does: each group's ``InstanceCount``
(its target count) goes up by ``IncrementTargetCountBy``, and the NodeLogicalIds it answers are
reserved on the group (``InstanceGroup.reserved_logical_ids``); the cluster reconciler's next
launches of the group give its new instances exactly those ids (``logic.cluster_plan``), so
DescribeClusterNode and ListClusterNodes show them from the node's launch on. The cluster and
the groups that grow go ``Updating``, a Scaling operation (ListClusterOperations) and a cluster
event record the request, and the cluster's reconciler is woken. The nodes then join, run their
deep health checks and schedule as CreateCluster's do.

From botocore's model: at most 5 groups and 50 nodes a request; ``ResourceNotFound`` for an
unknown cluster, ``ResourceLimitExceeded`` when the cluster would pass the account's quotas
(``policy/quotas``, as UpdateCluster checks); per-group refusals go in ``Failed`` with the
model's ``BatchAddClusterNodesErrorCode`` while the other groups succeed. Where AWS is silent,
podwarden chooses:

- a cluster whose NodeProvisioningMode is not ``Continuous`` is refused whole with a
  ``ValidationException`` (the model says the operation is only supported there; it models no
  error of its own for it); so is a cluster that is not ``InService`` or ``Updating``
  (Creating, Failed, Deleting) and a request that names a group twice;
- per group: a group the cluster does not have is ``InstanceGroupNotFound``; a group being
  created, deleted or Failed is ``InvalidInstanceGroupStatus``; ``InstanceTypes`` without the
  group's type is ``IncompatibleInstanceTypes`` and ``AvailabilityZones`` outside the cluster's
  zones ``IncompatibleAvailabilityZones`` (podwarden's groups have one instance type; a node
  is placed in one of the cluster's zones as at launch);
- ``ClientToken`` (botocore fills one in when the caller does not): the same token with the same
  ``NodesToAdd`` within 8 hours answers the same NodeLogicalIds, each with its latest status
  (``Pending`` while reserved, the instance's status once launched, ``NotFound`` once it is
  gone), and the same ``Failed``, and adds nothing; the same token with a different request is
  a ``ValidationException`` (AWS's usual ``IdempotentParameterMismatch`` is not in this model).
  Tokens are kept per cluster, the newest 100 for 8 hours; a request refused whole is not
  remembered.

Writes are read-modify-write on the cluster record's version: when another writer (the
reconciler, UpdateCluster) saved the cluster first, the request is planned again from a fresh
read; after a few lost races the caller gets ``ServiceUnavailable``, which SDKs retry.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.sagemaker.clusters import check_quotas, find_cluster, record_scaling
from podwarden.model import ids
from podwarden.model.changes import SAGEMAKER_CLUSTER
from podwarden.model.cluster import Cluster, ClusterEvent, ClusterStatus, GroupStatus
from podwarden.model.errors import Conflict, Invalid, TemporaryError

MAX_NODES = 50  # "a maximum of 50 nodes total across all instance groups" (the model)
TOKEN_SECONDS = 8 * 3600  # "This token is valid for 8 hours" (the model)
TOKENS_KEPT = 100
RETRIES = 5
OPEN_CLUSTER = (ClusterStatus.IN_SERVICE, ClusterStatus.UPDATING)
OPEN_GROUP = (GroupStatus.IN_SERVICE, GroupStatus.UPDATING)


def _fingerprint(req: dict[str, Any]) -> str:
    return json.dumps(req["NodesToAdd"], sort_keys=True, default=str)


def _check_request(cluster: Cluster, req: dict[str, Any]) -> None:
    """Refusals of the whole request (ValidationException)."""
    if cluster.spec.get("NodeProvisioningMode") != "Continuous":
        raise Invalid(reason="node-addition-not-continuous", cluster=cluster.name)
    if cluster.status not in OPEN_CLUSTER:
        raise Invalid(
            reason="node-addition-cluster-status", cluster=cluster.name, status=cluster.status
        )
    names = [spec["InstanceGroupName"] for spec in req["NodesToAdd"]]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise Invalid(reason="node-addition-repeated-group", groups=repeated)
    total = sum(int(spec["IncrementTargetCountBy"]) for spec in req["NodesToAdd"])
    if total > MAX_NODES:
        raise Invalid(reason="node-addition-too-many", count=total, limit=MAX_NODES)


def _group_problem(cluster: Cluster, spec: dict[str, Any]) -> tuple[str, str] | None:
    """(error code, message) when the group named by ``spec`` cannot grow, else None."""
    name = spec["InstanceGroupName"]
    group = cluster.groups.get(name)
    if group is None:
        return (
            "InstanceGroupNotFound",
            f"Instance group {name} not found in cluster {cluster.name}.",
        )
    if group.deleting or group.status not in OPEN_GROUP:
        return (
            "InvalidInstanceGroupStatus",
            f"Instance group {name} is {group.status}; nodes can be added while it is InService "
            "or Updating.",
        )
    types = spec.get("InstanceTypes")
    if types is not None and group.instance_type not in types:
        return (
            "IncompatibleInstanceTypes",
            f"Instance group {name} runs {group.instance_type}, not one of {', '.join(types)}.",
        )
    zones = spec.get("AvailabilityZones")
    have = cluster.spec.get("_AvailabilityZones") or [f"{cluster.region}a"]
    if zones is not None and not set(zones) <= set(have):
        return (
            "IncompatibleAvailabilityZones",
            f"Cluster {cluster.name} places nodes in {', '.join(have)}, not in "
            f"{', '.join(z for z in zones if z not in have)}.",
        )
    return None


def _grow(cluster: Cluster, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Raise the group's target count and reserve a NodeLogicalId per new node; the results."""
    group = cluster.groups[spec["InstanceGroupName"]]
    count = int(spec["IncrementTargetCountBy"])
    group.spec["InstanceCount"] = int(group.spec["InstanceCount"]) + count
    group.status = GroupStatus.UPDATING
    new = [ids.new_logical_id(group.name) for _ in range(count)]
    group.reserved_logical_ids = [*group.reserved_logical_ids, *new]
    return [{"NodeLogicalId": x, "InstanceGroupName": group.name, "Status": "Pending"} for x in new]


def _remember(
    ctx: Context, cluster: Cluster, token: str, asked: str, answer: dict[str, Any]
) -> None:
    now = ctx.now()
    kept = {
        t: entry
        for t, entry in cluster.add_node_requests.items()
        if now - float(entry["time"]) < TOKEN_SECONDS
    }
    kept[token] = {"request": asked, "time": now, **copy.deepcopy(answer)}
    newest = sorted(kept, key=lambda t: float(kept[t]["time"]))[-TOKENS_KEPT:]
    cluster.add_node_requests = {t: kept[t] for t in newest}


def _earlier(ctx: Context, cluster: Cluster, token: str | None) -> dict[str, Any] | None:
    entry = cluster.add_node_requests.get(token) if token else None
    if entry is None or ctx.now() - float(entry["time"]) >= TOKEN_SECONDS:
        return None
    return entry


def _replay(ctx: Context, cluster: Cluster, entry: dict[str, Any]) -> dict[str, Any]:
    """The earlier answer, each node with its latest status."""
    status = {i.logical_id: str(i.status) for i in ctx.store.list_instances(cluster.cluster_id)}
    reserved = {x for g in cluster.groups.values() for x in g.reserved_logical_ids}
    successful = [
        {
            **node,
            "Status": status.get(
                node["NodeLogicalId"],
                "Pending" if node["NodeLogicalId"] in reserved else "NotFound",
            ),
        }
        for node in entry["Successful"]
    ]
    return {"Successful": successful, "Failed": copy.deepcopy(entry["Failed"])}


def _added_event(ctx: Context, cluster: Cluster, nodes: list[dict[str, Any]]) -> list[ClusterEvent]:
    by_group: dict[str, list[str]] = {}
    for node in nodes:
        by_group.setdefault(node["InstanceGroupName"], []).append(node["NodeLogicalId"])
    return [
        ClusterEvent(
            str(uuid.uuid4()),
            cluster.cluster_id,
            ctx.now(),
            "InstanceGroup",
            "Info",
            f"BatchAddClusterNodes: adding {len(added)} node(s) to instance group {group}: "
            + ", ".join(added),
            group=group,
        )
        for group, added in by_group.items()
    ]


def _attempt(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    """One read-plan-write of the request; Conflict when another writer saved first."""
    cluster = find_cluster(ctx, req["ClusterName"])
    token, asked = req.get("ClientToken"), _fingerprint(req)
    earlier = _earlier(ctx, cluster, token)
    if earlier is not None:
        if earlier["request"] != asked:
            raise Invalid(reason="node-addition-token-reused", token=token, cluster=cluster.name)
        return _replay(ctx, cluster, earlier)
    _check_request(cluster, req)
    before = copy.deepcopy(cluster.groups)
    answer: dict[str, Any] = {"Successful": [], "Failed": []}
    for spec in req["NodesToAdd"]:
        problem = _group_problem(cluster, spec)
        if problem is None:
            answer["Successful"] += _grow(cluster, spec)
            continue
        code, message = problem
        answer["Failed"].append(
            {
                "InstanceGroupName": spec["InstanceGroupName"],
                "ErrorCode": code,
                "FailedCount": int(spec["IncrementTargetCountBy"]),
                "Message": message,
            }
        )
    check_quotas(ctx, cluster.name, [g.spec for g in cluster.groups.values() if not g.deleting])
    if answer["Successful"]:
        cluster.status = ClusterStatus.UPDATING
    if token:
        _remember(ctx, cluster, token, asked, answer)
    ctx.store.save_cluster(cluster)  # Conflict if another writer got there first
    if answer["Successful"]:
        record_scaling(ctx, cluster, before)
        ctx.store.add_events(_added_event(ctx, cluster, answer["Successful"]))
        ctx.wake(SAGEMAKER_CLUSTER, cluster.cluster_id)
    return answer


def batch_add_cluster_nodes(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    for _ in range(RETRIES):
        try:
            return _attempt(ctx, req)
        except Conflict:
            continue
    raise TemporaryError(
        f"Cluster {req['ClusterName']} was modified concurrently; retry BatchAddClusterNodes."
    )


OPERATIONS: Operations = {"BatchAddClusterNodes": batch_add_cluster_nodes}
