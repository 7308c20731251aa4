"""Fixtures and helpers for tests that drive the HyperPod API with boto3 (real HTTP, real
control plane)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from podwarden.cli.server import ServerSettings, default_database_url
from podwarden.local.runtime import ControlPlane
from podwarden.operator.clusters import ReconcilerSettings

from .hyperpod_server import EKS_ARN, LIFECYCLE_URI, ROLE_ARN, ThreadServer, sagemaker
from .kube_objects import as_dict, wait_for

FAST = ReconcilerSettings(launch_delay=0.2, resync=0.5, deep_check_duration=4.0)


@contextlib.contextmanager
def serving(
    control_plane: ControlPlane,
    data: Path,
    reconciler: ReconcilerSettings = FAST,
    **settings: Any,
) -> Iterator[ThreadServer]:
    """``podwarden serve``'s app on the session's control plane, once the seeded EKS cluster is
    ACTIVE: its reconciler's first pass must have run, or the enforced preflight refuses a
    HyperPod CreateCluster on it (a race CI once lost). ``settings``: more ServerSettings."""
    srv = ThreadServer(
        ServerSettings(
            kubeconfig=control_plane.kubeconfig,
            database_url=default_database_url(data),
            port=0,
            reconciler=reconciler,
            data_dir=data,
            **settings,
        )
    ).start()
    try:
        wait_active(srv.client("eks"), "podwarden")
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def server(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    with serving(control_plane, tmp_path_factory.mktemp("podwarden")) as srv:
        yield srv


@pytest.fixture(scope="module")
def sm(server: ThreadServer) -> Any:
    return sagemaker(server.endpoint)


def group(name: str, instance_type: str, count: int, **extra: Any) -> dict[str, Any]:
    return {
        "InstanceGroupName": name,
        "InstanceType": instance_type,
        "InstanceCount": count,
        "ExecutionRole": ROLE_ARN,
        "LifeCycleConfig": {
            "SourceS3Uri": LIFECYCLE_URI,
            "OnCreate": "on_create.sh",
        },
        **extra,
    }


def create(sm: Any, name: str, *groups: dict[str, Any], **extra: Any) -> str:
    arn: str = sm.create_cluster(
        ClusterName=name,
        InstanceGroups=list(groups),
        Orchestrator={"Eks": {"ClusterArn": EKS_ARN}},
        NodeRecovery="Automatic",
        **extra,
    )["ClusterArn"]
    return arn


def wait_status(
    sm: Any, name: str, status: str = "InService", timeout: float = 120
) -> dict[str, Any]:
    last: list[str] = []

    def probe() -> dict[str, Any] | None:
        d: dict[str, Any] = sm.describe_cluster(ClusterName=name)
        last[:] = [d["ClusterStatus"]]
        if d["ClusterStatus"] == "Failed" and status != "Failed":
            raise AssertionError(f"cluster {name} failed: {d.get('FailureMessage')}")
        return d if d["ClusterStatus"] == status else None

    return wait_for(f"cluster {name} {status}", probe, timeout=timeout, seen=lambda: last)


def wait_active(eks: Any, name: str, timeout: float = 180) -> dict[str, Any]:
    """The EKS cluster ``name`` once ACTIVE (its description); fails at once if it FAILED."""

    last: list[str] = []

    def probe() -> dict[str, Any] | None:
        c: dict[str, Any] = eks.describe_cluster(name=name)["cluster"]
        last[:] = [c["status"]]
        assert c["status"] != "FAILED", f"EKS cluster {name} FAILED: {c.get('health')}"
        return c if c["status"] == "ACTIVE" else None

    return wait_for(f"EKS cluster {name} ACTIVE", probe, timeout=timeout, seen=lambda: last)


def cluster_nodes(kube: client.ApiClient, cluster_id: str) -> dict[str, dict[str, Any]]:
    nodes = client.CoreV1Api(kube).list_node(label_selector=f"podwarden.io/cluster-id={cluster_id}")
    found = [as_dict(kube, n) for n in nodes.items]
    return {n["metadata"]["name"]: n for n in found}


def cluster_id(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


def all_nodes(sm: Any, name: str) -> list[dict[str, Any]]:
    pages = sm.get_paginator("list_cluster_nodes").paginate(
        ClusterName=name, IncludeNodeLogicalIds=True, PaginationConfig={"PageSize": 2}
    )
    return [s for p in pages for s in p["ClusterNodeSummaries"]]
