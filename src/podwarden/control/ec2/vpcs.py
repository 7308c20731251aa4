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

import secrets
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.ec2 import nat_gateways, route_tables, security_groups
from podwarden.control.ec2.cidrs import IPv4, IPv6, ipv4_block
from podwarden.control.ec2.describe import Describe, describer, project
from podwarden.control.ec2.filters import TAGS, association_set, at, named
from podwarden.control.ec2.parameters import unsupported
from podwarden.control.ec2.records import Doc, create, fetch, listing, remove
from podwarden.control.ec2.resources import (
    EGRESS_ONLY_GATEWAY,
    INTERNET_GATEWAY,
    NAT_GATEWAY,
    ROUTE_TABLE,
    SECURITY_GROUP,
    SUBNET,
    VPC,
    new_id,
)
from podwarden.control.ec2.tags import initial_tags
from podwarden.model.errors import InUse, Invalid
from podwarden.store.resources import Record

AMAZON_IPV6 = IPv6("2600:1f14::/32")
UNSUPPORTED_VPC = ("Ipv6Pool", "Ipv6CidrBlock", "Ipv4IpamPoolId", "Ipv6IpamPoolId")


def _vpc_block(params: dict[str, Any]) -> IPv4:
    if not params.get("CidrBlock"):
        raise Invalid(
            "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.", reason="missing-choice"
        )
    block = ipv4_block(params["CidrBlock"], "cidrBlock")
    if not 16 <= block.prefixlen <= 28:
        raise Invalid(reason="vpc-range", cidr=params["CidrBlock"])
    return block


def _amazon_ipv6_block(ctx: Context) -> IPv6:
    taken = {
        a["Ipv6CidrBlock"]
        for r in listing(ctx, VPC)
        for a in r.doc.get("Ipv6CidrBlockAssociationSet", [])
    }
    while True:
        offset = secrets.randbelow(2 ** (56 - AMAZON_IPV6.prefixlen)) << (128 - 56)
        block = IPv6((int(AMAZON_IPV6.network_address) + offset, 56))
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
    create(ctx, ROUTE_TABLE, route_tables.new_route_table(ctx, vpc, main=True), vpc["VpcId"])
    create(ctx, SECURITY_GROUP, security_groups.default_group(ctx, vpc), vpc["VpcId"])
    create(ctx, VPC, vpc)
    return {"Vpc": project(vpc)}


def _vpc_dependencies(ctx: Context, vpc_id: str) -> list[Record]:
    """Everything in the VPC that DeleteVpc does not remove itself."""
    return [
        *listing(ctx, SUBNET, vpc_id),
        *listing(ctx, INTERNET_GATEWAY, vpc_id),
        *listing(ctx, EGRESS_ONLY_GATEWAY, vpc_id),
        *[
            r
            for r in listing(ctx, NAT_GATEWAY, vpc_id)
            if r.doc["State"] in nat_gateways.LIVE_STATES
        ],
        *[r for r in listing(ctx, SECURITY_GROUP, vpc_id) if r.doc["GroupName"] != "default"],
        *[r for r in listing(ctx, ROUTE_TABLE, vpc_id) if not route_tables.is_main(r.doc)],
    ]


def delete_vpc(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    vpc_id = fetch(ctx, VPC, params.get("VpcId")).key
    if _vpc_dependencies(ctx, vpc_id):
        raise InUse(reason="has-dependencies", noun="vpc", id=vpc_id)
    remove(ctx, VPC, vpc_id)
    for res in (ROUTE_TABLE, SECURITY_GROUP):
        for rec in listing(ctx, res, vpc_id):
            remove(ctx, res, rec.key)
    return {}


VPC_FILTERS = {
    "cidr": at("CidrBlock"),
    **association_set(
        "CidrBlockAssociationSet", "cidr-block-association.", "CidrBlock", "AssociationId",
        state="CidrBlockState",
    ),
    **association_set(
        "Ipv6CidrBlockAssociationSet", "ipv6-cidr-block-association.", "Ipv6CidrBlock", "Ipv6Pool",
        "AssociationId", state="Ipv6CidrBlockState",
    ),
    **named("DhcpOptionsId", "IsDefault", "OwnerId", "State", "VpcId"),
    **TAGS,
}  # fmt: skip

OPERATIONS: Operations = {
    "CreateVpc": create_vpc,
    "DescribeVpcs": describer(Describe(VPC, "Vpcs", "VpcIds", VPC_FILTERS)),
    "DeleteVpc": delete_vpc,
}
