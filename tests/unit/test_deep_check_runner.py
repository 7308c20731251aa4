"""The reconciler's deep-check steps with the simulated check runner (operator.deep_checks):
records in a real SQLite store, nodes in memory with the labels and taints the provider sets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podwarden.logic.deep_checks import CheckResult
from podwarden.model.cluster import (
    Cluster,
    ClusterStatus,
    DeepCheck,
    Instance,
    InstanceGroup,
    InstanceStatus,
)
from podwarden.model.labels import (
    DEEP_HEALTH,
    FAULT_REASONS,
    HEALTH,
    HEALTH_TAINT_EFFECT,
    HEALTH_TAINT_VALUE,
    PENDING_REPLACEMENT,
    SCHEDULABLE,
)
from podwarden.operator.deep_checks import DeepCheckSteps, SimulatedCheckRunner, run_of
from podwarden.store.sql import Store, sqlite_url

STRESS, MNTV = "InstanceStress", "MultiNodeTrainingValidation"
BASE = 10.0  # InstanceStress 10 s, MultiNodeTrainingValidation 5 s
CID = "abcdefghijkl"
TAINT = {"key": HEALTH, "value": HEALTH_TAINT_VALUE, "effect": HEALTH_TAINT_EFFECT}
USER_TAINT = {"key": "team", "value": "a", "effect": "NoSchedule"}


class Nodes:
    """The provider's side of deep checks, as providers.local.LocalInstances does it."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}

    def add(self, inst: Instance) -> None:
        self.nodes[inst.node_name] = {
            "metadata": {"name": inst.node_name, "labels": {HEALTH: SCHEDULABLE}},
            "spec": {"taints": [USER_TAINT]},
        }

    def labels(self, inst: Instance) -> dict[str, str]:
        labels: dict[str, str] = self.nodes[inst.node_name]["metadata"]["labels"]
        return labels

    def taints(self, inst: Instance) -> list[dict[str, str]]:
        taints: list[dict[str, str]] = self.nodes[inst.node_name]["spec"]["taints"]
        return taints

    async def nodes_of(self, cluster_id: str) -> list[dict[str, Any]]:
        return list(self.nodes.values())

    async def update(self, name: str, patch: dict[str, Any]) -> None:
        node = self.nodes[name]
        node["metadata"]["labels"].update(patch.get("metadata", {}).get("labels", {}))
        if "taints" in patch.get("spec", {}):
            node["spec"]["taints"] = patch["spec"]["taints"]

    async def deep_check_started(self, name: str) -> None:
        taints = [t for t in self.nodes[name]["spec"]["taints"] if t["key"] != HEALTH]
        await self.update(
            name,
            {
                "metadata": {"labels": {HEALTH: "Unschedulable", DEEP_HEALTH: "InProgress"}},
                "spec": {"taints": [*taints, TAINT]},
            },
        )

    async def deep_check_finished(self, name: str, passed: bool) -> None:
        if passed:
            taints = [t for t in self.nodes[name]["spec"]["taints"] if t["key"] != HEALTH]
            patch = {"labels": {HEALTH: SCHEDULABLE, DEEP_HEALTH: "Passed"}}
            await self.update(name, {"metadata": patch, "spec": {"taints": taints}})
        else:
            await self.update(name, {"metadata": {"labels": {DEEP_HEALTH: "Failed"}}})

    def fault(self, inst: Instance) -> None:
        """What the health agent writes for an injected --dhc-fail."""
        self.labels(inst).update(
            {HEALTH: PENDING_REPLACEMENT, FAULT_REASONS: "DeepHealthCheckFailed"}
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(sqlite_url(tmp_path))
    spec = {
        "InstanceGroupName": "g",
        "InstanceType": "ml.p5.48xlarge",
        "InstanceCount": 2,
        "OnStartDeepHealthChecks": [MNTV, STRESS],
    }
    s.create_cluster(
        Cluster(
            cluster_id=CID,
            name="c",
            arn=f"arn:aws:sagemaker:us-west-2:000000000000:cluster/{CID}",
            region="us-west-2",
            account="000000000000",
            status=ClusterStatus.IN_SERVICE,
            created=0.0,
            spec={},
            groups={"g": InstanceGroup(spec=spec)},
        )
    )
    yield s
    s.close()


def instances(store: Store, nodes: Nodes, n: int, **fields: Any) -> list[Instance]:
    new = [
        Instance(
            instance_id=f"i-{k:017x}",
            cluster_id=CID,
            group="g",
            logical_id=f"g-{k}",
            instance_type="ml.p5.48xlarge",
            status=InstanceStatus.RUNNING,
            launch_time=0.0,
            ready_at=0.0,
            deep_check=DeepCheck.REQUESTED,
            **fields,
        )
        for k in range(1, n + 1)
    ]
    store.add_instances(new)
    for inst in new:
        nodes.add(inst)
    return new


def fresh(store: Store, inst: Instance) -> Instance:
    return next(i for i in store.list_instances(CID) if i.instance_id == inst.instance_id)


def steps(store: Store) -> DeepCheckSteps:
    return DeepCheckSteps(store, SimulatedCheckRunner(store, BASE))


def test_a_pair_checked_together_passes_together(store: Store) -> None:
    nodes = Nodes()
    pair = [f"i-{k:017x}" for k in (1, 2)]
    a, b = instances(store, nodes, 2, deep_checks=[MNTV], deep_check_peers=pair)
    cluster = store.cluster_by_id(CID)
    assert cluster is not None

    async def go() -> None:
        await steps(store).start(nodes, cluster, fresh(store, a), 100.0)
        await steps(store).start(nodes, cluster, fresh(store, b), 100.01)
        assert nodes.labels(a)[HEALTH] == "Unschedulable" and TAINT in nodes.taints(a)
        for inst in (a, b):
            await steps(store).finish(nodes, fresh(store, inst), True, 105.1)

    asyncio.run(go())
    for inst in (a, b):
        record = fresh(store, inst)
        assert (record.status, record.deep_check) == (InstanceStatus.RUNNING, DeepCheck.PASSED)
        assert record.message == "Deep health checks passed: MultiNodeTrainingValidation"
        assert nodes.labels(inst)[DEEP_HEALTH] == "Passed"
        assert nodes.taints(inst) == [USER_TAINT]
    events = [e.description for e in store.list_events(CID)]
    assert f"Instance {a.instance_id}: Deep health checks passed: {MNTV}" in events


def test_a_fault_on_one_node_fails_the_validation_for_both_and_only_that_node_is_blamed(
    store: Store,
) -> None:
    nodes = Nodes()
    pair = [f"i-{k:017x}" for k in (1, 2)]
    a, b = instances(store, nodes, 2, deep_checks=[STRESS, MNTV], deep_check_peers=pair)
    cluster = store.cluster_by_id(CID)
    assert cluster is not None

    async def go() -> None:
        for inst in (a, b):
            await steps(store).start(nodes, cluster, fresh(store, inst), 100.0)
        nodes.fault(b)  # 2 s in: InstanceStress is running on both
        await steps(store).finish(nodes, fresh(store, b), False, 102.0)
        peer = fresh(store, a)  # the failure is shared: the peer's run ends at once
        assert peer.deep_check == DeepCheck.IN_PROGRESS and peer.deep_check_until == 102.0
        assert [CheckResult.from_doc(d).check for d in peer.deep_check_results] == [MNTV]
        await steps(store).finish(nodes, peer, False, 102.05)

    asyncio.run(go())
    blamed, peer = fresh(store, b), fresh(store, a)
    assert blamed.deep_check == peer.deep_check == DeepCheck.FAILED
    assert blamed.message == (
        f"Deep health checks failed: InstanceStress ({b.node_name} reported "
        f"DeepHealthCheckFailed); MultiNodeTrainingValidation ({b.node_name} reported "
        "DeepHealthCheckFailed during the checks)"
    )
    assert peer.message == (
        f"Deep health checks failed: MultiNodeTrainingValidation ({b.node_name} reported "
        "DeepHealthCheckFailed during the checks); not run: InstanceStress (stopped: "
        "MultiNodeTrainingValidation failed)"
    )
    # the blamed node keeps the fault's labels (its recovery follows); the peer is released
    assert nodes.labels(b)[HEALTH] == PENDING_REPLACEMENT
    assert (nodes.labels(a)[HEALTH], nodes.labels(a)[DEEP_HEALTH]) == (SCHEDULABLE, "Failed")
    assert nodes.labels(b)[DEEP_HEALTH] == "Failed"
    assert nodes.taints(a) == [USER_TAINT]
    levels = {e.instance_id: e.level for e in store.list_events(CID)}
    assert levels == {a.instance_id: "Error", b.instance_id: "Error"}


def test_on_start_nodes_are_checked_together_and_end_with_the_last_to_start(
    store: Store,
) -> None:
    nodes = Nodes()
    a, b = instances(store, nodes, 2)
    cluster = store.cluster_by_id(CID)
    assert cluster is not None

    async def go() -> None:
        await steps(store).start(nodes, cluster, fresh(store, a), 100.0)
        await steps(store).start(nodes, cluster, fresh(store, b), 103.0)

    asyncio.run(go())
    first, second = fresh(store, a), fresh(store, b)
    assert first.deep_checks == second.deep_checks == [STRESS, MNTV]  # run order
    assert first.deep_check_peers == second.deep_check_peers == [a.instance_id, b.instance_id]
    # 15 s each: the first's end moved to the second's
    assert first.deep_check_until == second.deep_check_until == 118.0
    assert first.deep_check_started == 100.0
    assert first.message == (
        "Deep health checks in progress: InstanceStress, MultiNodeTrainingValidation "
        "(across 2 nodes checked together)"
    )
    assert run_of(first).checks == (STRESS, MNTV)


def test_a_lone_new_node_passes_without_the_multi_node_validation(store: Store) -> None:
    nodes = Nodes()
    (a,) = instances(store, nodes, 1)
    cluster = store.cluster_by_id(CID)
    assert cluster is not None

    async def go() -> None:
        await steps(store).start(nodes, cluster, fresh(store, a), 100.0)
        await steps(store).finish(nodes, fresh(store, a), True, 115.0)

    asyncio.run(go())
    record = fresh(store, a)
    assert record.deep_check == DeepCheck.PASSED
    assert record.message == (
        "Deep health checks passed: InstanceStress; not run: MultiNodeTrainingValidation "
        "(not run: needs at least 2 nodes checked together, 1 started)"
    )
