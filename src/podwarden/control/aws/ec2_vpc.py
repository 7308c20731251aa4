"""VPCs.

CreateVpc makes what AWS makes with a VPC: its main route table (``local`` route per CIDR block,
association ``Main: true``) and its ``default`` security group; DeleteVpc removes those two and
refuses (DependencyViolation) while anything else is left in the VPC. An Amazon-provided IPv6
block is a random /56 of ``2600:1f14::/32`` (the block AWS announces for us-west-2, used in every
region here), unique in the account's region. The VPC's DHCP options id is ``default`` (no option
set: DHCP option sets are not emulated). No default VPC is created.

The records are written children first (route table, security group, then the VPC) and deleted
VPC first, each in its own transaction: the store has no multi-record transaction, so a crash
mid-call can leave an orphaned main route table or default group, never a VPC without them.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any

from podwarden.control.aws import ec2_routes, ec2_security
from podwarden.control.aws.ec2_common import (
    EGRESS_ONLY_GATEWAY,
    INTERNET_GATEWAY,
    LIVE_NAT_STATES,
    NAT_GATEWAY,
    ROUTE_TABLE,
    SECURITY_GROUP,
    SUBNET,
    VPC,
    Describe,
    Doc,
    Handler,
    IPv4,
    IPv6,
    create,
    dependency,
    describer,
    fetch,
    initial_tags,
    ipv4_block,
    new_id,
    project,
    records,
    remove,
    unsupported,
)
from podwarden.control.aws.ec2_filters import TAGS, at
from podwarden.control.context import Context
from podwarden.model.errors import ServiceError

AMAZON_IPV6 = ipaddress.IPv6Network("2600:1f14::/32")
UNSUPPORTED_VPC = ("Ipv6Pool", "Ipv6CidrBlock", "Ipv4IpamPoolId", "Ipv6IpamPoolId")


# --- VPCs -------------------------------------------------------------------------------------


def _vpc_block(params: dict[str, Any]) -> IPv4:
    if not params.get("CidrBlock"):
        raise ServiceError(
            "MissingParameter", "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided."
        )
    block = ipv4_block(params["CidrBlock"], "cidrBlock")
    if not 16 <= block.prefixlen <= 28:
        raise ServiceError("InvalidVpc.Range", f"The CIDR '{params['CidrBlock']}' is invalid.")
    return block


def _amazon_ipv6_block(ctx: Context) -> IPv6:
    taken = {
        a["Ipv6CidrBlock"]
        for r in records(ctx, VPC)
        for a in r.doc.get("Ipv6CidrBlockAssociationSet", [])
    }
    while True:
        offset = secrets.randbelow(2 ** (56 - AMAZON_IPV6.prefixlen)) << (128 - 56)
        block = ipaddress.IPv6Network((int(AMAZON_IPV6.network_address) + offset, 56))
        if str(block) not in taken:
            return block


def _ipv6_association(ctx: Context, block: IPv6) -> Doc:
    return {
        "AssociationId": new_id("vpc-cidr-assoc"),
        "Ipv6CidrBlock": str(block),
        "Ipv6CidrBlockState": {"State": "associated"},
        "NetworkBorderGroup": ctx.region,
        "Ipv6Pool": "Amazon",
        "Ipv6AddressAttribute": "public",
        "IpSource": "amazon",
    }


def new_vpc(ctx: Context, params: dict[str, Any], tags: list[dict[str, str]]) -> Doc:
    block = _vpc_block(params)
    wants_ipv6 = params.get("AmazonProvidedIpv6CidrBlock")
    ipv6 = [_ipv6_association(ctx, _amazon_ipv6_block(ctx))] if wants_ipv6 else []
    return {
        "VpcId": new_id("vpc"),
        "OwnerId": ctx.account,
        "State": "available",
        "CidrBlock": str(block),
        "CidrBlockAssociationSet": [
            {
                "AssociationId": new_id("vpc-cidr-assoc"),
                "CidrBlock": str(block),
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "Ipv6CidrBlockAssociationSet": ipv6,
        "DhcpOptionsId": "default",
        "InstanceTenancy": params.get("InstanceTenancy") or "default",
        "IsDefault": False,
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
        "Tags": tags,
    }


def create_vpc(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    unsupported(params, UNSUPPORTED_VPC)
    vpc = new_vpc(ctx, params, initial_tags(VPC, params))
    create(ctx, ROUTE_TABLE, ec2_routes.new_route_table(ctx, vpc, main=True), vpc["VpcId"])
    create(ctx, SECURITY_GROUP, ec2_security.default_group(ctx, vpc), vpc["VpcId"])
    create(ctx, VPC, vpc)
    return {"Vpc": project(vpc)}


def _vpc_dependencies(ctx: Context, vpc_id: str) -> list[Any]:
    """Everything in the VPC that DeleteVpc does not remove itself."""
    return [
        *records(ctx, SUBNET, vpc_id),
        *records(ctx, INTERNET_GATEWAY, vpc_id),
        *records(ctx, EGRESS_ONLY_GATEWAY, vpc_id),
        *[r for r in records(ctx, NAT_GATEWAY, vpc_id) if r.doc["State"] in LIVE_NAT_STATES],
        *[r for r in records(ctx, SECURITY_GROUP, vpc_id) if r.doc["GroupName"] != "default"],
        *[r for r in records(ctx, ROUTE_TABLE, vpc_id) if not ec2_routes.is_main(r.doc)],
    ]


def delete_vpc(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    vpc_id = fetch(ctx, VPC, params.get("VpcId")).key
    if _vpc_dependencies(ctx, vpc_id):
        raise dependency("vpc", vpc_id)
    remove(ctx, VPC, vpc_id)
    for kind in (ROUTE_TABLE, SECURITY_GROUP):
        for rec in records(ctx, kind, vpc_id):
            remove(ctx, kind, rec.key)
    return {}


VPC_FILTERS = {
    "cidr": at("CidrBlock"),
    "cidr-block-association.cidr-block": at("CidrBlockAssociationSet", "CidrBlock"),
    "cidr-block-association.association-id": at("CidrBlockAssociationSet", "AssociationId"),
    "cidr-block-association.state": at("CidrBlockAssociationSet", "CidrBlockState", "State"),
    "dhcp-options-id": at("DhcpOptionsId"),
    "ipv6-cidr-block-association.ipv6-cidr-block": at(
        "Ipv6CidrBlockAssociationSet", "Ipv6CidrBlock"
    ),
    "ipv6-cidr-block-association.ipv6-pool": at("Ipv6CidrBlockAssociationSet", "Ipv6Pool"),
    "ipv6-cidr-block-association.association-id": at(
        "Ipv6CidrBlockAssociationSet", "AssociationId"
    ),
    "ipv6-cidr-block-association.state": at(
        "Ipv6CidrBlockAssociationSet", "Ipv6CidrBlockState", "State"
    ),
    "is-default": at("IsDefault"),
    "owner-id": at("OwnerId"),
    "state": at("State"),
    "vpc-id": at("VpcId"),
    **TAGS,
}

OPERATIONS: dict[str, Handler] = {
    "CreateVpc": create_vpc,
    "DescribeVpcs": describer(Describe(VPC, "Vpcs", "VpcIds", VPC_FILTERS)),
    "DeleteVpc": delete_vpc,
}
