"""Account quotas: the shipped table loads, and the handlers refuse to exceed it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.sagemaker import clusters
from podwarden.model.errors import LimitExceeded
from podwarden.policy.quotas import Quotas, load_quotas, parse_quotas
from podwarden.store.sql import Store, sqlite_url

EKS = {"Eks": {"ClusterArn": "arn:aws:eks:us-west-2:000000000000:cluster/x"}}


class AnyType:
    def problem(self, name: str) -> str | None:
        return None


def ctx(tmp_path: Path, quotas: Quotas) -> Context:
    return Context(
        "000000000000",
        "us-west-2",
        Store(sqlite_url(tmp_path)),
        AnyType(),
        lambda _change: None,
        time.time,
        quotas,
    )


def g(name: str, count: int) -> dict[str, Any]:
    return {
        "InstanceGroupName": name,
        "InstanceType": "ml.c5.large",
        "InstanceCount": count,
        "ExecutionRole": "arn:aws:iam::000000000000:role/r",
    }


def test_shipped_quotas_load() -> None:
    q = load_quotas()
    assert q.clusters_per_region >= 1 and q.instances_per_cluster >= 1


@pytest.mark.parametrize(
    "text",
    [
        "clusters_per_region: 1",
        "{a: 1}",
        "- 1",
        "clusters_per_region: 0\ninstance_groups_per_cluster: 1\ninstances_per_cluster: 1",
    ],
)
def test_bad_quota_tables_fail_loudly(text: str) -> None:
    with pytest.raises(ValueError, match=r"quotas\.yaml"):
        parse_quotas(text, "quotas.yaml")


def test_cluster_count_quota(tmp_path: Path) -> None:
    c = ctx(
        tmp_path,
        Quotas(clusters_per_region=2, instance_groups_per_cluster=5, instances_per_cluster=10),
    )
    for name in ("a", "b"):
        clusters.create_cluster(
            c, {"ClusterName": name, "InstanceGroups": [g("w", 1)], "Orchestrator": EKS}
        )
    with pytest.raises(LimitExceeded, match="limit is 2 clusters per Region"):
        clusters.create_cluster(
            c, {"ClusterName": "c", "InstanceGroups": [g("w", 1)], "Orchestrator": EKS}
        )


def test_instance_and_group_quotas(tmp_path: Path) -> None:
    c = ctx(
        tmp_path,
        Quotas(clusters_per_region=5, instance_groups_per_cluster=2, instances_per_cluster=10),
    )
    with pytest.raises(LimitExceeded, match="11 instances"):
        clusters.create_cluster(
            c, {"ClusterName": "a", "InstanceGroups": [g("w", 6), g("v", 5)], "Orchestrator": EKS}
        )
    clusters.create_cluster(
        c, {"ClusterName": "a", "InstanceGroups": [g("w", 5), g("v", 5)], "Orchestrator": EKS}
    )
    cluster = c.store.get_cluster("000000000000", "us-west-2", name="a")
    assert cluster is not None
    cluster.status = "InService"
    c.store.save_cluster(cluster)
    with pytest.raises(LimitExceeded, match="3 instance groups"):
        clusters.update_cluster(c, {"ClusterName": "a", "InstanceGroups": [g("x", 0)]})
    # deleting a group in the same request makes room
    clusters.update_cluster(
        c, {"ClusterName": "a", "InstanceGroups": [g("x", 0)], "InstanceGroupsToDelete": ["v"]}
    )
