"""IPv6 clusters over real HTTP without Kubernetes (R14 in docs/requirements.md): an
``ipFamily: ipv6`` EKS cluster in a dual-stack VPC built with boto3, its network as
DescribeCluster shows it, the preflight's ``subnets-ipv6`` rule enforced by HyperPod's
CreateCluster on it (``podwarden preflight`` shows the same), and DescribeClusterNode's
``PrivatePrimaryIpv6``. The integration test ``tests/integration/test_ipv6_clusters.py`` runs
the same on a real control plane, where the reconcilers place the instances."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from podwarden.cli.account import SeededAccount
from podwarden.model.cluster import Instance, InstanceStatus
from tests.api.aws_server import REGION, AwsServer
from tests.api.test_preflight import (
    activate,
    aws,
    aws_env,
    evidence,
    refusal,
    request,
    run_cli,
    seeded,
    statuses,
)

__all__ = ["aws", "aws_env", "seeded"]  # the preflight suite's fixtures, used below


@dataclass(frozen=True)
class DualStack:
    vpc: str
    security_group: str
    subnets: dict[str, dict[str, Any]]  # a, b: dual-stack; v4: IPv4 only; v6: IPv6-only


def dual_stack_vpc(ec2: Any) -> DualStack:
    """A VPC with Amazon's /56 and private subnets (no internet gateway anywhere)."""
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]
    block = ipaddress.IPv6Network(vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])
    sixty_fours = [str(b) for b in block.subnets(new_prefix=64)]
    made: dict[str, dict[str, Any]] = {}
    for name, zone, v4, v6 in (
        ("a", "us-west-2a", "10.2.1.0/24", sixty_fours[0]),
        ("b", "us-west-2b", "10.2.2.0/24", sixty_fours[1]),
        ("v4", "us-west-2a", "10.2.3.0/24", None),
        ("v6", "us-west-2b", None, sixty_fours[2]),
    ):
        params: dict[str, Any] = {"VpcId": vpc["VpcId"], "AvailabilityZone": zone}
        if v4:
            params["CidrBlock"] = v4
        if v6:
            params["Ipv6CidrBlock"] = v6
        if not v4:
            params["Ipv6Native"] = True
        made[name] = ec2.create_subnet(**params)["Subnet"]
    (group,) = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc["VpcId"]]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"]
    return DualStack(vpc["VpcId"], group["GroupId"], made)


def ipv6_eks(aws: AwsServer, net: DualStack, name: str, family: str = "ipv6") -> dict[str, Any]:
    eks = aws.client("eks")
    eks.create_cluster(
        name=name,
        roleArn="arn:aws:iam::000000000000:role/podwarden-eks-cluster",
        resourcesVpcConfig={
            "subnetIds": [net.subnets["a"]["SubnetId"], net.subnets["b"]["SubnetId"]],
            "securityGroupIds": [net.security_group],
        },
        kubernetesNetworkConfig={"ipFamily": family},
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
    )
    eks.create_addon(clusterName=name, addonName="vpc-cni")
    activate(aws, name)  # what the EKS reconciler does (there is none here)
    cluster: dict[str, Any] = eks.describe_cluster(name=name)["cluster"]
    return cluster


def hyperpod(seeded: SeededAccount, net: DualStack, name: str, eks: str, *subnets: str) -> Any:
    req = request(seeded, name, eks_arn=eks, subnets=[net.subnets[s]["SubnetId"] for s in subnets])
    req["VpcConfig"]["SecurityGroupIds"] = [net.security_group]
    return req


def test_an_ipv6_eks_cluster_shows_its_network_and_the_preflight_wants_dual_stack_subnets(
    aws: AwsServer,
    seeded: SeededAccount,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    net = dual_stack_vpc(aws.client("ec2"))
    cluster = ipv6_eks(aws, net, "six")
    config = cluster["kubernetesNetworkConfig"]
    assert config["ipFamily"] == "ipv6" and "serviceIpv4Cidr" not in config
    services = ipaddress.IPv6Network(config["serviceIpv6Cidr"])
    assert services.prefixlen == 108 and services.subnet_of(ipaddress.IPv6Network("fc00::/7"))
    assert cluster["resourcesVpcConfig"]["vpcId"] == net.vpc

    # a subnet without an IPv6 block, an IPv6-only one, and one in a group's OverrideVpcConfig
    message = refusal(aws, hyperpod(seeded, net, "hp-v4", cluster["arn"], "a", "v4"))
    assert "subnets-ipv6" in message
    assert f"{net.subnets['v4']['SubnetId']} (VpcConfig) has no IPv6 CIDR block" in message
    message = refusal(aws, hyperpod(seeded, net, "hp-v6", cluster["arn"], "a", "v6"))
    assert f"{net.subnets['v6']['SubnetId']} (VpcConfig) is IPv6-only" in message
    override = hyperpod(seeded, net, "hp-ov", cluster["arn"], "a", "b")
    override["InstanceGroups"][0]["OverrideVpcConfig"] = {
        "Subnets": [net.subnets["v4"]["SubnetId"]],
        "SecurityGroupIds": [net.security_group],
    }
    message = refusal(aws, override)
    assert "(instance group gpu OverrideVpcConfig) has no IPv6 CIDR block" in message

    # dual-stack subnets pass the rule, in the CLI's report and in CreateCluster
    good = hyperpod(seeded, net, "hp-ok", cluster["arn"], "a", "b")
    code, doc = run_cli(aws, tmp_path, capsys, good)
    assert code == 0, doc
    assert statuses(doc)["subnets-ipv6"] == "pass"
    assert "is IPv6 and every subnet has an IPv4 and an IPv6 CIDR block" in evidence(
        doc, "subnets-ipv6"
    )
    sm = aws.client("sagemaker")
    arn = sm.create_cluster(**good)["ClusterArn"]

    # DescribeClusterNode reports the instance's IPv6 address (the reconciler places it: here
    # the record is written as it would)
    now = time.time()
    a_block = ipaddress.IPv6Network(
        net.subnets["a"]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    )
    address = str(a_block.network_address + 0x1234)
    for instance_id, ipv6 in (("i-0123456789abcdef0", address), ("i-0123456789abcdef1", "")):
        aws.store.add_instances(
            [
                Instance(
                    instance_id=instance_id,
                    cluster_id=arn.rsplit("/", 1)[1],
                    group="gpu",
                    logical_id=f"gpu-{instance_id}",
                    instance_type="ml.g5.xlarge",
                    status=InstanceStatus.RUNNING,
                    launch_time=now,
                    ready_at=now,
                    private_ip="10.2.1.20",
                    private_ipv6=ipv6,
                    availability_zone=f"{REGION}a",
                )
            ]
        )
    details = sm.describe_cluster_node(ClusterName=arn, NodeId="i-0123456789abcdef0")["NodeDetails"]
    assert details["PrivatePrimaryIpv6"] == address
    assert details["PrivatePrimaryIp"] == "10.2.1.20"
    other = sm.describe_cluster_node(ClusterName=arn, NodeId="i-0123456789abcdef1")["NodeDetails"]
    assert "PrivatePrimaryIpv6" not in other  # no IPv6 address: the member is left out


def test_an_ipv4_eks_cluster_skips_the_ipv6_rule(
    aws: AwsServer,
    seeded: SeededAccount,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    net = dual_stack_vpc(aws.client("ec2"))
    cluster = ipv6_eks(aws, net, "four", family="ipv4")
    assert cluster["kubernetesNetworkConfig"]["ipFamily"] == "ipv4"
    code, doc = run_cli(aws, tmp_path, capsys, hyperpod(seeded, net, "hp4", cluster["arn"], "v4"))
    assert code == 0, doc
    assert statuses(doc)["subnets-ipv6"] == "skip"
    assert "is ipv4" in evidence(doc, "subnets-ipv6")
