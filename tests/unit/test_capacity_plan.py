"""Continuous provisioning in the cluster planner and the reconciler: a group launches what the
simulated capacity grants, the cluster goes InService with it, the rest is retried with
backoff and told in events; without Continuous mode a shortfall fails the cluster with AWS's
message and launches nothing (``logic.capacity``, ``logic.cluster_plan``,
``operator.clusters``)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from podwarden.logic import cluster_actions as ca
from podwarden.logic import cluster_plan as cp
from podwarden.logic.capacity import INSUFFICIENT_CAPACITY, CapacityPool, Provisioning
from podwarden.logic.instance_plan import Plan
from podwarden.logic.recovery_policy import ObservedNode
from podwarden.model.cluster import (
    Cluster,
    ClusterStatus,
    GroupStatus,
    Instance,
    InstanceGroup,
    InstanceStatus,
)
from podwarden.model.errors import TerminalError
from podwarden.operator.clusters import ClusterReconciler, ReconcilerSettings
from podwarden.operator.events import cluster_event
from podwarden.policy.capacity import RetryBackoff, SimulatedCapacity
from podwarden.store.sql import Store, sqlite_url

P5 = "ml.p5.48xlarge"
NOW = 1000.0
BACKOFF = RetryBackoff(initial_seconds=5, multiplier=2, max_seconds=30)


def cluster(count: int, *, continuous: bool = True, **record: Any) -> Cluster:
    spec = {"InstanceGroupName": "gpu", "InstanceType": P5, "InstanceCount": count}
    return Cluster(
        cluster_id="abcdefghijkl",
        name="c",
        arn="arn:aws:sagemaker:us-west-2:000000000000:cluster/abcdefghijkl",
        region="us-west-2",
        account="000000000000",
        status=record.pop("cluster_status", ClusterStatus.CREATING),
        created=0.0,
        spec={"NodeProvisioningMode": "Continuous"} if continuous else {},
        groups={"gpu": InstanceGroup(spec=spec, **record)},
    )


def running(n: int) -> Instance:
    return Instance(
        instance_id=f"i-{n:017x}",
        cluster_id="abcdefghijkl",
        group="gpu",
        logical_id=f"gpu-{n}",
        instance_type=P5,
        status=InstanceStatus.RUNNING,
        launch_time=0.0,
        ready_at=0.0,
    )


def observed(instances: list[Instance]) -> dict[str, ObservedNode]:
    return {i.node_name: ObservedNode(i.node_name, True, {}, ()) for i in instances}


def plan(c: Cluster, instances: list[Instance], limit: int, now: float = NOW) -> Plan:
    pool = CapacityPool({P5: limit}, lambda: {P5: len(instances)})
    return cp.plan_cluster(
        c, instances, observed(instances), now, provisioning=Provisioning(pool, BACKOFF)
    )


def of(kind: type, p: Plan) -> list[Any]:
    return [a for a in p.actions if isinstance(a, kind)]


def test_continuous_cluster_launches_what_it_gets_and_retries_later() -> None:
    p = plan(cluster(4), [], limit=2)
    assert of(ca.Launch, p) == [ca.Launch("gpu", 2)]
    assert of(ca.CapacityRetry, p) == [ca.CapacityRetry("gpu", 2, 1, NOW + 5)]
    assert [n.level for n in of(ca.CapacityNotice, p)] == ["Warn"]
    assert p.requeue_after == 5
    assert not of(ca.SetCluster, p)  # two instances are still launching


def test_the_cluster_goes_in_service_with_the_capacity_it_got() -> None:
    c = cluster(4, capacity_shortfall=2, capacity_attempts=1, capacity_retry_at=NOW + 5)
    p = plan(c, [running(1), running(2)], limit=2)
    assert p.actions == [
        ca.SetGroup("gpu", GroupStatus.IN_SERVICE, {}),
        ca.SetCluster(ClusterStatus.IN_SERVICE),
    ]
    assert p.requeue_after == 5  # the next attempt
    # an InService group stays so while its retries launch (Continuous mode)
    c.status, c.groups["gpu"].status = ClusterStatus.IN_SERVICE, GroupStatus.IN_SERVICE
    c.groups["gpu"].capacity_retry_at = NOW
    arrived = plan(c, [running(1), running(2)], limit=4)
    assert of(ca.Launch, arrived) == [ca.Launch("gpu", 2)]
    assert [n.level for n in of(ca.CapacityNotice, arrived)] == ["Info"]
    assert not of(ca.SetGroup, arrived) and not of(ca.SetCluster, arrived)


def test_a_zero_capacity_group_is_in_service_empty() -> None:
    p = plan(cluster(2), [], limit=0)
    assert of(ca.SetCluster, p) == [ca.SetCluster(ClusterStatus.IN_SERVICE)]
    assert of(ca.SetGroup, p) == [ca.SetGroup("gpu", GroupStatus.IN_SERVICE, {})]


def test_promised_logical_ids_wait_with_their_instances() -> None:
    c = cluster(3, reserved_logical_ids=["a", "b"], cluster_status=ClusterStatus.UPDATING)
    p = plan(c, [running(1)], limit=2)
    assert of(ca.Launch, p) == [ca.Launch("gpu", 1, ("a",))]
    assert of(ca.ReleaseLogicalIds, p) == [ca.ReleaseLogicalIds("gpu", ("b",))]
    # while it waits, the promise is left as it is (no action, no spin)
    c.groups["gpu"].reserved_logical_ids = ["b"]
    c.groups["gpu"].capacity_shortfall, c.groups["gpu"].capacity_retry_at = 1, NOW + 5
    assert not of(ca.ReleaseLogicalIds, plan(c, [running(1), running(2)], limit=2))


def test_not_continuous_a_shortfall_fails_the_cluster_and_nothing_else_happens() -> None:
    p = plan(cluster(4, continuous=False), [], limit=3)
    assert p.actions == [ca.CapacityFailed(INSUFFICIENT_CAPACITY)]
    assert p.requeue_after is None


# -- the reconciler: store, events, the failure ------------------------------------------------


class MemoryNodes:
    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}

    async def nodes_of(self, cluster_id: str) -> list[dict[str, Any]]:
        return list(self.nodes.values())

    async def launch(self, manifest: dict[str, Any]) -> None:
        # registered by its kubelet at once, Ready
        ready = {
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "kwok-v0.7.0"},
        }
        self.nodes[manifest["metadata"]["name"]] = {**manifest, "status": ready}

    async def workload_pods(self, name: str) -> int:
        return 0


class OneKube:
    def __init__(self) -> None:
        self.nodes = MemoryNodes()

    async def provider_for(self, cluster: Cluster) -> MemoryNodes:
        return self.nodes


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(sqlite_url(tmp_path))


def reconciler(store: Store, clock: Clock, capacity: SimulatedCapacity) -> ClusterReconciler:
    return ClusterReconciler(
        store,
        OneKube(),  # type: ignore[arg-type]
        lambda _type, _gib: {},
        ReconcilerSettings(launch_delay=0.0),
        clock=clock,
        ec2_capacity=capacity,
    )


def passes(r: ClusterReconciler, n: int) -> None:
    for _ in range(n):
        asyncio.run(r.reconcile("abcdefghijkl"))


def test_reconciler_shares_capacity_between_clusters_and_records_the_story(store: Store) -> None:
    other = cluster(1, continuous=False)
    other.cluster_id, other.name = "zzzzzzzzzzzz", "other"
    store.create_cluster(other)
    store.add_instances([dataclasses.replace(running(9), cluster_id="zzzzzzzzzzzz")])
    store.create_cluster(cluster(3))
    clock, capacity = Clock(), SimulatedCapacity({P5: 3}, BACKOFF)
    r = reconciler(store, clock, capacity)
    passes(r, 6)  # launch 2 (1 is held by the other cluster), nodes, Running, InService
    c = store.cluster_by_id("abcdefghijkl")
    assert c is not None and c.status == ClusterStatus.IN_SERVICE
    assert len(store.list_instances(c.cluster_id)) == 2
    assert (c.groups["gpu"].capacity_shortfall, c.groups["gpu"].capacity_attempts) == (1, 1)
    warns = [e for e in store.list_events(c.cluster_id) if e.level == "Warn"]
    assert len(warns) == 1  # one per attempt, however many passes
    assert warns[0].metadata["InstanceGroupScaling"]["FailureMessage"] == INSUFFICIENT_CAPACITY

    clock.now += 5  # the next attempt: still short
    passes(r, 3)
    assert len([e for e in store.list_events(c.cluster_id) if e.level == "Warn"]) == 2
    capacity.set_limits({P5: 4})  # raised (``podwarden capacity set``)
    passes(r, 3)
    assert len(store.list_instances(c.cluster_id)) == 2  # the next attempt is not due yet
    clock.now += 10
    passes(r, 4)
    c = store.cluster_by_id("abcdefghijkl")
    assert c is not None and len(store.list_instances(c.cluster_id)) == 3
    assert (c.groups["gpu"].capacity_shortfall, c.groups["gpu"].capacity_attempts) == (0, 0)
    assert c.groups["gpu"].status == GroupStatus.IN_SERVICE
    infos = [
        e.description for e in store.list_events(c.cluster_id) if "is available" in e.description
    ]
    assert len(infos) == 1 and "after 2 refused attempt(s)" in infos[0]


def test_reconciler_fails_a_cluster_that_is_not_continuous(store: Store) -> None:
    store.create_cluster(cluster(4, continuous=False))
    r = reconciler(store, Clock(), SimulatedCapacity({P5: 2}, BACKOFF))
    with pytest.raises(TerminalError) as info:
        passes(r, 1)
    assert info.value.message == INSUFFICIENT_CAPACITY
    r.failed("abcdefghijkl", info.value)
    c = store.cluster_by_id("abcdefghijkl")
    assert c is not None and c.status == ClusterStatus.FAILED
    assert c.failure_message == INSUFFICIENT_CAPACITY
    assert c.groups["gpu"].status == GroupStatus.FAILED
    assert store.list_instances(c.cluster_id) == []  # all or nothing


def test_capacity_notice_becomes_an_event_with_scaling_metadata() -> None:
    c = cluster(4)
    scaling = {"InstanceCount": 1, "TargetCount": 4, "MinCount": 0}
    event = cluster_event(c, {}, ca.CapacityNotice("gpu", "Warn", "short", scaling), NOW)
    assert event is not None
    assert (event.resource_type, event.level, event.group) == ("InstanceGroup", "Warn", "gpu")
    assert event.metadata == {"InstanceGroupScaling": scaling}
