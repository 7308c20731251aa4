"""Subnets and Availability Zones.

CreateSubnet checks the block as EC2 does: a valid CIDR (InvalidParameterValue), /16 to /28 and
inside a block of the VPC (InvalidSubnet.Range), not overlapping a sibling (InvalidSubnet.Conflict);
IPv6 blocks are /64s of the VPC's /56. Without a zone, the zone with the fewest subnets of the VPC
is chosen (AWS picks one for you). ``AvailableIpAddressCount`` is the block's size minus the five
addresses AWS reserves, minus one per NAT gateway in the subnet.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from typing import Any

from podwarden.control.aws import ec2_routes
from podwarden.control.aws.ec2_common import (
    LIVE_NAT_STATES,
    NAT_GATEWAY,
    SUBNET,
    VPC,
    Describe,
    Doc,
    Handler,
    IPv4,
    IPv6,
    arn,
    create,
    dependency,
    describer,
    fetch,
    initial_tags,
    invalid,
    ipv4_block,
    ipv6_block,
    new_id,
    project,
    records,
    remove,
    save,
    unsupported,
)
from podwarden.control.aws.ec2_filters import TAGS, at, select
from podwarden.control.context import Context
from podwarden.model.errors import ServiceError
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
        raise invalid(
            f"Value ({wanted}) for parameter {param} is invalid. Subnets can currently only be "
            f"created in the following availability zones: {names}."
        )
    used = Counter(r.doc["AvailabilityZone"] for r in records(ctx, SUBNET, vpc_id))
    return min(choices, key=lambda z: used[z.name])


def _ipv4(params: dict[str, Any], vpc: Doc, siblings: list[Doc]) -> IPv4 | None:
    if not params.get("CidrBlock"):
        if params.get("Ipv6Native"):
            return None
        raise ServiceError(
            "MissingParameter", "Either 'cidrBlock' or 'ipv6CidrBlock' should be provided."
        )
    block = ipv4_block(params["CidrBlock"], "cidrBlock")
    vpc_blocks = [ipaddress.IPv4Network(a["CidrBlock"]) for a in vpc["CidrBlockAssociationSet"]]
    if not 16 <= block.prefixlen <= 28 or not any(block.subnet_of(b) for b in vpc_blocks):
        raise ServiceError("InvalidSubnet.Range", f"The CIDR '{params['CidrBlock']}' is invalid.")
    if any(s.get("CidrBlock") and block.overlaps(IPv4(s["CidrBlock"])) for s in siblings):
        raise ServiceError(
            "InvalidSubnet.Conflict",
            f"The CIDR '{params['CidrBlock']}' conflicts with another subnet",
        )
    return block


def _ipv6(params: dict[str, Any], vpc: Doc, siblings: list[Doc]) -> IPv6 | None:
    if not params.get("Ipv6CidrBlock"):
        if params.get("Ipv6Native"):
            raise ServiceError(
                "MissingParameter", "The request must contain the parameter ipv6CidrBlock"
            )
        return None
    text = params["Ipv6CidrBlock"]
    block = ipv6_block(text, "ipv6CidrBlock")
    vpc_blocks = [IPv6(a["Ipv6CidrBlock"]) for a in vpc.get("Ipv6CidrBlockAssociationSet", [])]
    if block.prefixlen != 64 or not any(block.subnet_of(b) for b in vpc_blocks):
        raise ServiceError("InvalidSubnet.Range", f"The CIDR '{text}' is invalid.")
    taken = [IPv6(a["Ipv6CidrBlock"]) for s in siblings for a in s["Ipv6CidrBlockAssociationSet"]]
    if any(block.overlaps(t) for t in taken):
        raise ServiceError(
            "InvalidSubnet.Conflict", f"The CIDR '{text}' conflicts with another subnet"
        )
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
    siblings = [r.doc for r in records(ctx, SUBNET, vpc["VpcId"])]
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
    nats = records(ctx, NAT_GATEWAY, rec.parent)
    if any(n.doc["SubnetId"] == rec.key and n.doc["State"] in LIVE_NAT_STATES for n in nats):
        raise dependency("subnet", rec.key)
    ec2_routes.forget_subnet(ctx, rec.parent, rec.key)
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
        raise ServiceError(
            "InvalidParameterCombination",
            f"Only one subnet attribute can be modified at a time. Provided attributes: [{names}]",
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
    "availability-zone": at("AvailabilityZone"),
    "availabilityZone": at("AvailabilityZone"),
    "availability-zone-id": at("AvailabilityZoneId"),
    "available-ip-address-count": at("AvailableIpAddressCount"),
    "cidr-block": at("CidrBlock"),
    "cidr": at("CidrBlock"),
    "cidrBlock": at("CidrBlock"),
    "customer-owned-ipv4-pool": at("CustomerOwnedIpv4Pool"),
    "default-for-az": at("DefaultForAz"),
    "defaultForAz": at("DefaultForAz"),
    "enable-dns64": at("EnableDns64"),
    "enable-lni-at-device-index": at("EnableLniAtDeviceIndex"),
    "ipv6-cidr-block-association.ipv6-cidr-block": at(
        "Ipv6CidrBlockAssociationSet", "Ipv6CidrBlock"
    ),
    "ipv6-cidr-block-association.association-id": at(
        "Ipv6CidrBlockAssociationSet", "AssociationId"
    ),
    "ipv6-cidr-block-association.state": at(
        "Ipv6CidrBlockAssociationSet", "Ipv6CidrBlockState", "State"
    ),
    "ipv6-native": at("Ipv6Native"),
    "map-customer-owned-ip-on-launch": at("MapCustomerOwnedIpOnLaunch"),
    "map-public-ip-on-launch": at("MapPublicIpOnLaunch"),
    "outpost-arn": at("OutpostArn"),
    "owner-id": at("OwnerId"),
    "private-dns-name-options-on-launch.hostname-type": at(
        "PrivateDnsNameOptionsOnLaunch", "HostnameType"
    ),
    "private-dns-name-options-on-launch.enable-resource-name-dns-a-record": at(
        "PrivateDnsNameOptionsOnLaunch", "EnableResourceNameDnsARecord"
    ),
    "private-dns-name-options-on-launch.enable-resource-name-dns-aaaa-record": at(
        "PrivateDnsNameOptionsOnLaunch", "EnableResourceNameDnsAAAARecord"
    ),
    "state": at("State"),
    "subnet-arn": at("SubnetArn"),
    "subnet-id": at("SubnetId"),
    "vpc-id": at("VpcId"),
    **TAGS,
}

# --- Availability Zones -----------------------------------------------------------------------


def _zone_doc(zone: Zone) -> Doc:
    return {
        "ZoneName": zone.name,
        "ZoneId": zone.zone_id,
        "RegionName": zone.region,
        "State": "available",
        "OptInStatus": "opt-in-not-required",
        "Messages": [],
        "GroupName": zone.region,
        "GroupLongName": zone.region,
        "NetworkBorderGroup": zone.region,
        "ZoneType": "availability-zone",
    }


ZONE_FILTERS = {
    "group-long-name": at("GroupLongName"),
    "group-name": at("GroupName"),
    "message": at("Messages", "Message"),
    "opt-in-status": at("OptInStatus"),
    "parent-zone-id": at("ParentZoneId"),
    "parent-zone-name": at("ParentZoneName"),
    "region-name": at("RegionName"),
    "state": at("State"),
    "zone-id": at("ZoneId"),
    "zone-name": at("ZoneName"),
    "zone-type": at("ZoneType"),
}


def describe_availability_zones(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    docs = [_zone_doc(z) for z in zones(ctx.region)]
    for member, key in (("ZoneNames", "ZoneName"), ("ZoneIds", "ZoneId")):
        wanted = params.get(member) or []
        unknown = [w for w in wanted if w not in {d[key] for d in docs}]
        if unknown:
            raise invalid(f"Invalid availability zone: [{', '.join(unknown)}]")
        if wanted:
            docs = [d for d in docs if d[key] in wanted]
    return {"AvailabilityZones": select(docs, params.get("Filters"), ZONE_FILTERS)}


OPERATIONS: dict[str, Handler] = {
    "CreateSubnet": create_subnet,
    "DescribeSubnets": describer(Describe(SUBNET, "Subnets", "SubnetIds", SUBNET_FILTERS)),
    "DeleteSubnet": delete_subnet,
    "ModifySubnetAttribute": modify_subnet_attribute,
    "DescribeAvailabilityZones": describe_availability_zones,
}
