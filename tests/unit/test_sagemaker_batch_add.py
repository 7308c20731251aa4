"""BatchAddClusterNodes (``control.sagemaker.node_additions``) on SQLite, and the reconciler
side: the planner launches the promised NodeLogicalIds first and then forgets them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.sagemaker import OPERATIONS, clusters
from podwarden.logic import cluster_actions as ca
from podwarden.logic import cluster_plan as cp
from podwarden.logic import operations as ops
from podwarden.model.changes import Change
from podwarden.model.cluster import (
    Cluster,
    ClusterStatus,
    GroupStatus,
    Instance,
    InstanceGroup,
    InstanceStatus,
)
from podwarden.model.errors import Invalid, LimitExceeded, NotFound
from podwarden.operator.clusters import ClusterReconciler
from podwarden.policy.quotas import Quotas
from podwarden.store.sql import Store, sqlite_url

EKS = {"Eks": {"ClusterArn": "arn:aws:eks:us-west-2:000000000000:cluster/x"}}
QUOTAS = Quotas(clusters_per_region=5, instance_groups_per_cluster=5, instances_per_cluster=20)


class AnyType:
    def problem(self, name: str) -> str | None:
        return None


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def woken() -> list[Change]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(tmp_path: Path, woken: list[Change], clock: Clock) -> Context:
    store = Store(sqlite_url(tmp_path))
    return Context("000000000000", "us-west-2", store, AnyType(), woken.append, clock, QUOTAS)


def group(name: str, count: int) -> dict[str, Any]:
    return {
        "InstanceGroupName": name,
        "InstanceType": "ml.c5.large",
        "InstanceCount": count,
        "ExecutionRole": "arn:aws:iam::000000000000:role/r",
    }


def make_cluster(
    ctx: Context, *, mode: str | None = "Continuous", status: str = ClusterStatus.IN_SERVICE
) -> Cluster:
    """A cluster with groups ``w`` (1 node) and ``x`` (2), InService as the reconciler leaves it."""
    req: dict[str, Any] = {
        "ClusterName": "c",
        "InstanceGroups": [group("w", 1), group("x", 2)],
        "Orchestrator": EKS,
    }
    if mode is not None:
        req["NodeProvisioningMode"] = mode
    clusters.create_cluster(ctx, req)
    cluster = clusters.find_cluster(ctx, "c")
    cluster.status = status
    for g in cluster.groups.values():
        g.status = GroupStatus.IN_SERVICE
    ctx.store.save_cluster(cluster)
    for op in ctx.store.list_operations(cluster.cluster_id, ops.IN_PROGRESS):
        op.status = ops.DONE
    ctx.store.put_operations(ctx.store.list_operations(cluster.cluster_id))
    return clusters.find_cluster(ctx, "c")


def add(ctx: Context, *nodes: tuple[str, int], token: str | None = "t1") -> dict[str, Any]:
    req: dict[str, Any] = {
        "ClusterName": "c",
        "NodesToAdd": [{"InstanceGroupName": g, "IncrementTargetCountBy": n} for g, n in nodes],
    }
    if token is not None:
        req["ClientToken"] = token
    return OPERATIONS["BatchAddClusterNodes"](ctx, req)


def test_adds_nodes_as_desired_state(ctx: Context, woken: list[Change]) -> None:
    before = make_cluster(ctx)
    woken.clear()
    out = add(ctx, ("w", 2), ("x", 1))
    assert out["Failed"] == []
    assert [(n["InstanceGroupName"], n["Status"]) for n in out["Successful"]] == [
        ("w", "Pending"),
        ("w", "Pending"),
        ("x", "Pending"),
    ]
    logical = [n["NodeLogicalId"] for n in out["Successful"]]
    assert len(set(logical)) == 3 and all(x.startswith(("w-", "x-")) for x in logical)
    after = clusters.find_cluster(ctx, "c")
    assert after.status == ClusterStatus.UPDATING
    assert after.groups["w"].target_count == 3 and after.groups["x"].target_count == 3
    assert after.groups["w"].reserved_logical_ids == logical[:2]
    assert after.groups["x"].reserved_logical_ids == logical[2:]
    assert after.groups["w"].status == GroupStatus.UPDATING
    (op,) = ctx.store.list_operations(before.cluster_id, ops.IN_PROGRESS)
    assert op.type == ops.SCALING
    assert [(d["InstanceGroupName"], d["Desired"]["TargetCount"]) for d in op.scaling] == [
        ("w", 3),
        ("x", 3),
    ]
    events = ctx.store.list_events(before.cluster_id)
    assert any(logical[0] in e.description and e.group == "w" for e in events)
    assert [c.key for c in woken] == [before.cluster_id]


def test_per_group_failures_beside_successes(ctx: Context) -> None:
    cluster = make_cluster(ctx)
    cluster.groups["x"].status = GroupStatus.CREATING
    ctx.store.save_cluster(cluster)
    out = OPERATIONS["BatchAddClusterNodes"](
        ctx,
        {
            "ClusterName": "c",
            "NodesToAdd": [
                {"InstanceGroupName": "nope", "IncrementTargetCountBy": 2},
                {"InstanceGroupName": "x", "IncrementTargetCountBy": 1},
                {"InstanceGroupName": "w", "IncrementTargetCountBy": 1},
            ],
        },
    )
    assert [(f["InstanceGroupName"], f["ErrorCode"], f["FailedCount"]) for f in out["Failed"]] == [
        ("nope", "InstanceGroupNotFound", 2),
        ("x", "InvalidInstanceGroupStatus", 1),
    ]
    assert [n["InstanceGroupName"] for n in out["Successful"]] == ["w"]
    after = clusters.find_cluster(ctx, "c")
    assert after.groups["w"].target_count == 2 and after.groups["x"].target_count == 2


def test_incompatible_types_and_zones(ctx: Context) -> None:
    make_cluster(ctx)
    out = OPERATIONS["BatchAddClusterNodes"](
        ctx,
        {
            "ClusterName": "c",
            "NodesToAdd": [
                {
                    "InstanceGroupName": "w",
                    "IncrementTargetCountBy": 1,
                    "InstanceTypes": ["ml.m5.large"],
                },
                {
                    "InstanceGroupName": "x",
                    "IncrementTargetCountBy": 1,
                    "AvailabilityZones": ["eu-west-1b"],
                },
            ],
        },
    )
    assert [f["ErrorCode"] for f in out["Failed"]] == [
        "IncompatibleInstanceTypes",
        "IncompatibleAvailabilityZones",
    ]
    assert out["Successful"] == []
    assert clusters.find_cluster(ctx, "c").status == ClusterStatus.IN_SERVICE


def test_client_token_replays_with_latest_status(ctx: Context) -> None:
    cluster = make_cluster(ctx)
    first = add(ctx, ("w", 2), ("nope", 1))
    again = add(ctx, ("w", 2), ("nope", 1))
    assert again == first
    assert clusters.find_cluster(ctx, "c").groups["w"].target_count == 3  # added once
    # the reconciler launches the first promised node; the other stays reserved
    launched = Instance(
        "i-00000000000000001",
        cluster.cluster_id,
        "w",
        first["Successful"][0]["NodeLogicalId"],
        "ml.c5.large",
        InstanceStatus.RUNNING,
        0.0,
        0.0,
    )
    ctx.store.add_instances([launched])
    statuses = [n["Status"] for n in add(ctx, ("w", 2), ("nope", 1))["Successful"]]
    assert statuses == ["Running", "Pending"]
    now = clusters.find_cluster(ctx, "c")
    now.groups["w"].reserved_logical_ids = []
    ctx.store.save_cluster(now)
    statuses = [n["Status"] for n in add(ctx, ("w", 2), ("nope", 1))["Successful"]]
    assert statuses == ["Running", "NotFound"]


def test_client_token_with_another_request_is_refused(ctx: Context, clock: Clock) -> None:
    make_cluster(ctx)
    add(ctx, ("w", 1))
    with pytest.raises(Invalid) as info:
        add(ctx, ("w", 2))
    assert info.value.reason == "node-addition-token-reused"
    # a new token adds again; an expired token (8 hours) is a new request
    add(ctx, ("w", 1), token="t2")
    clock.t += 8 * 3600 + 1
    add(ctx, ("w", 2))
    assert clusters.find_cluster(ctx, "c").groups["w"].target_count == 5


def test_tokens_are_bounded(ctx: Context, clock: Clock) -> None:
    make_cluster(ctx)
    for n in range(105):
        clock.t += 1
        add(ctx, ("nope", 1), token=f"t{n}")
    kept = clusters.find_cluster(ctx, "c").add_node_requests
    assert len(kept) == 100 and "t4" not in kept and {"t5", "t104"} <= set(kept)


@pytest.mark.parametrize(
    ("setup", "nodes", "reason"),
    [
        ({"mode": None}, [("w", 1)], "node-addition-not-continuous"),
        ({"status": ClusterStatus.CREATING}, [("w", 1)], "node-addition-cluster-status"),
        ({"status": ClusterStatus.FAILED}, [("w", 1)], "node-addition-cluster-status"),
        ({}, [("w", 1), ("w", 1)], "node-addition-repeated-group"),
        ({}, [("w", 30), ("x", 21)], "node-addition-too-many"),
    ],
)
def test_whole_request_refusals(
    ctx: Context, setup: dict[str, Any], nodes: list[tuple[str, int]], reason: str
) -> None:
    make_cluster(ctx, **setup)
    with pytest.raises(Invalid) as info:
        add(ctx, *nodes)
    assert info.value.reason == reason
    assert clusters.find_cluster(ctx, "c").groups["w"].target_count == 1


def test_quota_and_missing_cluster(ctx: Context) -> None:
    with pytest.raises(NotFound):
        add(ctx, ("w", 1))
    make_cluster(ctx)
    with pytest.raises(LimitExceeded, match="limit is 20 instances per cluster"):
        add(ctx, ("w", 18))
    after = clusters.find_cluster(ctx, "c")
    assert after.groups["w"].target_count == 1 and not after.add_node_requests


# ---- the reconciler side -------------------------------------------------------------------


def planned(reserved: list[str], live: int, target: int) -> list[ca.Action]:
    spec = {"InstanceGroupName": "w", "InstanceType": "ml.c5.large", "InstanceCount": target}
    cluster = Cluster(
        "abcdefghijkl", "c", "arn", "us-west-2", "000000000000", ClusterStatus.UPDATING, 0.0, {}
    )
    cluster.groups["w"] = InstanceGroup(
        spec=spec, status=GroupStatus.UPDATING, reserved_logical_ids=reserved
    )
    instances = [
        Instance(f"i-{n:017x}", "abcdefghijkl", "w", f"w-{n}", "ml.c5.large", "Pending", 0, 1e12)
        for n in range(live)
    ]
    plan = cp.plan_cluster(cluster, instances, {}, 0.0)
    return [a for a in plan.actions if isinstance(a, ca.Launch | ca.ReleaseLogicalIds)]


def test_plan_launches_promised_ids_first() -> None:
    assert planned(["w-a", "w-b"], live=1, target=4) == [
        ca.Launch("w", 3, ("w-a", "w-b")),
        ca.ReleaseLogicalIds("w"),
    ]
    # an id an instance already has (a pass that crashed before forgetting it) is not reused
    assert planned(["w-0", "w-b"], live=1, target=3) == [
        ca.Launch("w", 2, ("w-b",)),
        ca.ReleaseLogicalIds("w"),
    ]
    # the target fell below (BatchDeleteClusterNodes): the promise is forgotten
    assert planned(["w-a"], live=2, target=2) == [ca.ReleaseLogicalIds("w")]
    assert planned([], live=1, target=2) == [ca.Launch("w", 1)]


class NoNodes:
    async def nodes_of(self, cluster_id: str) -> list[dict[str, Any]]:
        return []


class OneKube:
    async def provider_for(self, cluster: Cluster) -> NoNodes:
        return NoNodes()


def test_reconciler_gives_new_instances_the_promised_ids(ctx: Context) -> None:
    cluster = make_cluster(ctx)
    out = add(ctx, ("w", 2))
    promised = [n["NodeLogicalId"] for n in out["Successful"]]
    reconciler = ClusterReconciler(
        ctx.store,
        OneKube(),  # type: ignore[arg-type]
        lambda _type, _gib: {},
    )
    asyncio.run(reconciler.reconcile(cluster.cluster_id))
    launched = {i.logical_id for i in ctx.store.list_instances(cluster.cluster_id)}
    assert set(promised) <= launched and len(launched) == 5  # 3 before, 2 added
    assert clusters.find_cluster(ctx, "c").groups["w"].reserved_logical_ids == []
    described = OPERATIONS["DescribeClusterNode"](
        ctx, {"ClusterName": "c", "NodeLogicalId": promised[0]}
    )
    assert described["NodeDetails"]["InstanceGroupName"] == "w"
