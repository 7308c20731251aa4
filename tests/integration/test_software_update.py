"""UpdateClusterSoftware end to end (issue #13 item 1): boto3 against ``podwarden serve``'s app
on the real control plane. A rolling update moves every node of a group to the new release in
place (same instance ids, nodes drained, re-imaged, back Ready and Schedulable), in batches, with
the progress in DescribeCluster, ListClusterNodes and the cluster events; a health failure
injected on a node of the second batch rolls the whole group back to the old release, with the
reason in DescribeCluster and the events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from podwarden.agent.inject import inject, signal_for
from podwarden.kube.nodes import KubeNodes
from podwarden.local.runtime import ControlPlane
from podwarden.model.labels import HEALTH, IMAGE_RELEASE, SCHEDULABLE
from podwarden.operator.clusters import ReconcilerSettings

from .hyperpod_helpers import (
    cluster_id,
    cluster_nodes,
    create,
    group,
    serving,
    wait_status,
)
from .hyperpod_server import ThreadServer, sagemaker
from .kube_objects import wait_for

OLD = (
    "1.2.0"  # an older release that ships for Kubernetes 1.32 (policy/tables/hyperpod_images.yaml)
)
# a node is healthy this long after its re-image before its batch counts as through: long enough
# for the test to see it and inject a fault
SETTLE_S = 4.0
SETTINGS = ReconcilerSettings(
    launch_delay=0.2, resync=0.5, reboot_delay=0.3, reimage_delay=0.5, update_settle=SETTLE_S
)
# ListClusterEvents answers for Continuous clusters only
EVENTS = {"NodeProvisioningMode": "Continuous"}
ONE_AT_A_TIME = {
    "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1}}
}


@pytest.fixture(scope="module")
def server(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    with serving(control_plane, tmp_path_factory.mktemp("podwarden-update"), SETTINGS) as srv:
        yield srv


@pytest.fixture(scope="module")
def sm(server: ThreadServer) -> Any:
    return sagemaker(server.endpoint)


def nodes_of(sm: Any, name: str) -> list[dict[str, Any]]:
    summaries = sm.list_cluster_nodes(ClusterName=name)["ClusterNodeSummaries"]
    return [
        sm.describe_cluster_node(ClusterName=name, NodeId=s["InstanceId"])["NodeDetails"]
        for s in summaries
    ]


def the_group(sm: Any, name: str) -> dict[str, Any]:
    (g,) = sm.describe_cluster(ClusterName=name)["InstanceGroups"]
    return dict(g)


def events(sm: Any, name: str) -> list[str]:
    listed = sm.list_cluster_events(ClusterName=name, MaxResults=100)["Events"]
    return [e["Description"] for e in listed]


def settled(sm: Any, name: str, statuses: set[str]) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        d: dict[str, Any] = sm.describe_cluster(ClusterName=name)
        (g,) = d["InstanceGroups"]
        done = d["ClusterStatus"] == "InService" and g.get("SoftwareUpdateStatus") in statuses
        return d if done else None

    return wait_for(
        f"the software update of {name} to end in {statuses}",
        probe,
        timeout=180,
        seen=lambda: [the_group(sm, name).get("SoftwareUpdateStatus")],
    )


def test_a_rolling_update_moves_every_node_in_place(sm: Any, kube: client.ApiClient) -> None:
    arn = create(
        sm, "upd-roll", group("workers", "ml.g5.xlarge", 3, ImageReleaseVersion=OLD), **EVENTS
    )
    wait_status(sm, "upd-roll")
    before = {n["InstanceId"]: n for n in nodes_of(sm, "upd-roll")}
    assert {n["CurrentImageReleaseVersion"] for n in before.values()} == {OLD}
    assert the_group(sm, "upd-roll")["CurrentImageReleaseVersion"] == OLD

    sm.update_cluster_software(
        ClusterName="upd-roll",
        InstanceGroups=[{"InstanceGroupName": "workers"}],
        DeploymentConfig=ONE_AT_A_TIME,
    )
    d = sm.describe_cluster(ClusterName="upd-roll")
    assert d["ClusterStatus"] == "SystemUpdating"
    target = d["InstanceGroups"][0]["DesiredImageReleaseVersion"]
    assert target != OLD

    # one node at a time: never more than one out of service
    def at_most_one_away() -> dict[str, Any] | None:
        nodes = cluster_nodes(kube, cluster_id(arn))
        away = [
            n
            for n in nodes.values()
            if (n["metadata"].get("labels") or {}).get(HEALTH) != SCHEDULABLE
        ]
        assert len(away) <= 1, f"{len(away)} nodes out of service at once"
        d = sm.describe_cluster(ClusterName="upd-roll")
        (g,) = d["InstanceGroups"]
        return d if g.get("SoftwareUpdateStatus") == "Succeeded" else None

    d = wait_for("the update to succeed", at_most_one_away, timeout=180, interval=0.1)
    wait_status(sm, "upd-roll")
    g = the_group(sm, "upd-roll")
    assert g["CurrentImageReleaseVersion"] == target
    after = {n["InstanceId"]: n for n in nodes_of(sm, "upd-roll")}
    assert after.keys() == before.keys()  # the same instances, updated in place
    assert {n["CurrentImageReleaseVersion"] for n in after.values()} == {target}
    assert all("LastSoftwareUpdateTime" in n for n in after.values())
    for node in cluster_nodes(kube, cluster_id(arn)).values():
        labels = node["metadata"]["labels"]
        assert labels[IMAGE_RELEASE] == target
        assert labels[HEALTH] == SCHEDULABLE
    told = events(sm, "upd-roll")
    assert any("succeeded" in e for e in told), told
    assert sum("Re-imaging instance" in e for e in told) == 3, told


def test_a_health_failure_in_the_second_batch_rolls_everything_back(
    sm: Any, server: ThreadServer, control_plane: ControlPlane
) -> None:
    create(sm, "upd-back", group("workers", "ml.g5.xlarge", 3, ImageReleaseVersion=OLD), **EVENTS)
    wait_status(sm, "upd-back")
    sm.update_cluster_software(
        ClusterName="upd-back",
        InstanceGroups=[{"InstanceGroupName": "workers"}],
        DeploymentConfig=ONE_AT_A_TIME,
    )
    target = the_group(sm, "upd-back")["DesiredImageReleaseVersion"]

    def second_batch_node() -> str | None:
        updated = [
            n
            for n in nodes_of(sm, "upd-back")
            if n["CurrentImageReleaseVersion"] == target
            and n["InstanceStatus"]["Status"] == "Running"
        ]
        if len(updated) != 2:
            return None
        newest = max(updated, key=lambda n: n["LastSoftwareUpdateTime"])  # the second batch's
        return str(newest["InstanceId"])

    victim = wait_for(
        "a second node Running on the new release", second_batch_node, timeout=120, interval=0.1
    )

    async def fault() -> None:
        nodes = await KubeNodes.from_kubeconfig(control_plane.kubeconfig)
        try:
            await inject(nodes, victim, signal_for(xid=79))
        finally:
            await nodes.close()

    asyncio.run(fault())
    d = settled(sm, "upd-back", {"RollbackComplete", "Failed", "Succeeded"})
    (g,) = d["InstanceGroups"]
    assert g["SoftwareUpdateStatus"] == "RollbackComplete"
    assert g["CurrentImageReleaseVersion"] == OLD
    assert victim in d["FailureMessage"]
    releases = {
        n["CurrentImageReleaseVersion"] for n in nodes_of(sm, "upd-back") if n["InstanceId"]
    }
    assert releases == {OLD}
    told = events(sm, "upd-back")
    assert any("rolling back" in e and victim in e for e in told), told
    assert any("was rolled back" in e for e in told), told


def test_an_alarm_in_alarm_rolls_the_update_back(sm: Any, server: ThreadServer) -> None:
    cloudwatch = server.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="upd-loss-spike",
        MetricName="TrainingLoss",
        Namespace="Training",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    create(sm, "upd-alarm", group("workers", "ml.g5.xlarge", 2, ImageReleaseVersion=OLD), **EVENTS)
    wait_status(sm, "upd-alarm")
    sm.update_cluster_software(
        ClusterName="upd-alarm",
        InstanceGroups=[{"InstanceGroupName": "workers"}],
        DeploymentConfig={
            **ONE_AT_A_TIME,
            "WaitIntervalInSeconds": 600,  # the alarm is watched while the update waits
            "AutoRollbackConfiguration": [{"AlarmName": "upd-loss-spike"}],
        },
    )
    target = the_group(sm, "upd-alarm")["DesiredImageReleaseVersion"]

    def first_batch_through() -> bool:
        d = nodes_of(sm, "upd-alarm")
        done = [
            n
            for n in d
            if n["CurrentImageReleaseVersion"] == target
            and n["InstanceStatus"]["Status"] == "Running"
        ]
        return len(done) == 1 and all(n["InstanceStatus"]["Status"] == "Running" for n in d)

    wait_for("the first node updated", first_batch_through, timeout=120, interval=0.2)
    cloudwatch.set_alarm_state(
        AlarmName="upd-loss-spike", StateValue="ALARM", StateReason="loss went up"
    )
    d = settled(sm, "upd-alarm", {"RollbackComplete", "Failed", "Succeeded"})
    (g,) = d["InstanceGroups"]
    assert g["SoftwareUpdateStatus"] == "RollbackComplete"
    assert "upd-loss-spike" in d["FailureMessage"]
    assert {n["CurrentImageReleaseVersion"] for n in nodes_of(sm, "upd-alarm")} == {OLD}
