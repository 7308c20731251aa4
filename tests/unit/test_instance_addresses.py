"""Where a HyperPod instance sits in its VPC (R14 in docs/requirements.md): the pure placement
(``logic.instance_addresses``), what the reconciler reads of the account for it
(``control.instance_network``, over records the real EC2 and EKS handlers write), the Node it
becomes (``logic.node_spec``) and what DescribeClusterNode reports."""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.ec2 import OPERATIONS as EC2
from podwarden.control.eks import OPERATIONS as EKS
from podwarden.control.instance_network import eks_ip_family, group_subnet_ids, instance_addresses
from podwarden.logic.instance_addresses import (
    RESERVED_AT_START,
    SubnetBlocks,
    ipv6_address,
    place,
    pod_prefix,
)
from podwarden.logic.node_spec import desired_node
from podwarden.model.aws import arns
from podwarden.model.cluster import Cluster, InstanceGroup
from podwarden.operator.instances import new_instance
from tests.aws_helpers import ACCOUNT, REGION, make_context

BLOCK = ipaddress.IPv6Network("2600:1f14:abc:de00::/64")


def test_an_address_is_inside_the_block_and_never_a_reserved_one() -> None:
    rnd = random.Random(7)
    small = ipaddress.IPv6Network("2600:1f14::/124")  # 16 addresses: 11 usable
    seen = {ipv6_address(small, (), rnd) for _ in range(400)}
    usable = list(small)[RESERVED_AT_START:-1]
    assert seen == set(usable)  # every usable one is drawn, and nothing else
    for _ in range(50):
        assert ipv6_address(BLOCK, (), rnd) in BLOCK


def test_a_taken_address_is_drawn_again_and_a_full_block_refused() -> None:
    tiny = ipaddress.IPv6Network("2600:1f14::/125")  # 8 addresses: 3 usable
    usable = [str(a) for a in list(tiny)[RESERVED_AT_START:-1]]
    rnd = random.Random(1)
    for _ in range(30):
        assert str(ipv6_address(tiny, usable[:2], rnd)) == usable[2]
    with pytest.raises(ValueError, match="no free address"):
        ipv6_address(tiny, usable, rnd)


def test_the_pods_prefix_is_an_80_of_the_block_without_the_nodes_address() -> None:
    rnd = random.Random(3)
    for _ in range(200):
        node = ipv6_address(BLOCK, (), rnd)
        prefix = ipaddress.IPv6Network(pod_prefix(BLOCK, node, rnd))
        assert prefix.prefixlen == 80 and prefix.subnet_of(BLOCK)
        assert node not in prefix
    # a block with room for only two /80s: the node's own is never handed out
    two = ipaddress.IPv6Network("2600:1f14::/79")
    node = two.network_address + 5
    assert {pod_prefix(two, node, rnd) for _ in range(20)} == {"2600:1f14:0:0:1::/80"}
    assert pod_prefix(ipaddress.IPv6Network("2600:1f14::/96"), node, rnd) == ""


def test_placement_takes_a_subnet_with_an_ipv6_block_and_its_zone() -> None:
    subnets = [
        SubnetBlocks("subnet-v4", "us-west-2a"),
        SubnetBlocks("subnet-v6", "us-west-2b", (str(BLOCK),)),
    ]
    rnd = random.Random(5)
    for _ in range(20):
        found = place(subnets, ipv6_cluster=True, taken=(), rnd=rnd)
        assert found is not None
        assert (found.subnet_id, found.availability_zone) == ("subnet-v6", "us-west-2b")
        assert ipaddress.IPv6Address(found.ipv6) in BLOCK
        assert ipaddress.IPv6Network(found.pod_prefix).subnet_of(BLOCK)
    ipv4_cluster = place(subnets, ipv6_cluster=False, taken=(), rnd=rnd)
    assert ipv4_cluster is not None and ipv4_cluster.pod_prefix == ""  # no prefix delegation
    assert place(subnets[:1], ipv6_cluster=True, taken=(), rnd=rnd) is None


# ---------------------------------------------------------------- against the account's records


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path)


def _dual_stack_subnets(ctx: Context) -> list[dict[str, Any]]:
    """A VPC with Amazon's /56 and two subnets with one /64 each, and one IPv4-only subnet."""
    vpc = EC2["CreateVpc"](ctx, {"CidrBlock": "10.0.0.0/16", "AmazonProvidedIpv6CidrBlock": True})
    vpc = vpc["Vpc"]
    v6 = ipaddress.IPv6Network(vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])
    blocks = list(v6.subnets(new_prefix=64))
    out = []
    for i, (zone, block) in enumerate((("us-west-2a", blocks[0]), ("us-west-2b", blocks[1]))):
        params = {"VpcId": vpc["VpcId"], "CidrBlock": f"10.0.{i}.0/24", "AvailabilityZone": zone}
        out.append(EC2["CreateSubnet"](ctx, {**params, "Ipv6CidrBlock": str(block)})["Subnet"])
    params = {"VpcId": vpc["VpcId"], "CidrBlock": "10.0.9.0/24", "AvailabilityZone": "us-west-2c"}
    out.append(EC2["CreateSubnet"](ctx, params)["Subnet"])
    return out


def _eks(ctx: Context, name: str, family: str, subnets: list[str]) -> str:
    EKS["CreateCluster"](
        ctx,
        {
            "name": name,
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/eks",
            "resourcesVpcConfig": {"subnetIds": subnets},
            "kubernetesNetworkConfig": {"ipFamily": family},
        },
    )
    return arns.eks_cluster(REGION, ACCOUNT, name)


def _hyperpod(eks_arn: str, subnets: list[str], **group: Any) -> Cluster:
    return Cluster(
        cluster_id="abcdefghijkl",
        name="hp",
        arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:cluster/abcdefghijkl",
        region=REGION,
        account=ACCOUNT,
        status="Creating",
        created=0.0,
        spec={
            "Orchestrator": {"Eks": {"ClusterArn": eks_arn}},
            "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": subnets},
        },
        groups={
            "g": InstanceGroup(
                spec={"InstanceGroupName": "g", "InstanceType": "ml.g5.xlarge", **group}
            )
        },
    )


def test_an_instance_on_an_ipv6_cluster_gets_its_subnets_address_and_pod_prefix(
    ctx: Context,
) -> None:
    a, b, v4 = _dual_stack_subnets(ctx)
    eks = _eks(ctx, "six", "ipv6", [a["SubnetId"], b["SubnetId"]])
    cluster = _hyperpod(eks, [a["SubnetId"], v4["SubnetId"]])
    group = cluster.groups["g"]
    assert eks_ip_family(ctx.store, cluster) == "ipv6"
    found = instance_addresses(ctx.store, cluster, group, rnd=random.Random(2))
    assert found is not None and found.subnet_id == a["SubnetId"]  # the one with a block
    block = ipaddress.IPv6Network(a["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])
    inst = new_instance(cluster, group, 0.0, 0.0, found)
    assert ipaddress.IPv6Address(inst.private_ipv6) in block
    assert inst.availability_zone == "us-west-2a"
    assert ipaddress.IPv6Network(inst.ipv6_pod_prefix).subnet_of(block)

    node = desired_node(cluster, group, inst, {"cpu": "4"})
    assert node["status"]["addresses"] == [
        {"type": "InternalIP", "address": inst.private_ipv6},
        {"type": "Hostname", "address": inst.node_name},
    ]
    assert node["spec"]["podCIDR"] == inst.ipv6_pod_prefix
    assert node["spec"]["podCIDRs"] == [inst.ipv6_pod_prefix]

    # the group's OverrideVpcConfig wins over the cluster's VpcConfig
    cluster.groups["g"].spec["OverrideVpcConfig"] = {"Subnets": [b["SubnetId"]]}
    assert group_subnet_ids(cluster, cluster.groups["g"]) == [b["SubnetId"]]
    found = instance_addresses(ctx.store, cluster, cluster.groups["g"])
    assert found is not None and found.availability_zone == "us-west-2b"


def test_an_ipv4_cluster_on_dual_stack_subnets_gets_an_ipv6_address_but_an_unchanged_node(
    ctx: Context,
) -> None:
    a, b, v4 = _dual_stack_subnets(ctx)
    eks = _eks(ctx, "four", "ipv4", [a["SubnetId"], b["SubnetId"]])
    cluster = _hyperpod(eks, [b["SubnetId"]])
    group = cluster.groups["g"]
    found = instance_addresses(ctx.store, cluster, group)
    assert found is not None and found.pod_prefix == ""
    inst = new_instance(cluster, group, 0.0, 0.0, found)
    assert inst.private_ipv6 and not inst.ipv6_pod_prefix
    node = desired_node(cluster, group, inst, {"cpu": "4"})
    assert "addresses" not in node["status"] and "podCIDR" not in node["spec"]
    # IPv4-only subnets: no IPv6 address at all, the simulated IPv4 one as before
    only_v4 = _hyperpod(eks, [v4["SubnetId"], "subnet-unknown"])
    assert instance_addresses(ctx.store, only_v4, only_v4.groups["g"]) is None
    plain = new_instance(only_v4, only_v4.groups["g"], 0.0, 0.0, None)
    assert plain.private_ipv6 == "" and plain.private_ip.startswith("10.1.")
