"""Elastic IP addresses and NAT gateways.

Addresses are ``vpc``-domain allocations (``eipalloc-``) with a public IP drawn from
``198.18.0.0/15`` (RFC 2544's benchmarking block: never routed on the internet, so a local address
can never be mistaken for a real one), unique in the account's region.

NAT gateways skip AWS's ``pending`` phase: CreateNatGateway answers ``available`` at once (nothing
is provisioned locally), and DeleteNatGateway answers ``deleted`` at once, skipping ``deleting``.
Otherwise they behave as AWS's: a public NAT gateway needs an unassociated allocation
(Resource.AlreadyAssociated otherwise) and, in a VPC without an attached internet gateway, ends
``failed`` with ``Gateway.NotAttached`` / ``Network vpc-… has no Internet gateway attached`` (the
failure AWS documents for that case). A live gateway takes a private address of its subnet (the
first free one after the four AWS reserves at the start) and holds its allocation's association
(``eipassoc-``) and network interface (``eni-``); deleting it frees both and turns routes through
it into ``blackhole``. Deleted gateways stay visible for an hour, as AWS keeps them.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any

from podwarden.control.aws import ec2_routes
from podwarden.control.aws.ec2_common import (
    ADDRESS,
    INTERNET_GATEWAY,
    NAT_GATEWAY,
    SUBNET,
    Describe,
    Doc,
    Handler,
    create,
    describe,
    epoch_to_datetime,
    fetch,
    find,
    initial_tags,
    invalid,
    missing_parameter,
    new_id,
    project,
    records,
    save,
    unsupported,
)
from podwarden.control.aws.ec2_filters import TAGS, at
from podwarden.control.context import Context
from podwarden.model.errors import ServiceError
from podwarden.store.resources import Record

PUBLIC_POOL = ipaddress.IPv4Network("198.18.0.0/15")
DELETED_VISIBLE_S = 3600.0
RESERVED_AT_START = 4  # network, VPC router, DNS, future use
UNSUPPORTED_NAT = (
    "SecondaryAllocationIds", "SecondaryPrivateIpAddresses", "SecondaryPrivateIpAddressCount",
    "PrivateIpAddress", "AvailabilityZoneAddresses",
)  # fmt: skip
ASSOCIATION_MEMBERS = ("AssociationId", "NetworkInterfaceId", "NetworkInterfaceOwnerId")

# --- addresses --------------------------------------------------------------------------------


def _public_ip(ctx: Context) -> str:
    taken = {r.doc["PublicIp"] for r in records(ctx, ADDRESS)}
    while True:
        host = PUBLIC_POOL.network_address + 1 + secrets.randbelow(PUBLIC_POOL.num_addresses - 2)
        if str(host) not in taken:
            return str(host)


def allocate_address(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    unsupported(params, ("Address", "PublicIpv4Pool", "CustomerOwnedIpv4Pool", "IpamPoolId"))
    domain = params.get("Domain") or "vpc"
    if domain != "vpc":
        raise invalid(f"Value ({domain}) for parameter domain is invalid.")
    border = params.get("NetworkBorderGroup") or ctx.region
    if border != ctx.region:
        raise invalid(f"Value ({border}) for parameter networkBorderGroup is invalid.")
    doc = {
        "AllocationId": new_id("eipalloc"),
        "PublicIp": _public_ip(ctx),
        "Domain": domain,
        "PublicIpv4Pool": "amazon",
        "NetworkBorderGroup": border,
        "Tags": initial_tags(ADDRESS, params),
    }
    create(ctx, ADDRESS, doc)
    return {k: v for k, v in doc.items() if k != "Tags"}


def _address(ctx: Context, params: dict[str, Any]) -> Record:
    """The address an AllocationId or a PublicIp names."""
    if params.get("AllocationId") or not params.get("PublicIp"):
        return fetch(ctx, ADDRESS, params.get("AllocationId"))
    for rec in records(ctx, ADDRESS):
        if rec.doc["PublicIp"] == params["PublicIp"]:
            return rec
    raise ServiceError("InvalidAddress.NotFound", f"Address '{params['PublicIp']}' not found.")


def release_address(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = _address(ctx, params)
    if rec.doc.get("AssociationId"):
        raise ServiceError("InvalidIPAddress.InUse", f"Address {rec.doc['PublicIp']} is in use.")
    ctx.store.resources.delete(rec.kind, rec.scope, rec.key)
    return {}


ADDRESS_FILTERS = {
    "allocation-id": at("AllocationId"),
    "association-id": at("AssociationId"),
    "domain": at("Domain"),
    "instance-id": at("InstanceId"),
    "network-border-group": at("NetworkBorderGroup"),
    "network-interface-id": at("NetworkInterfaceId"),
    "network-interface-owner-id": at("NetworkInterfaceOwnerId"),
    "private-ip-address": at("PrivateIpAddress"),
    "public-ip": at("PublicIp"),
    **TAGS,
}
DESCRIBE_ADDRESSES = Describe(ADDRESS, "Addresses", "AllocationIds", ADDRESS_FILTERS, paged=False)


def describe_addresses(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("PublicIps") or []
    known = {r.doc["PublicIp"] for r in records(ctx, ADDRESS)}
    absent = [ip for ip in wanted if ip not in known]
    if absent:
        raise ServiceError("InvalidAddress.NotFound", f"Address '{absent[0]}' not found.")
    out = describe(ctx, params, DESCRIBE_ADDRESSES)
    if wanted:
        out["Addresses"] = [a for a in out["Addresses"] if a["PublicIp"] in wanted]
    return out


# --- NAT gateways -----------------------------------------------------------------------------


def _allocation(ctx: Context, params: dict[str, Any], connectivity: str) -> Record | None:
    """The free allocation a public NAT gateway takes; None for a private one."""
    if connectivity == "private":
        if params.get("AllocationId"):
            raise ServiceError(
                "InvalidParameterCombination",
                "AllocationId cannot be specified for a NAT gateway with ConnectivityType private",
            )
        return None
    if not params.get("AllocationId"):
        raise missing_parameter("AllocationId")
    rec = fetch(ctx, ADDRESS, params["AllocationId"])
    if rec.doc.get("AssociationId"):
        raise ServiceError(
            "Resource.AlreadyAssociated", f"Elastic IP address [{rec.key}] is already associated"
        )
    return rec


def _private_ip(ctx: Context, subnet: Doc) -> str:
    """The subnet's first address after the reserved ones that no live NAT gateway holds."""
    if not subnet.get("CidrBlock"):
        raise invalid(f"Subnet {subnet['SubnetId']} has no IPv4 CIDR block for a NAT gateway.")
    block = ipaddress.IPv4Network(subnet["CidrBlock"])
    used = {
        a["PrivateIp"]
        for n in records(ctx, NAT_GATEWAY, subnet["VpcId"])
        if n.doc["SubnetId"] == subnet["SubnetId"] and n.doc["State"] == "available"
        for a in n.doc["NatGatewayAddresses"]
    }
    for offset in range(RESERVED_AT_START, block.num_addresses - 1):
        candidate = str(block.network_address + offset)
        if candidate not in used:
            return candidate
    raise ServiceError(
        "InsufficientFreeAddressesInSubnet",
        "Subnet has insufficient free addresses to create this NAT gateway",
    )


def _take_addresses(ctx: Context, subnet: Record, address: Record | None, nat: Doc) -> None:
    """A live gateway's interface: a private address of its subnet and, if public, the EIP."""
    interface = new_id("eni")
    entry: Doc = {
        "NetworkInterfaceId": interface,
        "PrivateIp": _private_ip(ctx, subnet.doc),
        "IsPrimary": True,
        "Status": "succeeded",
    }
    if address is not None:
        entry |= {
            "AllocationId": address.key,
            "PublicIp": address.doc["PublicIp"],
            "AssociationId": new_id("eipassoc"),
        }
        address.doc |= {
            "AssociationId": entry["AssociationId"],
            "NetworkInterfaceId": interface,
            "NetworkInterfaceOwnerId": ctx.account,
            "PrivateIpAddress": entry["PrivateIp"],
        }
        save(ctx, address)
    nat["NatGatewayAddresses"] = [entry]
    subnet.doc["AvailableIpAddressCount"] -= 1
    save(ctx, subnet)


def create_nat_gateway(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    unsupported(params, UNSUPPORTED_NAT)
    subnet = fetch(ctx, SUBNET, params.get("SubnetId"))
    connectivity = params.get("ConnectivityType") or "public"
    address = _allocation(ctx, params, connectivity)
    vpc_id = subnet.doc["VpcId"]
    nat: Doc = {
        "NatGatewayId": new_id("nat"),
        "VpcId": vpc_id,
        "SubnetId": subnet.key,
        "ConnectivityType": connectivity,
        "State": "available",
        "CreateTime": ctx.now(),
        "NatGatewayAddresses": [],
        "Tags": initial_tags(NAT_GATEWAY, params),
    }
    if connectivity == "public" and not records(ctx, INTERNET_GATEWAY, vpc_id):
        nat |= {
            "State": "failed",
            "FailureCode": "Gateway.NotAttached",
            "FailureMessage": f"Network {vpc_id} has no Internet gateway attached",
        }
    else:
        _take_addresses(ctx, subnet, address, nat)
    create(ctx, NAT_GATEWAY, nat, vpc_id)
    return ec2_routes.with_token({"NatGateway": project_nat(nat)}, params)


def _release(ctx: Context, nat: Doc) -> None:
    """Give back what a live gateway holds: its EIP association and its subnet address."""
    for entry in nat["NatGatewayAddresses"]:
        address = find(ctx, ADDRESS, entry.get("AllocationId", ""))
        if address is not None:
            for member in (*ASSOCIATION_MEMBERS, "PrivateIpAddress"):
                address.doc.pop(member, None)
            save(ctx, address)
    subnet = find(ctx, SUBNET, nat["SubnetId"])
    if subnet is not None and nat["NatGatewayAddresses"]:
        subnet.doc["AvailableIpAddressCount"] += 1
        save(ctx, subnet)


def delete_nat_gateway(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, NAT_GATEWAY, params.get("NatGatewayId"))
    if rec.doc["State"] != "deleted":
        if rec.doc["State"] == "available":
            _release(ctx, rec.doc)
        rec.doc |= {"State": "deleted", "DeleteTime": ctx.now()}
        save(ctx, rec)
        ec2_routes.set_route_state(ctx, rec.parent, "NatGatewayId", rec.key, "blackhole")
    return {"NatGatewayId": rec.key}


def project_nat(doc: Doc) -> Doc:
    times = {k: epoch_to_datetime(doc[k]) for k in ("CreateTime", "DeleteTime") if k in doc}
    return project(doc) | times


def _visible(ctx: Context, rec: Record) -> bool:
    deleted = rec.doc.get("DeleteTime")
    return deleted is None or ctx.now() - deleted < DELETED_VISIBLE_S


NAT_FILTERS = {
    "nat-gateway-id": at("NatGatewayId"),
    "state": at("State"),
    "subnet-id": at("SubnetId"),
    "vpc-id": at("VpcId"),
    **TAGS,
}
DESCRIBE_NATS = Describe(
    NAT_GATEWAY,
    "NatGateways",
    "NatGatewayIds",
    NAT_FILTERS,
    filter_member="Filter",
    project=project_nat,
    visible=_visible,
)


def describe_nat_gateways(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return describe(ctx, params, DESCRIBE_NATS)


OPERATIONS: dict[str, Handler] = {
    "AllocateAddress": allocate_address,
    "ReleaseAddress": release_address,
    "DescribeAddresses": describe_addresses,
    "CreateNatGateway": create_nat_gateway,
    "DescribeNatGateways": describe_nat_gateways,
    "DeleteNatGateway": delete_nat_gateway,
}
