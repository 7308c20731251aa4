"""Continuous provisioning against a simulated EC2 capacity, with real boto3, real HTTP and the
real control plane (``logic.capacity``; docs/sources.md, "Continuous provisioning"): a
Continuous cluster that asks for more than there is goes InService with what it got, its event
stream tells of the shortage, and the rest joins once capacity is raised (``podwarden capacity
set``) or freed (another cluster deleted); a cluster that is not Continuous fails with AWS's
insufficient-capacity message and launches nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from podwarden.cli.main import main
from podwarden.local.runtime import ControlPlane
from podwarden.logic.capacity import INSUFFICIENT_CAPACITY
from podwarden.policy.capacity import RetryBackoff, SimulatedCapacity

from .hyperpod_helpers import (
    FAST,
    all_nodes,
    cluster_id,
    cluster_nodes,
    create,
    group,
    serving,
    wait_status,
)
from .hyperpod_server import ThreadServer, sagemaker
from .kube_objects import wait_for

P5, G5, P4D = "ml.p5.48xlarge", "ml.g5.8xlarge", "ml.p4d.24xlarge"
CAPACITY = SimulatedCapacity({P5: 2, G5: 1, P4D: 1}, RetryBackoff(0.3, 2, 1.0))


@pytest.fixture(scope="module")
def server(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    with serving(
        control_plane, tmp_path_factory.mktemp("podwarden-capacity"), FAST, capacity=CAPACITY
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def sm(server: ThreadServer) -> Any:
    return sagemaker(server.endpoint)


def events(sm: Any, name: str, **filters: Any) -> list[dict[str, Any]]:
    pages = sm.get_paginator("list_cluster_events").paginate(
        ClusterName=name, SortOrder="Ascending", **filters
    )
    return [e for p in pages for e in p["Events"]]


def refusals(sm: Any, name: str, least: int) -> list[dict[str, Any]] | None:
    """The Warn events of the cluster's groups, oldest first, once there are ``least``."""
    warns = [e for e in events(sm, name, ResourceType="InstanceGroup") if e["EventLevel"] == "Warn"]
    return warns if len(warns) >= least else None


def counts(sm: Any, name: str) -> tuple[int, int, str]:
    (g,) = sm.describe_cluster(ClusterName=name)["InstanceGroups"]
    return g["CurrentCount"], g["TargetCount"], g["Status"]


def test_continuous_cluster_runs_with_what_it_got_until_capacity_is_raised(
    sm: Any, server: ThreadServer, kube: client.ApiClient
) -> None:
    arn = create(sm, "cp-short", group("gpu", P5, 3), NodeProvisioningMode="Continuous")
    wait_status(sm, "cp-short")
    assert counts(sm, "cp-short") == (2, 3, "InService")
    assert len(cluster_nodes(kube, cluster_id(arn))) == 2

    # the shortage, once per attempt: attempt numbers 1, 2, ... each told once
    warns = wait_for("two refused attempts in the events", lambda: refusals(sm, "cp-short", 2))
    attempts = [int(m[1]) for e in warns if (m := re.search(r"attempt (\d+)", e["Description"]))]
    assert attempts == list(range(1, len(warns) + 1))
    assert all(f"Insufficient capacity for {P5}" in e["Description"] for e in warns)
    detail = sm.describe_cluster_event(ClusterName="cp-short", EventId=warns[0]["EventId"])
    scaling = detail["EventDetails"]["EventDetails"]["EventMetadata"]["InstanceGroupScaling"]
    assert scaling["TargetCount"] == 3 and scaling["FailureMessage"] == INSUFFICIENT_CAPACITY

    assert main(["capacity", "--endpoint", server.endpoint, "set", f"{P5}=3"]) == 0
    wait_for("the third node", lambda: counts(sm, "cp-short") == (3, 3, "InService"))
    wait_for("3 Kubernetes nodes", lambda: len(cluster_nodes(kube, cluster_id(arn))) == 3)
    arrived = [e for e in events(sm, "cp-short") if "is available" in e["Description"]]
    assert len(arrived) == 1 and arrived[0]["EventLevel"] == "Info"
    assert sm.describe_cluster(ClusterName="cp-short")["ClusterStatus"] == "InService"


def test_capacity_freed_by_another_cluster_is_taken(sm: Any, kube: client.ApiClient) -> None:
    create(sm, "cp-holder", group("w", G5, 1), NodeProvisioningMode="Continuous")
    wait_status(sm, "cp-holder")
    arn = create(sm, "cp-waiter", group("w", G5, 1), NodeProvisioningMode="Continuous")
    wait_status(sm, "cp-waiter")  # InService with nothing: the holder has the only one
    assert counts(sm, "cp-waiter") == (0, 1, "InService")
    sm.delete_cluster(ClusterName="cp-holder")
    wait_for("the freed instance", lambda: counts(sm, "cp-waiter") == (1, 1, "InService"))
    wait_for("its node", lambda: len(cluster_nodes(kube, cluster_id(arn))) == 1)


def test_not_continuous_fails_with_aws_message_and_launches_nothing(sm: Any) -> None:
    create(sm, "cp-all-or-nothing", group("w", P4D, 2))
    described = wait_status(sm, "cp-all-or-nothing", "Failed")
    assert described["FailureMessage"] == INSUFFICIENT_CAPACITY
    assert described["InstanceGroups"][0]["Status"] == "Failed"
    assert all_nodes(sm, "cp-all-or-nothing") == []
    # within capacity, an update brings it back
    sm.update_cluster(ClusterName="cp-all-or-nothing", InstanceGroups=[group("w", P4D, 1)])
    wait_status(sm, "cp-all-or-nothing")
    assert counts(sm, "cp-all-or-nothing") == (1, 1, "InService")
