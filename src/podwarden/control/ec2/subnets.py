"""Subnets.

CreateSubnet checks the block as EC2 does: a valid CIDR (InvalidParameterValue), /16 to /28 and
inside a block of the VPC (InvalidSubnet.Range), not overlapping a sibling (InvalidSubnet.Conflict);
IPv6 blocks are /64s of the VPC's /56. Without a zone, the zone with the fewest subnets of the VPC
is chosen (AWS picks one for you). ``AvailableIpAddressCount`` is the block's size minus the five
addresses AWS reserves, minus one per NAT gateway in the subnet.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.ec2 import nat_gateways, route_tables
from podwarden.control.ec2.cidrs import IPv4, IPv6, ipv4_block, ipv6_block
from podwarden.control.ec2.describe import Describe, describer, project
from podwarden.control.ec2.filters import TAGS, association_set, at, named
from podwarden.control.ec2.parameters import unsupported
from podwarden.control.ec2.records import Doc, arn, create, fetch, listing, missing, remove, save
from podwarden.control.ec2.resources import NAT_GATEWAY, SUBNET, VPC, new_id
from podwarden.control.ec2.tags import initial_tags
from podwarden.model.errors import InUse, Invalid
from podwarden.policy.ec2_zones import Zone, zones

RESERVED_PER_SUBNET = 5  # network, router, DNS, future use, broadcast


def _zone(ctx: Context, params: dict[str, Any], vpc_id: str) -> Zone:
    """The zone the caller named (by name or id), else the VPC's least used one."""
    choices = zones(ctx.region)
    for member, param, attr in (
        ("AvailabilityZone", "availabilityZone", "name"),
        ("AvailabilityZoneId", "availabilityZoneId", "zone_id"),
    ):
        wanted = params.get(member)
        if wanted is None:
            continue
        for zone in choices:
            if getattr(zone, attr) == wanted:
                return zone
        names = ", ".join(z.name for z in choices)
        raise Invalid(
            f"Value ({wanted}) for parameter {param} is invalid. Subnets can currently only be "
            f"created in the following availability zones: {names}."
        )
    used = Counter(r.doc["AvailabilityZone"] for r in listing(ctx, SUBNET, vpc_id))
    return min(choices, key=lambda z: used[z.name])


def _ipv4(params: dict[str, Any], vpc: Doc, siblings: list[Doc]) -> IPv4 | None:
    if not params.get("CidrBlock"):
        if params.get("Ipv6Native"):
            return None
        raise Invalid(
            "Either 'cidrBlock' or 'ipv6CidrBlock' should be provided.", reason="missing-choice"
        )
    block = ipv4_block(params["CidrBlock"], "cidrBlock")
    vpc_blocks = [IPv4(a["CidrBlock"]) for a in vpc["CidrBlockAssociationSet"]]
    if not 16 <= block.prefixlen <= 28 or not any(block.subnet_of(b) for b in vpc_blocks):
        raise Invalid(reason="subnet-range", cidr=params["CidrBlock"])
    if any(s.get("CidrBlock") and block.overlaps(IPv4(s["CidrBlock"])) for s in siblings):
        raise InUse(reason="subnet-conflict", cidr=params["CidrBlock"])
    return block


def _ipv6(params: dict[str, Any], vpc: Doc, siblings: list[Doc]) -> IPv6 | None:
    if not params.get("Ipv6CidrBlock"):
        if params.get("Ipv6Native"):
            raise missing("ipv6CidrBlock")
        return None
    text = params["Ipv6CidrBlock"]
    block = ipv6_block(text, "ipv6CidrBlock")
    vpc_blocks = [IPv6(a["Ipv6CidrBlock"]) for a in vpc.get("Ipv6CidrBlockAssociationSet", [])]
    if block.prefixlen != 64 or not any(block.subnet_of(b) for b in vpc_blocks):
        raise Invalid(reason="subnet-range", cidr=text)
    taken = [IPv6(a["Ipv6CidrBlock"]) for s in siblings for a in s["Ipv6CidrBlockAssociationSet"]]
    if any(block.overlaps(t) for t in taken):
        raise InUse(reason="subnet-conflict", cidr=text)
    return block


def _subnet_ipv6_set(block: IPv6 | None) -> list[Doc]:
    if block is None:
        return []
    return [
        {
            "AssociationId": new_id("subnet-cidr-assoc"),
            "Ipv6CidrBlock": str(block),
            "Ipv6CidrBlockState": {"State": "associated"},
            "Ipv6AddressAttribute": "public",
            "IpSource": "amazon",
        }
    ]


def new_subnet(ctx: Context, params: dict[str, Any], vpc: Doc, tags: list[dict[str, str]]) -> Doc:
    siblings = [r.doc for r in listing(ctx, SUBNET, vpc["VpcId"])]
    v4, v6 = _ipv4(params, vpc, siblings), _ipv6(params, vpc, siblings)
    zone = _zone(ctx, params, vpc["VpcId"])
    subnet_id = new_id("subnet")
    doc: Doc = {
        "SubnetId": subnet_id,
        "SubnetArn": arn(ctx, "subnet", subnet_id),
        "VpcId": vpc["VpcId"],
        "OwnerId": ctx.account,
        "State": "available",
        "AvailabilityZone": zone.name,
        "AvailabilityZoneId": zone.zone_id,
        "AvailableIpAddressCount": v4.num_addresses - RESERVED_PER_SUBNET if v4 else 0,
        "DefaultForAz": False,
        "MapPublicIpOnLaunch": False,
        "MapCustomerOwnedIpOnLaunch": False,
        "AssignIpv6AddressOnCreation": False,
        "EnableDns64": False,
        "Ipv6Native": bool(params.get("Ipv6Native")),
        "Ipv6CidrBlockAssociationSet": _subnet_ipv6_set(v6),
        "PrivateDnsNameOptionsOnLaunch": {
            "HostnameType": "ip-name",
            "EnableResourceNameDnsARecord": False,
            "EnableResourceNameDnsAAAARecord": False,
        },
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
        "Tags": tags,
    }
    if v4 is not None:
        doc["CidrBlock"] = str(v4)
    return doc


def create_subnet(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    unsupported(params, ("OutpostArn", "Ipv4IpamPoolId", "Ipv6IpamPoolId"))
    vpc = fetch(ctx, VPC, params.get("VpcId")).doc
    doc = new_subnet(ctx, params, vpc, initial_tags(SUBNET, params))
    create(ctx, SUBNET, doc, vpc["VpcId"])
    return {"Subnet": project(doc)}


def delete_subnet(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, SUBNET, params.get("SubnetId"))
    nats = listing(ctx, NAT_GATEWAY, rec.parent)
    if any(
        n.doc["SubnetId"] == rec.key and n.doc["State"] in nat_gateways.LIVE_STATES for n in nats
    ):
        raise InUse(reason="has-dependencies", noun="subnet", id=rec.key)
    route_tables.forget_subnet(ctx, rec.parent, rec.key)
    remove(ctx, SUBNET, rec.key)
    return {}


# ModifySubnetAttribute member -> the path of the Subnet member it sets. Every member of the
# operation's input but SubnetId and DryRun is here (a unit test holds the table to the model);
# booleans come as AttributeBooleanValue ({"Value": bool}), the others as the value itself.
SUBNET_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "MapPublicIpOnLaunch": ("MapPublicIpOnLaunch",),
    "AssignIpv6AddressOnCreation": ("AssignIpv6AddressOnCreation",),
    "EnableDns64": ("EnableDns64",),
    "MapCustomerOwnedIpOnLaunch": ("MapCustomerOwnedIpOnLaunch",),
    "CustomerOwnedIpv4Pool": ("CustomerOwnedIpv4Pool",),
    "PrivateDnsHostnameTypeOnLaunch": ("PrivateDnsNameOptionsOnLaunch", "HostnameType"),
    "EnableResourceNameDnsARecordOnLaunch": (
        "PrivateDnsNameOptionsOnLaunch", "EnableResourceNameDnsARecord",
    ),
    "EnableResourceNameDnsAAAARecordOnLaunch": (
        "PrivateDnsNameOptionsOnLaunch", "EnableResourceNameDnsAAAARecord",
    ),
    "EnableLniAtDeviceIndex": ("EnableLniAtDeviceIndex",),
    "DisableLniAtDeviceIndex": ("EnableLniAtDeviceIndex",),  # {"Value": true} removes it
}  # fmt: skip
# Members that go with another in the same call rather than count as an attribute of their own.
_COMPANIONS = frozenset({"CustomerOwnedIpv4Pool"})


def _one_attribute(params: dict[str, Any]) -> None:
    """EC2 modifies one attribute a call: "Only one subnet attribute can be modified at a time.
    Provided attributes: [assignIpv6AddressOnCreation, mapPublicIpOnLaunch]" (quoted in
    aws-cloudformation/cloudformation-coverage-roadmap#1031, relayed by Cloud Control; the code,
    InvalidParameterCombination, is ModifyVpcAttribute's for the same mistake)."""
    given = [m for m in SUBNET_ATTRIBUTES if params.get(m) is not None and m not in _COMPANIONS]
    if len(given) > 1:
        names = ", ".join(m[:1].lower() + m[1:] for m in given)
        raise Invalid(
            f"Only one subnet attribute can be modified at a time. Provided attributes: [{names}]",
            reason="parameter-combination",
        )


def modify_subnet_attribute(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Sets the attribute named in the subnet's stored description, where DescribeSubnets reads
    it (``PrivateDnsNameOptionsOnLaunch`` for the three DNS-name attributes)."""
    rec = fetch(ctx, SUBNET, params.get("SubnetId"))
    _one_attribute(params)
    for member, path in SUBNET_ATTRIBUTES.items():
        value = params.get(member)
        if value is None:
            continue
        *parents, key = path
        target = rec.doc
        for parent in parents:
            target = target.setdefault(parent, {})
        if member == "DisableLniAtDeviceIndex":
            if value.get("Value"):
                target.pop(key, None)
        else:
            target[key] = bool(value.get("Value")) if isinstance(value, dict) else value
    save(ctx, rec)
    return {}


SUBNET_FILTERS = {
    **named(
        "AvailabilityZone", "AvailabilityZoneId", "AvailableIpAddressCount", "CidrBlock",
        "CustomerOwnedIpv4Pool", "DefaultForAz", "EnableDns64", "EnableLniAtDeviceIndex",
        "Ipv6Native", "MapCustomerOwnedIpOnLaunch", "MapPublicIpOnLaunch", "OutpostArn",
        "OwnerId", "State", "SubnetArn", "SubnetId", "VpcId",
    ),
    # the names EC2 also takes for these
    "availabilityZone": at("AvailabilityZone"),
    "cidr": at("CidrBlock"),
    "cidrBlock": at("CidrBlock"),
    "defaultForAz": at("DefaultForAz"),
    **association_set(
        "Ipv6CidrBlockAssociationSet", "ipv6-cidr-block-association.", "Ipv6CidrBlock",
        "AssociationId", state="Ipv6CidrBlockState",
    ),
    **named(
        "HostnameType", "EnableResourceNameDnsARecord", "EnableResourceNameDnsAAAARecord",
        within=("PrivateDnsNameOptionsOnLaunch",), prefix="private-dns-name-options-on-launch.",
    ),
    **TAGS,
}  # fmt: skip

OPERATIONS: Operations = {
    "CreateSubnet": create_subnet,
    "DescribeSubnets": describer(Describe(SUBNET, "Subnets", "SubnetIds", SUBNET_FILTERS)),
    "DeleteSubnet": delete_subnet,
    "ModifySubnetAttribute": modify_subnet_attribute,
}
