"""An EKS cluster's networking: ``resourcesVpcConfig`` against the account's EC2 records, and
``kubernetesNetworkConfig`` defaults.

Subnets are read from the EC2 records of the same account and region (``kinds.EC2_SUBNET``,
key the subnet id, doc with ``VpcId`` and ``AvailabilityZone``), defensively: EC2 is another
service's data. AWS checks every subnet (CreateCluster answers InvalidParameterException "The
subnet ID '…' does not exist (Service: AmazonEC2; …InvalidSubnetID.NotFound…)", as reported in
github.com/AdminTurnedDevOps/DevOps-The-Hard-Way-AWS/issues/16) and wants two AZs ("Subnets
specified must be in at least two different AZs", pulumi/pulumi-eks#311). podwarden does the
same whenever the region has any subnet records; a region with none has not modelled EC2 at all
(a bare ``podwarden up``), so the ids are taken as given and ``vpcId`` stays unknown. At least
two distinct subnets are always required (botocore doc of ``resourcesVpcConfig``: "You must
specify at least two subnets").
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any

from podwarden.control.context import Context
from podwarden.model.aws import kinds
from podwarden.model.errors import Invalid, NotFound

# If no block is given, "Kubernetes assigns addresses from either the 10.100.0.0/16 or
# 172.20.0.0/16 CIDR blocks" (botocore doc): the second when the VPC itself is in 10.0.0.0/8,
# so the service range does not overlap it [inferred from the doc's overlap rule].
SERVICE_CIDRS = ("10.100.0.0/16", "172.20.0.0/16")
PRIVATE_BLOCKS = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


def vpc_config(ctx: Context, request: dict[str, Any], cluster: str) -> dict[str, Any]:
    """``VpcConfigResponse`` for a CreateCluster ``resourcesVpcConfig``."""
    subnets = list(dict.fromkeys(request.get("subnetIds") or []))
    out: dict[str, Any] = {
        "subnetIds": subnets,
        "securityGroupIds": list(request.get("securityGroupIds") or []),
        "clusterSecurityGroupId": "sg-" + secrets.token_hex(9)[:17],
        "endpointPublicAccess": request.get("endpointPublicAccess", True),
        "endpointPrivateAccess": request.get("endpointPrivateAccess", False),
        "publicAccessCidrs": list(request.get("publicAccessCidrs") or ["0.0.0.0/0"]),
    }
    vpc = subnets_vpc(ctx, subnets, cluster)
    if vpc:
        out["vpcId"] = vpc
    if "controlPlaneEgressMode" in request:
        out["controlPlaneEgressMode"] = request["controlPlaneEgressMode"]
    return out


def subnets_vpc(ctx: Context, subnets: list[str], cluster: str) -> str | None:
    """The VPC of ``subnets`` after AWS's checks; None when EC2 is not modelled here."""
    if len(set(subnets)) < 2:
        raise Invalid(reason="subnets-in-one-az", clusterName=cluster)
    records = ctx.store.resources.list(kinds.EC2_SUBNET, ctx.scope)
    if not records:
        return None
    known = {r.key: r.doc for r in records}
    for subnet in subnets:
        if subnet not in known:
            raise NotFound(reason="subnet-not-found", subnetId=subnet, clusterName=cluster)
    docs = [known[s] for s in subnets]
    if len({d.get("AvailabilityZone") for d in docs}) < 2:
        raise Invalid(reason="subnets-in-one-az", clusterName=cluster)
    vpcs = {d.get("VpcId") for d in docs}
    if len(vpcs) != 1:
        raise Invalid(reason="subnets-in-many-vpcs", clusterName=cluster)
    vpc = vpcs.pop()
    return vpc if isinstance(vpc, str) else None


def network_config(
    ctx: Context, request: dict[str, Any], vpc: str | None, cluster: str
) -> dict[str, Any]:
    """``KubernetesNetworkConfigResponse`` for a CreateCluster ``kubernetesNetworkConfig``."""
    family = request.get("ipFamily", "ipv4")
    out: dict[str, Any] = {"ipFamily": family}
    given = request.get("serviceIpv4Cidr")
    if family == "ipv6":
        if given:
            raise Invalid(reason="service-cidr-with-ipv6", clusterName=cluster)
        out["serviceIpv6Cidr"] = service_ipv6_cidr()
    else:
        out["serviceIpv4Cidr"] = _service_cidr(given, cluster) if given else _default(ctx, vpc)
    if "elasticLoadBalancing" in request:
        out["elasticLoadBalancing"] = request["elasticLoadBalancing"]
    return out


def service_ipv6_cidr() -> str:
    """An IPv6 cluster's Service range: EKS assigns one from the unique local range fc00::/7
    (botocore doc) and documents no more; podwarden takes a /108 (Kubernetes' largest IPv6
    Service range) at the start of a random RFC 4193 /48, ``fdXX:XXXX:XXXX::/108``."""
    global_id = secrets.randbits(40)  # RFC 4193: fd00::/8, then a 40-bit random global id
    prefix = (0xFD << 120) | (global_id << 80)
    return str(ipaddress.IPv6Network((prefix, 108)))


def _service_cidr(given: str, cluster: str) -> str:
    """The documented rules: in a private block, between /24 and /12."""
    try:
        net = ipaddress.ip_network(given)
    except ValueError:
        raise Invalid(reason="invalid-service-cidr", cidr=given, clusterName=cluster) from None
    inside = isinstance(net, ipaddress.IPv4Network) and any(
        net.subnet_of(block) for block in PRIVATE_BLOCKS
    )
    if not inside or not 12 <= net.prefixlen <= 24:
        raise Invalid(reason="service-cidr-out-of-range", cidr=given, clusterName=cluster)
    return str(net)


def _default(ctx: Context, vpc: str | None) -> str:
    rec = ctx.store.resources.get(kinds.EC2_VPC, ctx.scope, vpc) if vpc else None
    cidr = rec.doc.get("CidrBlock") if rec else None
    try:
        in_ten = bool(cidr) and ipaddress.IPv4Network(str(cidr)).subnet_of(PRIVATE_BLOCKS[0])
    except ValueError:
        in_ten = False
    return SERVICE_CIDRS[1] if in_ten else SERVICE_CIDRS[0]
