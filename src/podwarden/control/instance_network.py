"""What the HyperPod cluster reconciler reads of the local account to place a new instance in
its VPC: the EC2 records of its group's subnets (``OverrideVpcConfig``, else the cluster's
``VpcConfig``) and the IP family of the EKS cluster its ``Orchestrator.Eks.ClusterArn`` names;
``logic.instance_addresses`` decides the rest (R14 in docs/requirements.md).

It lives beside the service packages, not in one, because its reader is the reconciler
(``podwarden.operator``), as ``lifecycle_scripts`` does for S3. EC2 is another service's data,
read defensively: a subnet the account has no record of is skipped.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping
from typing import Any

from podwarden.logic.instance_addresses import InstanceAddresses, SubnetBlocks, place
from podwarden.model.aws import arns, kinds
from podwarden.model.aws.scope import regional
from podwarden.model.cluster import Cluster, InstanceGroup
from podwarden.store.sql import Store

_RANDOM = random.SystemRandom()


def group_subnet_ids(cluster: Cluster, group: InstanceGroup) -> list[str]:
    """The subnets HyperPod places the group's instances in."""
    override = group.spec.get("OverrideVpcConfig") or {}
    config = override if override.get("Subnets") else cluster.spec.get("VpcConfig") or {}
    return [str(s) for s in config.get("Subnets") or []]


def subnet_blocks(doc: Mapping[str, Any]) -> SubnetBlocks:
    """An EC2 subnet record's id, zone and associated IPv6 blocks."""
    ipv6 = tuple(
        str(a["Ipv6CidrBlock"])
        for a in doc.get("Ipv6CidrBlockAssociationSet") or []
        if (a.get("Ipv6CidrBlockState") or {}).get("State", "associated") == "associated"
    )
    return SubnetBlocks(str(doc.get("SubnetId", "")), str(doc.get("AvailabilityZone", "")), ipv6)


def eks_ip_family(store: Store, cluster: Cluster) -> str:
    """``ipv6`` or ``ipv4``: the ``kubernetesNetworkConfig.ipFamily`` of the EKS cluster the
    HyperPod cluster runs on (``ipv4`` when the account has no such record)."""
    orchestrator = cluster.spec.get("Orchestrator") or {}
    target = arns.parse_eks_cluster(str((orchestrator.get("Eks") or {}).get("ClusterArn", "")))
    if target is None:
        return "ipv4"
    rec = store.resources.get(kinds.EKS_CLUSTER, target.scope, target.name)
    config = (rec.doc.get("kubernetesNetworkConfig") or {}) if rec is not None else {}
    return "ipv6" if config.get("ipFamily") == "ipv6" else "ipv4"


def instance_addresses(
    store: Store,
    cluster: Cluster,
    group: InstanceGroup,
    taken: Collection[str] = (),
    rnd: random.Random = _RANDOM,
) -> InstanceAddresses | None:
    """Where a new instance of ``group`` sits (``logic.instance_addresses.place``), its address
    drawn again if it is in ``taken`` (the cluster's instances' addresses, which the caller has
    in hand); None when none of its subnets has an IPv6 block (the instance keeps podwarden's
    simulated IPv4 address only). Reads two or three records: no scan of the instances."""
    scope = regional(cluster.account, cluster.region)
    subnets = [
        subnet_blocks(rec.doc)
        for sid in group_subnet_ids(cluster, group)
        if (rec := store.resources.get(kinds.EC2_SUBNET, scope, sid)) is not None
    ]
    if not any(s.ipv6_cidrs for s in subnets):
        return None
    ipv6_cluster = eks_ip_family(store, cluster) == "ipv6"
    return place(subnets, ipv6_cluster=ipv6_cluster, taken=taken, rnd=rnd)
