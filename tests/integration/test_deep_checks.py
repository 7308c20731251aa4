"""MultiNodeTrainingValidation on the real control plane: StartClusterHealthCheck runs it across
the nodes of a group checked together; they pass together, and a fault injected on one of them
(``podwarden fault inject --dhc-fail``: the health agent labels the node) fails the validation
for all of them, blamed on that node (operator.deep_checks;
docs/sources.md, "Deep health check types")."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from podwarden.agent.inject import inject, signal_for
from podwarden.kube.nodes import KubeNodes
from podwarden.local.runtime import ControlPlane
from podwarden.operator.clusters import ReconcilerSettings

from .hyperpod_helpers import all_nodes, group, serving, wait_status
from .hyperpod_server import EKS_ARN, sagemaker
from .kube_objects import as_dict, wait_for

HEALTH = "sagemaker.amazonaws.com/node-health-status"
DEEP = "sagemaker.amazonaws.com/deep-health-check-status"
TAINT = {"effect": "NoSchedule", "key": HEALTH, "value": "Unschedulable"}
MNTV = "MultiNodeTrainingValidation"
NAME = "pw-mntv"
# InstanceStress 8 s, MultiNodeTrainingValidation 4 s (policy/tables/deep_checks.yaml): long
# enough to see a run under way and to inject a fault into it on a loaded machine
CHECKS = ReconcilerSettings(launch_delay=0.2, resync=0.5, deep_check_duration=8.0)


@pytest.fixture(scope="module")
def sm(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with serving(control_plane, tmp_path_factory.mktemp("podwarden"), CHECKS) as srv:
        yield sagemaker(srv.endpoint)


def node_of(kube: client.ApiClient, instance_id: str) -> dict[str, Any]:
    return as_dict(kube, client.CoreV1Api(kube).read_node(f"hyperpod-{instance_id}"))


def statuses(sm: Any, ids: list[str]) -> dict[str, dict[str, str]]:
    """InstanceStatus (Status, Message) of each instance, by DescribeClusterNode."""
    return {
        i: sm.describe_cluster_node(ClusterName=NAME, NodeId=i)["NodeDetails"]["InstanceStatus"]
        for i in ids
    }


def wait_all(sm: Any, ids: list[str], status: str, what: str) -> dict[str, dict[str, str]]:
    seen: list[dict[str, dict[str, str]]] = []

    def probe() -> dict[str, dict[str, str]] | None:
        now = statuses(sm, ids)
        seen[:] = [now]
        return now if all(s["Status"] == status for s in now.values()) else None

    return wait_for(what, probe, interval=0.05, seen=lambda: seen)


def under_checks(kube: client.ApiClient, ids: list[str]) -> bool:
    """Every node carries what R18 asks while its checks run."""
    nodes = [node_of(kube, i) for i in ids]
    return all(
        (n["metadata"]["labels"].get(HEALTH), n["metadata"]["labels"].get(DEEP))
        == ("Unschedulable", "InProgress")
        and TAINT in (n["spec"].get("taints") or [])
        for n in nodes
    )


def start(sm: Any, checks: list[str]) -> None:
    sm.start_cluster_health_check(
        ClusterName=NAME,
        DeepHealthCheckConfigurations=[{"InstanceGroupName": "gpu", "DeepHealthChecks": checks}],
    )


def inject_dhc_fail(cp: ControlPlane, instance_id: str) -> None:
    async def run() -> None:
        nodes = await KubeNodes.from_kubeconfig(cp.kubeconfig)
        try:
            await inject(nodes, instance_id, signal_for(dhc_fail=True))
        finally:
            await nodes.close()

    asyncio.run(run())


def test_multi_node_training_validation_passes_together_and_fails_together(
    sm: Any, kube: client.ApiClient, control_plane: ControlPlane
) -> None:
    sm.create_cluster(
        ClusterName=NAME,
        InstanceGroups=[group("gpu", "ml.g5.8xlarge", 2)],  # GPU with EFA
        Orchestrator={"Eks": {"ClusterArn": EKS_ARN}},
        NodeRecovery="None",  # the blamed node stays, to be looked at
        NodeProvisioningMode="Continuous",  # cluster events
    )
    wait_status(sm, NAME)
    ids = sorted(n["InstanceId"] for n in all_nodes(sm, NAME))
    assert len(ids) == 2

    # both run it, quarantined (R18), and pass together
    start(sm, [MNTV])
    running = wait_all(sm, ids, "DeepHealthCheckInProgress", "both nodes under the validation")
    assert {s["Message"] for s in running.values()} == {
        f"Deep health checks in progress: {MNTV} (across 2 nodes checked together)"
    }
    wait_for("both nodes labelled and tainted under checks", lambda: under_checks(kube, ids))
    passed = wait_all(sm, ids, "Running", "both nodes through the validation")
    assert {s["Message"] for s in passed.values()} == {f"Deep health checks passed: {MNTV}"}
    for i in ids:
        node = node_of(kube, i)
        assert (node["metadata"]["labels"][HEALTH], node["metadata"]["labels"][DEEP]) == (
            "Schedulable",
            "Passed",
        )
        assert TAINT not in (node["spec"].get("taints") or [])

    # a fault on one node during the checks fails the validation for both, blamed on it
    start(sm, ["InstanceStress", MNTV])
    wait_all(sm, ids, "DeepHealthCheckInProgress", "both nodes under checks again")
    faulty, peer = ids
    inject_dhc_fail(control_plane, faulty)
    ended = wait_all(sm, ids, "Running", "both nodes' checks ended by the fault")
    culprit = f"hyperpod-{faulty} reported DeepHealthCheckFailed"
    assert ended[faulty]["Message"] == (
        f"Deep health checks failed: InstanceStress ({culprit}); {MNTV} ({culprit} during the "
        "checks)"
    )
    assert ended[peer]["Message"] == (
        f"Deep health checks failed: {MNTV} ({culprit} during the checks); not run: "
        f"InstanceStress (stopped: {MNTV} failed)"
    )
    blamed, other = node_of(kube, faulty), node_of(kube, peer)
    # the faulty node keeps the agent's verdict (its recovery waits: NodeRecovery None)
    assert blamed["metadata"]["labels"][HEALTH] == "UnschedulablePendingReplacement"
    assert blamed["metadata"]["labels"][DEEP] == "Failed" and TAINT in blamed["spec"]["taints"]
    # the other failed the validation but reported no fault: released from quarantine
    assert (other["metadata"]["labels"][HEALTH], other["metadata"]["labels"][DEEP]) == (
        "Schedulable",
        "Failed",
    )
    assert TAINT not in (other["spec"].get("taints") or [])

    events = sm.list_cluster_events(ClusterName=NAME, ResourceType="Instance", MaxResults=100)[
        "Events"
    ]
    texts = {e["Description"] for e in events}
    assert f"Instance {peer}: {ended[peer]['Message']}" in texts
    assert f"Instance {faulty}: {ended[faulty]['Message']}" in texts
