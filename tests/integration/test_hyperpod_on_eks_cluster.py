"""A HyperPod cluster's instances join the EKS cluster its ``Orchestrator.Eks.ClusterArn`` names:
an EKS cluster created through the API is its own control plane, and the HyperPod nodes, their
health agent and their recovery all live there, not on the embedded control plane."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from podwarden.agent.inject import inject, signal_for
from podwarden.kube.nodes import KubeNodes

from .conftest import api_client
from .hyperpod_helpers import all_nodes, cluster_id, cluster_nodes, group, server, sm, wait_status
from .hyperpod_server import ThreadServer
from .kube_objects import wait_for
from .test_local_account import aws, server_data, wait_active

__all__ = ["server", "sm"]  # module-scoped fixtures used by the tests below

pytestmark = pytest.mark.integration

HEALTH = "sagemaker.amazonaws.com/node-health-status"


def inject_on(kubeconfig: Path, node: str, **kind: Any) -> None:
    """``podwarden fault inject --kubeconfig <the plane's admin kubeconfig>``, as the tests do."""

    async def run() -> None:
        nodes = await KubeNodes.from_kubeconfig(kubeconfig)
        try:
            await inject(nodes, node, signal_for(**kind))
        finally:
            await nodes.close()

    asyncio.run(run())


def create_eks_cluster(server: ThreadServer, name: str, version: str = "1.32") -> dict[str, Any]:
    """An EKS cluster of Kubernetes ``version`` on the seeded private subnets with the VPC CNI
    add-on (the preflight requires it), ACTIVE."""
    ec2, eks = aws(server, "ec2"), aws(server, "eks")
    subnets = [
        s["SubnetId"]
        for s in ec2.describe_subnets(
            Filters=[{"Name": "tag:Name", "Values": ["podwarden-private-*"]}]
        )["Subnets"]
    ]
    eks.create_cluster(
        name=name,
        version=version,
        roleArn="arn:aws:iam::000000000000:role/podwarden-eks-cluster",
        resourcesVpcConfig={"subnetIds": subnets},
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
    )
    cluster = wait_active(eks, name, timeout=180)
    eks.create_addon(clusterName=name, addonName="vpc-cni")

    def addon_active() -> bool:
        addon = eks.describe_addon(clusterName=name, addonName="vpc-cni")["addon"]
        return bool(addon["status"] == "ACTIVE")

    wait_for(f"vpc-cni on {name} ACTIVE", addon_active, timeout=60)
    return cluster


def test_hyperpod_nodes_join_the_named_eks_cluster(
    server: ThreadServer, sm: Any, kube: client.ApiClient
) -> None:
    eks = aws(server, "eks")
    target = create_eks_cluster(server, "hp-target")
    # the plane's admin kubeconfig: <data dir>/eks-planes/eks/<name>-<id8>/kubeconfig
    (kubeconfig,) = (Path(server_data(server)) / "eks-planes").glob("eks/hp-target-*/kubeconfig")
    arn: str = sm.create_cluster(
        ClusterName="on-hp-target",
        InstanceGroups=[group("gpu", "ml.g5.xlarge", 2)],
        Orchestrator={"Eks": {"ClusterArn": target["arn"]}},
        NodeRecovery="Automatic",
    )["ClusterArn"]
    wait_status(sm, "on-hp-target")
    cid = cluster_id(arn)
    with api_client(kubeconfig) as plane:
        ids = {n["InstanceId"] for n in all_nodes(sm, "on-hp-target")}
        assert set(cluster_nodes(plane, cid)) == {f"hyperpod-{i}" for i in ids}
        assert cluster_nodes(kube, cid) == {}  # nothing on the embedded control plane

        # a GPU fell off the bus: the agent on hp-target's plane quarantines the node and the
        # Automatic recovery replaces the instance, there
        first = sorted(ids)[0]
        inject_on(kubeconfig, first, xid=79)

        def replaced() -> list[dict[str, Any]] | None:
            nodes = all_nodes(sm, "on-hp-target")
            running = [n for n in nodes if n["InstanceStatus"]["Status"] == "Running"]
            fresh = [n for n in running if n["InstanceId"] not in ids]
            return fresh if len(fresh) == 1 and len(nodes) == 2 else None

        (new,) = wait_for("replacement after Xid 79 on hp-target", replaced, timeout=120)
        on_plane = cluster_nodes(plane, cid)
        assert f"hyperpod-{new['InstanceId']}" in on_plane
        assert f"hyperpod-{first}" not in on_plane
        assert on_plane[f"hyperpod-{new['InstanceId']}"]["metadata"]["labels"][HEALTH] == (
            "Schedulable"
        )
        assert cluster_nodes(kube, cid) == {}

        sm.delete_cluster(ClusterName="on-hp-target")

        def hyperpod_gone() -> bool:
            return "on-hp-target" not in [
                c["ClusterName"] for c in sm.list_clusters()["ClusterSummaries"]
            ]

        wait_for("HyperPod cluster on-hp-target deleted", hyperpod_gone, timeout=60)
        assert cluster_nodes(plane, cid) == {}

    eks.delete_cluster(name="hp-target")
    wait_for(
        "EKS cluster hp-target deleted",
        lambda: "hp-target" not in eks.list_clusters()["clusters"],
        timeout=60,
    )
    assert not kubeconfig.exists()
