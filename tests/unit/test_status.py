"""``podwarden status``'s picture (status/picture.py) from API answers, and how the CLI draws it
(cli/status.py); the command against a running server is tested in
tests/api/test_metrics_and_status.py and tests/integration/test_metrics.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from podwarden.cli.status import render
from podwarden.status.picture import Picture, cluster_view, health_from_samples

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def described(name: str = "train", mode: str = "Continuous") -> dict[str, Any]:
    return {
        "ClusterName": name,
        "ClusterStatus": "InService",
        "CreationTime": T0,
        "NodeRecovery": "Automatic",
        "NodeProvisioningMode": mode,
        "InstanceGroups": [
            {
                "InstanceGroupName": "gpu",
                "InstanceType": "ml.p5.48xlarge",
                "Status": "InService",
                "CurrentCount": 3,
                "TargetCount": 4,
                "CurrentImageReleaseVersion": "1.2.0",
                "DesiredImageReleaseVersion": "1.3.0",
            },
            {
                "InstanceGroupName": "cpu",
                "InstanceType": "ml.c5.large",
                "Status": "InService",
                "CurrentCount": 1,
                "TargetCount": 1,
            },
        ],
    }


def summary(instance: str, group: str, status: str) -> dict[str, Any]:
    return {
        "InstanceId": instance,
        "InstanceGroupName": group,
        "InstanceStatus": {"Status": status},
    }


NODES = [
    summary("i-1", "gpu", "Running"),
    summary("i-2", "gpu", "Running"),
    summary("i-3", "gpu", "Pending"),
    summary("i-4", "cpu", "Running"),
]
EVENTS = [
    {
        "ClusterName": "train",
        "EventTime": T0.replace(minute=5),
        "EventLevel": "Warn",
        "InstanceId": "i-3",
        "InstanceGroupName": "gpu",
        "Description": "Rebooting instance i-3",
    },
    {
        "ClusterName": "train",
        "EventTime": T0.replace(minute=1),
        "EventLevel": "Info",
        "Description": "Cluster is InService",
    },
]
HEALTH = health_from_samples(
    [
        ({"cluster": "train", "instance_group": "gpu", "health_status": "Schedulable"}, 2.0),
        (
            {
                "cluster": "train",
                "instance_group": "gpu",
                "health_status": "UnschedulablePendingReboot",
            },
            1.0,
        ),
    ]
)


def test_a_cluster_view_counts_nodes_per_group_by_status_and_health() -> None:
    view = cluster_view(described(), NODES, EVENTS, HEALTH)
    gpu, cpu = view.groups
    assert (gpu.current, gpu.target, view.current, view.target) == (3, 4, 4, 5)
    assert gpu.nodes == {"Pending": 1, "Running": 2}
    assert gpu.health == {"Schedulable": 2, "UnschedulablePendingReboot": 1}
    assert (gpu.release, gpu.desired_release) == ("1.2.0", "1.3.0")
    assert cpu.nodes == {"Running": 1} and cpu.health == {} and cpu.release == ""
    assert [e.resource for e in view.events] == ["i-3", "cluster"]
    assert cluster_view(described(), NODES).groups[0].health is None  # health not known


def text(picture: Picture) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(render(picture, events=5))
    return console.export_text()


def picture(*clusters: Any, health_known: bool = True) -> Picture:
    return Picture("http://127.0.0.1:8600", "us-west-2", T0, tuple(clusters), health_known)


def test_the_status_shows_clusters_groups_nodes_health_and_newest_events_first() -> None:
    out = text(picture(cluster_view(described(), NODES, EVENTS, HEALTH)))
    assert "podwarden at http://127.0.0.1:8600 (us-west-2)" in out
    lines = out.splitlines()
    (gpu,) = [line for line in lines if " gpu " in line and "ml.p5.48xlarge" in line]
    assert "3/4" in gpu and "1.2.0 -> 1.3.0" in gpu
    assert "1 Pending, 2 Running" in gpu
    assert "2 Schedulable, 1 UnschedulablePendingReboot" in gpu
    assert out.index("Rebooting instance i-3") < out.index("Cluster is InService")
    assert "Automatic" in out and "Continuous" in out


def test_events_are_left_out_without_a_continuous_cluster_and_unknown_health_says_so() -> None:
    out = text(picture(cluster_view(described(mode=""), NODES), health_known=False))
    assert "Recent events" not in out
    assert "Health (unknown)" in out


def test_no_clusters_says_so() -> None:
    assert "no HyperPod clusters" in text(picture())
