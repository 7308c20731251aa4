"""An IPv6 EKS cluster on the real control plane (R14 in docs/requirements.md): a dual-stack VPC
and an ``ipFamily: ipv6`` EKS cluster made with boto3 become a single-stack IPv6 plane on ``::1``
whose ``kubernetes`` Service has an address of the cluster's ``serviceIpv6Cidr``; a HyperPod
cluster on it (its preflight's ``subnets-ipv6`` rule passing) gets nodes whose InternalIP is an
IPv6 address of their subnet, as DescribeClusterNode reports it, whose pods take addresses of
the node's /80, and whose kubelet (kwok) the apiserver still reaches on loopback."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from kubernetes import client

from tests.api.test_ipv6_clusters import dual_stack_vpc

from .conftest import api_client
from .hyperpod_helpers import all_nodes, cluster_id, cluster_nodes, group, server, sm, wait_status
from .hyperpod_server import ThreadServer
from .kube_objects import as_dict, wait_for
from .test_local_account import aws, server_data, wait_active

__all__ = ["server", "sm"]  # module-scoped fixtures used by the tests below

pytestmark = pytest.mark.integration


def _blocks(subnets: list[dict[str, Any]]) -> dict[str, tuple[ipaddress.IPv6Network, str]]:
    """Subnet id -> (its IPv6 block, its zone)."""
    return {
        s["SubnetId"]: (
            ipaddress.IPv6Network(s["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]),
            s["AvailabilityZone"],
        )
        for s in subnets
    }


def _internal_ip(node: dict[str, Any]) -> str:
    (found,) = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
    return str(found)


def test_hyperpod_nodes_of_an_ipv6_eks_cluster_carry_their_subnets_ipv6_addresses(
    server: ThreadServer, sm: Any
) -> None:
    ec2, eks = aws(server, "ec2"), aws(server, "eks")
    net = dual_stack_vpc(ec2)
    pair = [net.subnets["a"], net.subnets["b"]]
    eks.create_cluster(
        name="six",
        roleArn="arn:aws:iam::000000000000:role/podwarden-eks-cluster",
        resourcesVpcConfig={"subnetIds": [s["SubnetId"] for s in pair]},
        kubernetesNetworkConfig={"ipFamily": "ipv6"},
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
    )
    target = wait_active(eks, "six", timeout=180)
    services = ipaddress.IPv6Network(target["kubernetesNetworkConfig"]["serviceIpv6Cidr"])
    assert target["endpoint"].startswith("https://[::1]:")
    eks.create_addon(clusterName="six", addonName="vpc-cni")  # the preflight wants it
    wait_for(
        "vpc-cni on six ACTIVE",
        lambda: (
            eks.describe_addon(clusterName="six", addonName="vpc-cni")["addon"]["status"]
            == "ACTIVE"
        ),
        timeout=60,
    )
    (kubeconfig,) = (Path(server_data(server)) / "eks-planes").glob("eks/six-*/kubeconfig")
    with api_client(kubeconfig) as plane:
        core = client.CoreV1Api(plane)
        kubernetes = as_dict(plane, core.read_namespaced_service("kubernetes", "default"))["spec"]
        assert kubernetes["ipFamilies"] == ["IPv6"]
        assert ipaddress.IPv6Address(kubernetes["clusterIP"]) == services.network_address + 1

        def create(subnets: list[dict[str, Any]]) -> str:
            arn: str = sm.create_cluster(
                ClusterName="on-six",
                InstanceGroups=[group("gpu", "ml.g5.xlarge", 2)],
                Orchestrator={"Eks": {"ClusterArn": target["arn"]}},
                VpcConfig={
                    "Subnets": [s["SubnetId"] for s in subnets],
                    "SecurityGroupIds": [net.security_group],
                },
                NodeRecovery="Automatic",
            )["ClusterArn"]
            return arn

        # the preflight's IPv6 rule runs against the IPv6 cluster: an IPv4-only subnet is refused
        with pytest.raises(ClientError) as refused:
            create([net.subnets["a"], net.subnets["v4"]])
        message = refused.value.response["Error"]["Message"]
        assert f"{net.subnets['v4']['SubnetId']} (VpcConfig) has no IPv6 CIDR block" in message
        arn = create(pair)
        wait_status(sm, "on-six")
        blocks = _blocks(pair)
        nodes = cluster_nodes(plane, cluster_id(arn))
        assert len(nodes) == 2
        for summary in all_nodes(sm, "on-six"):
            details = sm.describe_cluster_node(ClusterName="on-six", NodeId=summary["InstanceId"])
            details = details["NodeDetails"]
            node = nodes[f"hyperpod-{summary['InstanceId']}"]
            address = ipaddress.IPv6Address(_internal_ip(node))
            assert details["PrivatePrimaryIpv6"] == str(address)
            (block, zone) = next(v for v in blocks.values() if address in v[0])
            assert details["Placement"]["AvailabilityZone"] == zone
            prefix = ipaddress.IPv6Network(node["spec"]["podCIDR"])
            assert prefix.prefixlen == 80 and prefix.subnet_of(block) and address not in prefix

            # the apiserver reaches the node's kubelet (kwok) through the tunnel, on loopback
            name = node["metadata"]["name"]
            assert core.connect_get_node_proxy_with_path(name, "healthz") == "ok"

        # a pod on a HyperPod node takes an address of the node's /80
        name = sorted(nodes)[0]
        pod: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "on-ipv6"},
            "spec": {
                "nodeName": name,
                "containers": [{"name": "c", "image": "busybox"}],
                "tolerations": [{"operator": "Exists"}],
            },
        }
        core.create_namespaced_pod("default", pod)  # type: ignore[arg-type]
        pod_ip = wait_for(
            "pod on-ipv6 running with an address",
            lambda: as_dict(plane, core.read_namespaced_pod("on-ipv6", "default"))["status"].get(
                "podIP"
            ),
            timeout=60,
        )
        assert ipaddress.IPv6Address(pod_ip) in ipaddress.IPv6Network(
            nodes[name]["spec"]["podCIDR"]
        )
        core.delete_namespaced_pod("on-ipv6", "default", grace_period_seconds=0)

        sm.delete_cluster(ClusterName="on-six")
        wait_for(
            "HyperPod cluster on-six deleted",
            lambda: (
                "on-six" not in [c["ClusterName"] for c in sm.list_clusters()["ClusterSummaries"]]
            ),
            timeout=60,
        )
    eks.delete_cluster(name="six")
    wait_for(
        "EKS cluster six deleted", lambda: "six" not in eks.list_clusters()["clusters"], timeout=60
    )
