"""Preflight rules about networking: the request's subnets (VpcConfig and every group's
OverrideVpcConfig) are private (R6), exist in the EKS cluster's VPC (R2, R6) and are
dual-stack on an IPv6 cluster (R14); its security groups exist in that VPC."""

from __future__ import annotations

from podwarden.logic.preflight import Outcome, Rule, failed, listed, passed, skipped, warned
from podwarden.logic.preflight_facts import Facts, SecurityGroup, Subnet, Unknown
from podwarden.logic.preflight_rules_eks import eks_of
from podwarden.policy.preflight import Tables

NO_REQUEST = "no CreateCluster request: the subnets HyperPod would use are not known"


def _uses(facts: Facts) -> list[tuple[str, str, Subnet | Unknown]]:
    return [
        (where, sid, facts.subnets.get(sid, Unknown("not described")))
        for where, sid in facts.subnet_uses()
    ]


def subnets_private(facts: Facts, tables: Tables) -> Outcome:
    if facts.request is None:
        return skipped(NO_REQUEST)
    uses = _uses(facts)
    if not uses:
        return warned(
            ["the request has no VpcConfig subnets: nothing to check"],
            "Give VpcConfig with private subnets of the EKS cluster's VPC.",
        )
    public: list[str] = []
    unread: list[str] = []
    private: list[str] = []
    for where, sid, subnet in uses:
        if isinstance(subnet, Unknown):
            if not subnet.missing:
                unread.append(f"{sid} ({where}) could not be read: {subnet.reason}")
        elif subnet.internet_routes:
            public.append(
                f"{sid} ({where}) is public: route table {subnet.route_table} routes "
                f"{listed(subnet.internet_routes)}"
            )
        else:
            private.append(sid)
    if public:
        return failed(
            public,
            "Use private subnets: send 0.0.0.0/0 through a NAT gateway (IPv6 ::/0 through an "
            "egress-only internet gateway), not an internet gateway, or name other subnets.",
        )
    evidence = [f"no route to an internet gateway: {listed(dict.fromkeys(private))}"]
    return warned(unread + evidence) if unread else passed(*evidence)


def subnets_ipv6(facts: Facts, tables: Tables) -> Outcome:
    if facts.request is None:
        return skipped(NO_REQUEST)
    eks = eks_of(facts)
    if eks is None:
        return skipped("the EKS cluster could not be read (see eks-cluster-active)")
    if eks.ip_family != "ipv6":
        return skipped(f"EKS cluster {eks.name} is {eks.ip_family}")
    subnets = [(where, sid, s) for where, sid, s in _uses(facts) if isinstance(s, Subnet)]
    without = [
        f"{sid} ({where}) has no IPv6 CIDR block" for where, sid, s in subnets if not s.ipv6_cidrs
    ]
    if without:
        return failed(
            [f"EKS cluster {eks.name} is IPv6", *without],
            "Associate an IPv6 CIDR block with each subnet (aws ec2 associate-subnet-cidr-block "
            "--subnet-id <id> --ipv6-cidr-block <block of the VPC's>), or name dual-stack subnets.",
        )
    # HyperPod's nodes on EKS are dual-stack (docs/sources.md, "IPv6 clusters")
    only = [
        f"{sid} ({where}) is IPv6-only (no IPv4 CIDR block)"
        for where, sid, s in subnets
        if s.ipv6_only
    ]
    if only:
        return failed(
            [f"EKS cluster {eks.name} is IPv6", *only],
            "Use dual-stack subnets: HyperPod gives EKS nodes an IPv4 and an IPv6 address, so "
            "each subnet needs both an IPv4 and an IPv6 CIDR block.",
        )
    return passed(
        f"EKS cluster {eks.name} is IPv6 and every subnet has an IPv4 and an IPv6 CIDR block"
    )


def subnets_in_cluster_vpc(facts: Facts, tables: Tables) -> Outcome:
    if facts.request is None:
        return skipped(NO_REQUEST)
    eks = eks_of(facts)
    vpc = eks.vpc_id if eks else None
    problems: list[str] = []
    unread: list[str] = []
    good: list[str] = []
    for where, sid, subnet in _uses(facts):
        if isinstance(subnet, Unknown):
            (problems if subnet.missing else unread).append(f"{sid} ({where}): {subnet.reason}")
        elif vpc is not None and subnet.vpc_id != vpc:
            problems.append(f"{sid} ({where}) is in {subnet.vpc_id}, not {vpc}")
        else:
            good.append(sid)
    if problems:
        return failed(
            problems,
            f"Name existing subnets of the EKS cluster's VPC ({vpc or 'its VPC'}): aws ec2 "
            f"describe-subnets --filters Name=vpc-id,Values={vpc or '<vpc-id>'}.",
        )
    where = f"in {vpc}, the EKS cluster's VPC" if vpc else "exist (the EKS cluster's VPC unknown)"
    evidence = [f"{listed(dict.fromkeys(good))} {where}"] if good else []
    if unread or vpc is None:
        return warned(unread + evidence)
    return passed(*evidence)


def security_groups_in_vpc(facts: Facts, tables: Tables) -> Outcome:
    if facts.request is None:
        return skipped("no CreateCluster request")
    eks = eks_of(facts)
    vpc = eks.vpc_id if eks else None
    problems: list[str] = []
    unread: list[str] = []
    good: list[str] = []
    for where, gid in facts.security_group_uses():
        group = facts.security_groups.get(gid, Unknown("not described"))
        if isinstance(group, Unknown):
            (problems if group.missing else unread).append(f"{gid} ({where}): {group.reason}")
        elif isinstance(group, SecurityGroup) and vpc is not None and group.vpc_id != vpc:
            problems.append(f"{gid} ({where}) is in {group.vpc_id}, not {vpc}")
        else:
            good.append(gid)
    if problems:
        return failed(
            problems,
            f"Name security groups of the EKS cluster's VPC ({vpc or 'its VPC'}); they must "
            "allow the nodes to reach the cluster (the EKS cluster security group does).",
        )
    if not good and not unread:
        return warned(["the request names no security groups"])
    where = f"in {vpc}" if vpc else "exist (the EKS cluster's VPC unknown)"
    evidence = [f"{listed(dict.fromkeys(good))} {where}"] if good else []
    if unread or vpc is None:
        return warned(unread + evidence)
    return passed(*evidence)


RULES = (
    Rule(
        "subnets-private",
        "R6",
        "Every subnet of VpcConfig and OverrideVpcConfig is private (no route to an internet "
        "gateway).",
        subnets_private,
    ),
    Rule(
        "subnets-in-cluster-vpc",
        "R2, R6",
        "Every subnet exists and belongs to the EKS cluster's VPC.",
        subnets_in_cluster_vpc,
    ),
    Rule(
        "subnets-ipv6",
        "R14",
        "On an IPv6 EKS cluster every subnet has an IPv6 CIDR block, and an IPv4 one.",
        subnets_ipv6,
    ),
    Rule(
        "security-groups-in-vpc",
        "R2, R6",
        "Every security group exists in the EKS cluster's VPC.",
        security_groups_in_vpc,
    ),
)
