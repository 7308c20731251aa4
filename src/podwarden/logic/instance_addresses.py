"""Where a new HyperPod instance sits in its VPC: which of its group's subnets, and its IPv6
address there (R14 in docs/requirements.md).

HyperPod places an instance in one of the subnets of its group's ``OverrideVpcConfig``, else of
the cluster's ``VpcConfig``. When those subnets have IPv6 CIDR blocks the node is dual-stack
(the botocore doc of ``VpcConfig``: "In Amazon EKS-orchestrated clusters, nodes receive
dual-stack addressing, but pods can only use IPv6 when the Amazon EKS cluster is explicitly
IPv6-enabled") and DescribeClusterNode reports its ``PrivatePrimaryIpv6``. On an IPv6 EKS
cluster the VPC CNI also delegates an IPv6 /80 prefix of the subnet to the node, from which its
pods take their addresses (docs/sources.md, "IPv6 clusters").

EC2 picks an address of the subnet's block that is free, leaving out the first four and the last
(AWS reserves them in every subnet block); here the interface id is random, as EC2's are, and
drawn again if another instance holds it. The /80 is another random /80 of the same block, not
the one the node's own address is in. Subnets without an IPv6 block are not chosen while
another has one; with none at all the instance has no IPv6 address (the preflight's
``subnets-ipv6`` refuses that on an IPv6 cluster).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass

RESERVED_AT_START = 4  # the first four addresses of a subnet block, and the last, are AWS's
POD_PREFIX_LENGTH = 80  # the VPC CNI's IPv6 prefix per node
DRAWS = 64  # a random interface id is drawn again at most this often if taken


@dataclass(frozen=True)
class SubnetBlocks:
    """What of an EC2 subnet placing an instance needs."""

    subnet_id: str
    availability_zone: str
    ipv6_cidrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class InstanceAddresses:
    """A new instance's subnet, zone and IPv6 address; ``pod_prefix``: the /80 its pods'
    addresses come from ("" unless the EKS cluster is IPv6)."""

    subnet_id: str
    availability_zone: str
    ipv6: str
    pod_prefix: str = ""


def place(
    subnets: Sequence[SubnetBlocks],
    *,
    ipv6_cluster: bool,
    taken: Collection[str],
    rnd: random.Random,
) -> InstanceAddresses | None:
    """A subnet with an IPv6 block among ``subnets`` and a free address in it (``taken``: the
    addresses other instances hold); None when no subnet has an IPv6 block."""
    dual = [s for s in subnets if s.ipv6_cidrs]
    if not dual:
        return None
    subnet = rnd.choice(dual)
    block = ipaddress.IPv6Network(subnet.ipv6_cidrs[0])
    address = ipv6_address(block, taken, rnd)
    prefix = pod_prefix(block, address, rnd) if ipv6_cluster else ""
    return InstanceAddresses(subnet.subnet_id, subnet.availability_zone, str(address), prefix)


def ipv6_address(
    block: ipaddress.IPv6Network, taken: Collection[str], rnd: random.Random
) -> ipaddress.IPv6Address:
    """A random usable address of ``block`` not in ``taken``; ValueError if none is found."""
    usable = block.num_addresses - RESERVED_AT_START - 1
    if usable < 1:
        raise ValueError(f"{block} has no usable address")
    for _ in range(DRAWS):
        offset = RESERVED_AT_START + rnd.randrange(usable)
        address = block.network_address + offset
        if str(address) not in taken:
            return address
    raise ValueError(f"no free address found in {block}")


def pod_prefix(
    block: ipaddress.IPv6Network, node: ipaddress.IPv6Address, rnd: random.Random
) -> str:
    """A /80 of ``block`` (for the node's pods) other than the one ``node`` is in; "" when the
    block is too small to hold two."""
    if block.prefixlen > POD_PREFIX_LENGTH - 1:
        return ""
    count = 2 ** (POD_PREFIX_LENGTH - block.prefixlen)
    mine = (int(node) - int(block.network_address)) >> (128 - POD_PREFIX_LENGTH)
    index = rnd.randrange(count - 1)
    index += index >= mine  # skip the node's own /80
    start = int(block.network_address) + (index << (128 - POD_PREFIX_LENGTH))
    return str(ipaddress.IPv6Network((start, POD_PREFIX_LENGTH)))
